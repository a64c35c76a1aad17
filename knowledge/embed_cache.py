"""On-disk embedding cache keyed by (embedder name, max length, text hash).

Embedding a corpus dominates index build time, so vectors are kept under
``<data_dir>/cache/embeddings/`` and reused by rebuilds, incremental adds and benchmarks.
Vectors are appended in shards written atomically, so a killed build keeps what it finished.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from knowledge.embedding import Embedder

SHARD_SIZE = 512


def text_key(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


class CachedEmbedder:
    """An Embedder that looks texts up in the cache before encoding the missing ones."""

    def __init__(self, inner: Embedder, cache_dir: Path) -> None:
        self.inner = inner
        self.name = inner.name
        self.dimension = inner.dimension
        max_len = getattr(inner, "max_seq_length", "")
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{inner.name}-{max_len}-{inner.dimension}")
        self.dir = Path(cache_dir) / slug
        self._mem: dict[str, np.ndarray] | None = None
        self.hits = 0
        self.misses = 0

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def count_tokens_batch(self, texts: list[str]) -> list[int]:
        batch = getattr(self.inner, "count_tokens_batch", None)
        return batch(texts) if batch else [self.inner.count_tokens(t) for t in texts]

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """Queries bypass the cache: each is seen once, and a shard per query would only grow the disk."""
        from knowledge.embedding import encode_queries

        return encode_queries(self.inner, texts)

    def _load(self) -> dict[str, np.ndarray]:
        import numpy as np

        if self._mem is None:
            self._mem = {}
            for shard in sorted(self.dir.glob("*.npz")):
                try:
                    with np.load(shard) as z:
                        keys, vecs = z["keys"], z["vecs"]
                except Exception:  # a damaged shard only costs re-encoding
                    continue
                if vecs.ndim != 2 or vecs.shape[1] != self.dimension:
                    continue
                for k, v in zip(keys.tolist(), vecs, strict=True):
                    self._mem[k] = v
        return self._mem

    def _save(self, keys: list[str], vecs: np.ndarray) -> None:
        import numpy as np

        self.dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.dir, suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            np.savez(f, keys=np.array(keys), vecs=vecs.astype(np.float32))
        name = f"{len(list(self.dir.glob('*.npz'))):06d}-{keys[0][:12]}.npz"
        os.replace(tmp, self.dir / name)

    def encode(self, texts: list[str], *, show_progress: bool = False) -> np.ndarray:
        import numpy as np

        mem = self._load()
        keys = [text_key(t) for t in texts]
        missing: dict[str, str] = {}
        for k, t in zip(keys, texts, strict=True):
            if k not in mem and k not in missing:
                missing[k] = t
        self.hits += len(texts) - len(missing)
        self.misses += len(missing)
        if missing:
            items = list(missing.items())
            progress = None
            if show_progress and len(items) > SHARD_SIZE:
                from tqdm.auto import tqdm

                progress = tqdm(total=len(items), desc="embedding", unit="text")
            for start in range(0, len(items), SHARD_SIZE):
                part = items[start : start + SHARD_SIZE]
                vecs = self.inner.encode([t for _, t in part], show_progress=show_progress and progress is None)
                self._save([k for k, _ in part], vecs)
                for (k, _), v in zip(part, vecs, strict=True):
                    mem[k] = v
                if progress is not None:
                    progress.update(len(part))
            if progress is not None:
                progress.close()
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([mem[k] for k in keys]).astype(np.float32)
