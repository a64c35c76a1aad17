"""A learned linear map on query vectors, trained on the indexed corpus's own question/answer pairs.

The embedder stays frozen; only queries move: ``q' = normalize(q + q W)`` with ``W`` a
``dim x dim`` matrix that starts at zero (so an untrained adapter is the identity) and is
pulled back toward zero by weight decay. It is trained with an InfoNCE loss where a stored
question (its vector is already in the index) must pick its own document's dense vector out of
every document's dense vector. Nothing but the corpus is used, so it can be (re)trained for an
existing index in seconds without re-embedding anything.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from knowledge.errors import KnowledgeError

if TYPE_CHECKING:
    import numpy as np
    import torch

ADAPTER_FILE = "query_adapter.npy"
MIN_PAIRS = 500  # fewer stored questions than this: too little to learn a 384x384 map from


@dataclass(frozen=True)
class AdapterConfig:
    """How the adapter is trained (defaults chosen on held-out MedQuAD questions, not on LiveQA)."""

    epochs: int = 6
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 0.0
    temperature: float = 0.1
    holdout: float = 0.1  # share of title groups kept out of training, for early stopping
    seed: int = 0

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 2:
            raise KnowledgeError("adapter training needs epochs >= 1 and batch_size >= 2")
        if not 0.0 <= self.holdout < 0.5:
            raise KnowledgeError("adapter holdout must be in [0, 0.5)")
        if self.temperature <= 0 or self.lr <= 0:
            raise KnowledgeError("adapter temperature and lr must be positive")


@dataclass(frozen=True)
class AdapterReport:
    pairs: int
    train_pairs: int
    heldout_pairs: int
    best_epoch: int
    heldout_mrr_before: float  # held-out question -> own document, among every document
    heldout_mrr_after: float
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class QueryAdapter:
    """Applies ``normalize(q + q W)`` to query vectors (rows)."""

    def __init__(self, matrix: np.ndarray) -> None:
        import numpy as np

        m = np.asarray(matrix, dtype=np.float32)
        if m.ndim != 2 or m.shape[0] != m.shape[1] or not np.isfinite(m).all():
            raise KnowledgeError(f"query adapter matrix must be a finite square matrix, got shape {m.shape}")
        self.matrix = np.ascontiguousarray(m)

    @property
    def dimension(self) -> int:
        return int(self.matrix.shape[0])

    def apply(self, vectors: np.ndarray) -> np.ndarray:
        import numpy as np

        q = np.asarray(vectors, dtype=np.float32)
        # einsum rather than BLAS: a handful of query rows, and BLAS threads only spin on a small CPU.
        out = q + np.einsum("nd,de->ne", q, self.matrix)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return np.ascontiguousarray(out / np.maximum(norms, 1e-12), dtype=np.float32)

    def save(self, path: Path) -> None:
        """Atomic write: a temporary file in the same directory, then a rename."""
        import numpy as np

        path = Path(path)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                np.save(f, self.matrix)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: Path) -> QueryAdapter:
        import numpy as np

        try:
            matrix = np.load(Path(path), allow_pickle=False)
        except (ValueError, OSError) as err:
            raise KnowledgeError(
                f"query adapter {path} is unreadable ({' '.join(str(err).split())[:120]}): retrain it with "
                "`python -m knowledge adapt --index DIR`"
            ) from None
        return cls(matrix)


def corpus_pairs(
    docs: list[dict[str, Any]], chunks: list[dict[str, Any]], question_vecs: np.ndarray, chunk_vecs: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(queries, positives, pool, groups) for :func:`train_adapter` from an index's stored arrays.

    Queries are the stored questions; the pool holds every document's first chunk (its heading
    and opening, and the row a ``lead`` index searches); groups are title groups.
    """
    import numpy as np

    first = np.full(len(docs), -1, dtype=np.int64)
    for i, c in enumerate(chunks):
        if c["p"] == 0 and first[c["d"]] < 0:
            first[c["d"]] = i
    pool_docs = np.flatnonzero(first >= 0)
    row_in_pool = np.full(len(docs), -1, dtype=np.int64)
    row_in_pool[pool_docs] = np.arange(len(pool_docs))
    with_q = np.array([i for i, d in enumerate(docs) if d.get("question") and first[i] >= 0], dtype=np.int64)
    keys = [" ".join(str(docs[i].get("title", "")).lower().split()) or f"#{i}" for i in with_q.tolist()]
    ids: dict[str, int] = {}
    groups = np.array([ids.setdefault(k, len(ids)) for k in keys], dtype=np.int64)
    dim = chunk_vecs.shape[1] if chunk_vecs.ndim == 2 else 0
    queries = np.asarray(question_vecs[with_q], dtype=np.float32).reshape(-1, dim)
    pool = np.asarray(chunk_vecs[first[pool_docs]], dtype=np.float32).reshape(-1, dim)
    return queries, row_in_pool[with_q], pool, groups


