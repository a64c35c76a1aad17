"""Embedders: one protocol, a sentence-transformers backend and a deterministic mock."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np

    from chatbot.settings import EmbeddingSettings


@runtime_checkable
class Embedder(Protocol):
    name: str
    dimension: int

    def encode(self, texts: list[str], *, show_progress: bool = False) -> np.ndarray:
        """L2-normalised float32 matrix, one row per text."""
        ...

    def count_tokens(self, text: str) -> int: ...


_WORD = re.compile(r"[a-z0-9]+")


class MockEmbedder:
    """Hashed bag of words (with crude suffix stripping): deterministic, fast, and close
    enough to lexical similarity that retrieval tests behave sensibly."""

    def __init__(self, dimension: int = 384) -> None:
        self.dimension = dimension
        self.name = f"mock-{dimension}"

    def _bucket(self, token: str) -> int:
        return int.from_bytes(hashlib.blake2b(token.encode(), digest_size=8).digest(), "little") % self.dimension

    def encode(self, texts: list[str], *, show_progress: bool = False) -> np.ndarray:
        import numpy as np

        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for i, text in enumerate(texts):
            for tok in _WORD.findall(text.lower()):
                stem = tok[:6]
                out[i, self._bucket(stem)] += 1.0
            norm = float(np.linalg.norm(out[i]))
            if norm > 0:
                out[i] /= norm
        return out

    def count_tokens(self, text: str) -> int:
        return len(_WORD.findall(text.lower()))


def build_embedder(settings: EmbeddingSettings, *, cache_dir: Path | None = None) -> Embedder:
    """The embedder chosen by ``settings.mode``; heavy imports happen only for real backends.

    ``cache_dir`` (``<data_dir>/cache``) lets a real embedder keep its ONNX query encoder there.
    """
    if settings.mode == "mock":
        return MockEmbedder(settings.dimension)
    if settings.backend != "torch":
        from knowledge.onnx_embedder import OnnxEmbedder

        return OnnxEmbedder(
            settings, settings.backend, cache_dir=None if cache_dir is None else Path(cache_dir) / "onnx"
        )
    from knowledge.st_embedder import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(settings, cache_dir=None if cache_dir is None else Path(cache_dir) / "onnx")


def encode_queries(embedder: Embedder, texts: list[str]) -> np.ndarray:
    """Query vectors: the embedder's query path when it has one (shorter window, faster backend)."""
    fast = getattr(embedder, "encode_queries", None)
    return fast(texts) if callable(fast) else embedder.encode(texts)