def train_adapter(
    queries: np.ndarray,
    positives: np.ndarray,
    pool: np.ndarray,
    groups: np.ndarray,
    config: AdapterConfig | None = None,
) -> tuple[QueryAdapter, AdapterReport]:
    """Fit ``W`` so that ``queries[i]`` ranks ``pool[positives[i]]`` first among all of ``pool``.

    ``queries``: (n, d) question vectors; ``positives``: (n,) row of each one's document in
    ``pool`` (m, d); ``groups``: (n,) title group of each pair, so that held-out questions are
    about entities never trained on (sibling sections share their answers' wording).
    """
    import time

    import numpy as np
    import torch

    cfg = config or AdapterConfig()
    started = time.perf_counter()
    n, _dim = queries.shape
    if n < 2 or len(positives) != n or len(groups) != n:
        raise KnowledgeError("adapter training needs at least two question/answer pairs")
    train_idx, held_idx = _holdout_split(groups, cfg)
    if len(train_idx) < 2:
        raise KnowledgeError("adapter training needs at least two training pairs after the hold-out")

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small matrices; more threads only fight other work on a small CPU
    try:
        q_all = torch.from_numpy(np.ascontiguousarray(queries, dtype=np.float32))
        p_all = torch.from_numpy(np.ascontiguousarray(pool, dtype=np.float32))
        pos = torch.from_numpy(np.asarray(positives, dtype=np.int64))
        before, best, best_epoch, matrix = _fit_weight(q_all, p_all, pos, train_idx, held_idx, cfg)
    finally:
        torch.set_num_threads(threads)
    report = AdapterReport(
        pairs=n,
        train_pairs=len(train_idx),
        heldout_pairs=len(held_idx),
        best_epoch=best_epoch,
        heldout_mrr_before=round(before, 4),
        heldout_mrr_after=round(best if len(held_idx) else before, 4),
        seconds=round(time.perf_counter() - started, 2),
    )
    return QueryAdapter(matrix), report


def _holdout_split(groups: np.ndarray, cfg: AdapterConfig) -> tuple[np.ndarray, np.ndarray]:
    """Training and held-out pair rows; whole title groups are held out, never single pairs."""
    import numpy as np

    rng = np.random.default_rng(cfg.seed)
    uniq = np.unique(groups)
    held_groups = rng.permutation(uniq)[: round(cfg.holdout * len(uniq))]
    held = np.isin(groups, held_groups)
    return np.flatnonzero(~held), np.flatnonzero(held)


def _adapted(q: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    import torch

    return torch.nn.functional.normalize(q + q @ weight, dim=1)


def _heldout_mrr(
    q_all: torch.Tensor, p_all: torch.Tensor, pos: torch.Tensor, held_idx: np.ndarray, weight: torch.Tensor | None
) -> float:
    """Mean reciprocal rank of each held-out question's own document (``weight`` None: unadapted)."""
    import torch

    if not len(held_idx):
        return float("nan")
    with torch.no_grad():
        q = q_all[held_idx]
        q = _adapted(q, weight) if weight is not None else q
        scores = q @ p_all.T
        own = scores.gather(1, pos[held_idx].unsqueeze(1))
        rank = (scores > own).sum(dim=1) + 1
        return float((1.0 / rank.float()).mean())


def _fit_weight(
    q_all: torch.Tensor,
    p_all: torch.Tensor,
    pos: torch.Tensor,
    train_idx: np.ndarray,
    held_idx: np.ndarray,
    cfg: AdapterConfig,
) -> tuple[float, float, int, np.ndarray]:
    """Train ``W``, keeping the epoch with the best held-out MRR: (MRR before, best MRR, its epoch, W)."""
    import torch

    dim = q_all.shape[1]
    gen = torch.Generator().manual_seed(cfg.seed)
    weight = torch.zeros(dim, dim, requires_grad=True)
    opt = torch.optim.AdamW([weight], lr=cfg.lr, weight_decay=cfg.weight_decay)
    before = _heldout_mrr(q_all, p_all, pos, held_idx, None)
    best, best_epoch, best_w = before, 0, weight.detach().clone()
    tr = torch.from_numpy(train_idx)
    for epoch in range(1, cfg.epochs + 1):
        order = tr[torch.randperm(len(tr), generator=gen)]
        for start in range(0, len(order), cfg.batch_size):
            batch = order[start : start + cfg.batch_size]
            # Every document is a negative: a full softmax over the pool is cheap at this size.
            logits = _adapted(q_all[batch], weight) @ p_all.T / cfg.temperature
            loss = torch.nn.functional.cross_entropy(logits, pos[batch])
            opt.zero_grad()
            loss.backward()
            opt.step()
        score = _heldout_mrr(q_all, p_all, pos, held_idx, weight) if len(held_idx) else -float(epoch)
        if not len(held_idx) or score > best:
            best, best_epoch, best_w = score, epoch, weight.detach().clone()
    return before, best, best_epoch, best_w.numpy()


def report_json(report: AdapterReport) -> str:
    return json.dumps(report.as_dict(), sort_keys=True)
