"""The hybrid retriever: dense passages + stored questions + titles + BM25, fused per chunk.

Signals, each on a 0..1-ish scale so one absolute threshold means "nothing relevant":

- ``dense``: cosine of the query and a chunk's embedding text (heading + passage); with
  ``knowledge.query_adapter`` on and an index that has one, the query first goes through the
  index's learned query adapter (``knowledge.query_adapter``, off by default);
- ``question``: cosine of the query and the document's stored question (QA corpora), or the
  best of its example questions (``knowledge.examples``: starter topics list what they answer);
- ``title``: cosine of the query and the document's title / focus entity;
- ``bm25``: the chunk's BM25 score divided by the best score each query term can reach in
  this corpus, so it says "how much of the query's weight this chunk matches".

Long consumer messages are also reduced to their question (``knowledge.query_reduce``); each
dense signal takes the better of the full and reduced forms. A chunk's fused score is the
weighted sum; a document is as good as its best chunk; near-duplicate chunks of one document
are collapsed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from knowledge.corpus import bm25_query_tokens, check_embedder, read_corpus
from knowledge.documents import Chunk, Hit
from knowledge.embedding import encode_queries
from knowledge.errors import KnowledgeError
from knowledge.examples import example_docs
from knowledge.manifest import Manifest
from knowledge.query_adapter import ADAPTER_FILE, QueryAdapter
from knowledge.query_reduce import reduce_question

if TYPE_CHECKING:
    import numpy as np

    from chatbot.settings import KnowledgeSettings
    from knowledge.embedding import Embedder

MAX_QUERY_CHARS = 20_000  # beyond this only the reduced question and a prefix are used
_WORDS = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class FusionWeights:
    """Weights of the fused score (sum to 1, so the fused score stays on the cosine scale)."""

    # Chosen by the first session on all 51 LiveQA dev questions from a coarse grid. A re-tune
    # on half A only (TQ1, TQ5, ...; dense 0.4, question 0.05, title 0.3, BM25 0.25, focus share
    # 0.15, the centre of a flat half-A plateau) reached 1.25x dense on A but 0.93x on held-out
    # half B, so it was not adopted: the held-out half rejected it (see README, "Knowledge base").
    dense: float = 0.6
    question: float = 0.1
    title: float = 0.1
    bm25: float = 0.2

    def as_dict(self) -> dict[str, float]:
        return {f.name: float(getattr(self, f.name)) for f in fields(self)}


@dataclass(frozen=True)
class SearchOptions:
    candidates: int = 200  # dense chunk hits and per-signal top documents considered
    max_chunks_per_doc: int = 2
    duplicate_jaccard: float = 0.5  # chunks of one document this similar to a kept one are dropped
    # Only messages longer than the embedder's window get a reduced form: on LiveQA, embedding
    # the whole (subject + message) text beat adding the reduced question.
    reduce_over_words: int = 200
    rrf_k: int = 60
    # A document shares this much of the best score among documents with the same title/focus:
    # consumer questions are about an entity first, so its sibling sections gain evidence.
    focus_share: float = 0.3


def _jaccard(a: str, b: str) -> float:
    sa, sb = set(_WORDS.findall(a.lower())), set(_WORDS.findall(b.lower()))
    if not sa or not sb:
        return 0.0
    return len(sa & sb) / len(sa | sb)


class HybridRetriever:
    """Implements ``knowledge.retrieval.Retriever`` over an index directory."""

    def __init__(
        self,
        manifest: Manifest,
        corpus: Any,
        faiss_index: Any,
        bm25: Any,
        embedder: Embedder,
        *,
        fusion: str = "weighted",
        weights: FusionWeights | None = None,
        options: SearchOptions | None = None,
    ) -> None:
        import numpy as np

        self.manifest = manifest
        self.embedder = embedder
        self.fusion = fusion
        self.weights = weights or FusionWeights()
        self.options = options or SearchOptions()
        # Set by open() when the index has a query adapter and the setting allows it. It moves only
        # the passage signal: on LiveQA half A, adapting the title and question signals scored lower.
        self.adapter: QueryAdapter | None = None
        self.adapter_signals: tuple[str, ...] = ("dense",)
        self.docs: list[dict[str, Any]] = corpus.docs
        self.chunk_rows: list[dict[str, Any]] = corpus.chunks
        self._doc_index = {str(d["id"]): i for i, d in enumerate(self.docs)}
        self.chunk_vecs: np.ndarray = corpus.chunk_vecs
        self.question_vecs: np.ndarray = corpus.question_vecs
        self.title_vecs: np.ndarray = corpus.title_vecs
        self.has_question = np.array([bool(d.get("question")) for d in self.docs], dtype=bool)
        dim0 = corpus.chunk_vecs.shape[1] if corpus.chunk_vecs.ndim == 2 else 0
        examples = getattr(corpus, "example_vecs", None)
        self.example_vecs: np.ndarray = examples if examples is not None else np.zeros((0, dim0), np.float32)
        self.example_doc: np.ndarray = example_docs(self.docs)
        self.doc_of_chunk = np.array([c["d"] for c in self.chunk_rows], dtype=np.int64)
        # Chunks of document d are _doc_chunks[_doc_ptr[d]:_doc_ptr[d + 1]] (CSR, for vectorised gathers).
        self._doc_chunks = np.argsort(self.doc_of_chunk, kind="stable")
        self._doc_ptr = np.searchsorted(self.doc_of_chunk[self._doc_chunks], np.arange(len(self.docs) + 1))
        self.index = faiss_index
        self.dense_rows: np.ndarray = corpus.dense_rows
        self.bm25 = bm25
        self._term_max = self._bm25_term_max()
        # Documents sharing a title/focus form a group; an untitled document is its own group.
        keys = [" ".join(str(d.get("title", "")).lower().split()) for d in self.docs]
        ids: dict[str, int] = {}
        self._focus_id = np.array(
            [ids.setdefault(k, len(ids)) if k else -1 - i for i, k in enumerate(keys)], dtype=np.int64
        )
        self._build_candidate_indexes()

    @property
    def chunks_of_doc(self) -> list[list[int]]:
        return [self._doc_chunks[a:b].tolist() for a, b in zip(self._doc_ptr[:-1], self._doc_ptr[1:], strict=True)]

    def document_lead(self, doc_id: str) -> str:
        """A document's title and first chunk: what the document as a whole is about ("Sprains
        often happen in the ankle..."), for passages of it that do not repeat the word."""
        d = self._doc_index.get(doc_id)
        if d is None:
            return ""
        first = self._doc_chunks[self._doc_ptr[d] : self._doc_ptr[d + 1]]
        text = min((self.chunk_rows[int(i)] for i in first), key=lambda r: r["p"])["text"] if len(first) else ""
        return f"{self.docs[d].get('title', '')}\n{text}"

    def _build_candidate_indexes(self) -> None:
        """Half-precision copies for finding candidates: a third of the memory traffic of exact scans.

        Candidates are rescored exactly from the float32 vectors, so the rounding can only move a
        document across the edge of the candidate pool, never change a score.
        """
        import numpy as np

        dim = self.chunk_vecs.shape[1] if self.chunk_vecs.ndim == 2 else 0
        self._dense_fast: Any = None
        if type(self.index).__name__ == "IndexFlatIP" and self.dense_rows is not None and len(self.dense_rows):
            self._dense_fast = _fp16_index(self.chunk_vecs[self.dense_rows])
        self._question_docs = np.flatnonzero(self.has_question)
        self._question_fast = _fp16_index(self.question_vecs[self._question_docs]) if dim else None
        # Many documents share a title (one per MedQuAD section): search each distinct title once.
        if len(self.docs) and dim:
            rows = np.ascontiguousarray(self.title_vecs, dtype=np.float32)
            # Rows as opaque byte strings: a 1-D unique is ~10x faster than np.unique(axis=0).
            as_bytes = rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1]))).ravel()
            _, first, inverse = np.unique(as_bytes, return_index=True, return_inverse=True)
            inverse = inverse.reshape(-1)
            uniq = rows[first]
            self._title_docs = np.argsort(inverse, kind="stable")
            self._title_ptr = np.searchsorted(inverse[self._title_docs], np.arange(len(uniq) + 1))
            self._title_fast = _fp16_index(np.ascontiguousarray(uniq, dtype=np.float32))
        else:
            self._title_fast = None

    def _docs_chunks(self, docs: np.ndarray) -> np.ndarray:
        """All chunk ids of ``docs`` (sorted), via the CSR arrays."""
        import numpy as np

        return np.sort(_csr_gather(self._doc_ptr, self._doc_chunks, docs))

    # ------------------------------------------------------------------ loading

    @classmethod
    def open(cls, index_dir: Path, embedder: Embedder, knowledge: KnowledgeSettings | None = None) -> HybridRetriever:
        import bm25s
        import faiss

        manifest = Manifest.read(index_dir)
        check_embedder(manifest, embedder, index_dir)
        manifest, corpus = read_corpus(index_dir, manifest)
        try:
            index = faiss.read_index(str(index_dir / "dense.faiss"))
            bm25 = bm25s.BM25.load(str(index_dir / "bm25"), show_progress=False)
        except Exception as err:
            raise KnowledgeError(
                f"index at {index_dir} is corrupt ({' '.join(str(err).split())[:200]}): rebuild it"
            ) from None
        if corpus.dense_rows is None or index.ntotal != len(corpus.dense_rows) or index.d != manifest.dimension:
            raise KnowledgeError(f"FAISS index in {index_dir} does not match its manifest: rebuild it")
        if hasattr(index, "nprobe"):
            index.nprobe = max(1, min(getattr(index, "nlist", 1), 16))
        if hasattr(index, "hnsw"):
            index.hnsw.efSearch = 128
        fusion = knowledge.fusion if knowledge is not None else "weighted"
        retriever = cls(manifest, corpus, index, bm25, embedder, fusion=fusion)
        if ADAPTER_FILE in manifest.files and (knowledge is None or knowledge.query_adapter):
            # Listed in the manifest, so read_corpus has already checked it exists with its checksum.
            adapter = QueryAdapter.load(index_dir / ADAPTER_FILE)
            if adapter.dimension != manifest.dimension:
                raise KnowledgeError(
                    f"query adapter in {index_dir} is {adapter.dimension}-dimensional, the index "
                    f"{manifest.dimension}: retrain it with `python -m knowledge adapt --index {index_dir}`"
                )
            retriever.adapter = adapter
        return retriever

    def _bm25_term_max(self) -> np.ndarray:
        """Best score each vocabulary term reaches in any chunk (for a corpus-relative scale)."""
        import numpy as np

        scores = getattr(self.bm25, "scores", None) or {}
        data, indptr = scores.get("data"), scores.get("indptr")
        if data is None or indptr is None or len(indptr) < 2:
            return np.zeros(0, dtype=np.float32)
        out = np.zeros(len(indptr) - 1, dtype=np.float32)
        nonempty = np.diff(indptr) > 0
        if data.size:
            out[nonempty] = np.maximum.reduceat(data, indptr[:-1][nonempty])
        return out

    # ------------------------------------------------------------------ scoring

    def _bm25_scores(self, text: str) -> np.ndarray:
        import numpy as np

        n = len(self.chunk_rows)
        vocab = getattr(self.bm25, "vocab_dict", None) or {}
        tokens = [t for t in bm25_query_tokens(text) if t in vocab]
        if not tokens or n == 0:
            return np.zeros(n, dtype=np.float32)
        ceiling = float(sum(self._term_max[vocab[t]] for t in set(tokens)))
        if ceiling <= 0:
            return np.zeros(n, dtype=np.float32)
        raw = np.asarray(self.bm25.get_scores(tokens), dtype=np.float32)
        # Repeated query terms count more in raw BM25; cap at 1 to keep the scale.
        return np.minimum(raw / ceiling, 1.0)

    def query_forms(self, query: str, question: str | None) -> list[str]:
        text = query.strip()
        if not text and not (question or "").strip():
            raise KnowledgeError("empty query: type a health question")
        forms = [text[:MAX_QUERY_CHARS]] if text else []
        reduced = (question or "").strip()
        if not reduced and len(text.split()) > self.options.reduce_over_words:
            reduced = reduce_question(text[:MAX_QUERY_CHARS])
        if reduced and reduced not in forms:
            forms.append(reduced[:MAX_QUERY_CHARS])
        return forms

    def signals(self, query: str, question: str | None = None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """(candidate chunk ids, per-signal scores of those chunks); doc-level signals are broadcast.

        Candidates: the top ``candidates`` of each signal (dense chunks, stored questions, titles,
        BM25 chunks), widened to every chunk of their documents; each is then scored exactly.
        """
        import numpy as np

        forms = self.query_forms(query, question)
        raw = np.ascontiguousarray(encode_queries(self.embedder, forms), dtype=np.float32)
        qv = {name: raw for name in ("dense", "question", "title")}
        if self.adapter is not None:
            adapted = self.adapter.apply(raw)
            qv.update({name: adapted for name in self.adapter_signals})
        n_chunks = len(self.chunk_rows)
        if n_chunks == 0:
            empty = np.zeros(0, dtype=np.float32)
            return np.zeros(0, dtype=np.int64), {k: empty for k in ("dense", "question", "title", "bm25")}
        c = min(self.options.candidates, n_chunks)
        with _single_thread_faiss():
            cand_docs, bm = self._candidate_docs(qv, forms, c)
        asked = self._example_scores(qv["question"])
        if asked is not None:  # documents whose example questions match join the candidates
            cand_docs = np.union1d(cand_docs, np.argpartition(-asked, min(c, len(asked)) - 1)[:c])
        cand = self._docs_chunks(cand_docs)
        docs = self.doc_of_chunk[cand]
        # einsum's own loop, not BLAS: one query against a few thousand rows is too small for
        # BLAS threads, which only spin against the other work on a small CPU.
        dense = np.einsum("nd,fd->nf", self.chunk_vecs[cand], qv["dense"]).max(axis=1)
        qsim = (
            np.einsum("nd,fd->nf", self.question_vecs[cand_docs], qv["question"]).max(axis=1)
            * self.has_question[cand_docs]
        )
        if asked is not None:
            qsim = np.maximum(qsim, asked[cand_docs])
        tsim = np.einsum("nd,fd->nf", self.title_vecs[cand_docs], qv["title"]).max(axis=1)
        at = np.searchsorted(cand_docs, docs)
        return cand, {"dense": dense, "question": qsim[at], "title": tsim[at], "bm25": bm[cand]}

    def _example_scores(self, qv: np.ndarray) -> np.ndarray | None:
        """Per document, the best cosine of the query forms with its example questions (0 without)."""
        import numpy as np

        if not len(self.example_vecs):
            return None
        sims = np.einsum("nd,fd->nf", self.example_vecs, qv).max(axis=1)
        best = np.zeros(len(self.docs), dtype=np.float32)
        np.maximum.at(best, self.example_doc, sims.astype(np.float32))
        return best

    def _candidate_docs(self, qv: dict[str, np.ndarray], forms: list[str], c: int) -> tuple[np.ndarray, np.ndarray]:
        """Union of each signal's top documents (sorted), and the BM25 scores of every chunk."""
        import numpy as np

        n_docs = len(self.docs)
        parts: list[np.ndarray] = []
        if self._dense_fast is not None:
            _, ids = self._dense_fast.search(qv["dense"], min(c, self._dense_fast.ntotal))
        else:
            _, ids = self.index.search(qv["dense"], c)
        parts.append(self.doc_of_chunk[self.dense_rows[ids[ids >= 0]]])
        if self._question_fast is not None and self._question_fast.ntotal:
            _, ids = self._question_fast.search(qv["question"], min(c, self._question_fast.ntotal))
            parts.append(self._question_docs[ids[ids >= 0]])
        if self._title_fast is not None:
            parts.append(self._title_candidates(qv["title"], min(c, n_docs)))
        bm = np.max(np.stack([self._bm25_scores(f) for f in forms]), axis=0)
        parts.append(self.doc_of_chunk[np.argpartition(-bm, c - 1)[:c]])
        return np.unique(np.concatenate(parts)), bm

    def _title_candidates(self, qv: np.ndarray, want_docs: int) -> np.ndarray:
        """Documents of the best-matching distinct titles, until about ``want_docs`` are covered."""
        import numpy as np

        k = min(want_docs, self._title_fast.ntotal)
        _, ids = self._title_fast.search(qv, k)
        out = []
        for row in ids:
            row = row[row >= 0]
            sizes = self._title_ptr[row + 1] - self._title_ptr[row]
            keep = row[: int(np.searchsorted(np.cumsum(sizes), want_docs)) + 1]
            out.append(self._docs_of_titles(keep))
        return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)

    def _docs_of_titles(self, titles: np.ndarray) -> np.ndarray:
        return _csr_gather(self._title_ptr, self._title_docs, titles)

    def fuse(self, sig: dict[str, np.ndarray], weights: FusionWeights | None = None) -> np.ndarray:
        w = (weights or self.weights).as_dict()
        total = sum(w.values()) or 1.0
        return sum((w[name] / total) * sig[name] for name in w if name in sig)  # type: ignore[return-value]

    def _rrf(self, sig: dict[str, np.ndarray], docs: np.ndarray) -> np.ndarray:
        """Reciprocal-rank fusion over documents (each signal ranks documents by their best chunk)."""
        import numpy as np

        w = self.weights.as_dict()
        out = np.zeros(len(docs), dtype=np.float64)
        for name, weight in w.items():
            if weight <= 0 or name not in sig:
                continue
            best: dict[int, float] = {}
            for d, s in zip(docs.tolist(), sig[name].tolist(), strict=True):
                best[d] = max(best.get(d, -1e9), s)
            order = sorted(best, key=lambda d: -best[d])
            rank = {d: r for r, d in enumerate(order)}
            out += weight / (self.options.rrf_k + np.array([rank[d] for d in docs.tolist()], dtype=np.float64))
        return out

    def _focus_adjust(self, docs: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """Blend each chunk's score with the best score of any document sharing its title."""
        import numpy as np

        share = self.options.focus_share
        if share <= 0 or scores.size == 0:
            return scores
        group = self._focus_id[docs]
        # An untitled chunk shares with nothing, not even its own document's other chunks.
        group = np.where(group < 0, -1 - np.arange(len(group)), group)
        groups, inverse = np.unique(group, return_inverse=True)
        best = np.full(len(groups), -np.inf)
        np.maximum.at(best, inverse.reshape(-1), scores)
        return (1 - share) * scores + share * best[inverse.reshape(-1)]

    # ------------------------------------------------------------------ search

    def _chunk(self, i: int) -> Chunk:
        row = self.chunk_rows[i]
        doc = self.docs[row["d"]]
        return Chunk(
            id=f"{doc['id']}#{row['p']}",
            doc_id=doc["id"],
            text=row["text"],
            position=row["p"],
            title=row.get("title") or doc.get("title", ""),
            question=doc.get("question"),
            url=doc.get("url", ""),
            source=doc.get("source", ""),
            license=doc.get("license", ""),
            metadata={**doc.get("metadata", {}), "section": row.get("section", "")},
        )

    def search(self, query: str, k: int = 5, *, question: str | None = None) -> list[Hit]:
        import numpy as np

        if k <= 0:
            return []
        cand, sig = self.signals(query, question)
        if cand.size == 0:
            return []
        fused = self._focus_adjust(self.doc_of_chunk[cand], self.fuse(sig))
        order_key = self._rrf(sig, self.doc_of_chunk[cand]) if self.fusion == "rrf" else fused
        order = np.argsort(-order_key, kind="stable")
        kept: dict[int, list[int]] = {}
        hits: list[Hit] = []
        n_docs = 0
        for j in order.tolist():
            ci = int(cand[j])
            d = int(self.doc_of_chunk[ci])
            mine = kept.setdefault(d, [])
            if len(mine) >= self.options.max_chunks_per_doc:
                continue
            text = self.chunk_rows[ci]["text"]
            if any(_jaccard(text, self.chunk_rows[o]["text"]) >= self.options.duplicate_jaccard for o in mine):
                continue
            if not mine:
                if n_docs >= k:
                    continue
                n_docs += 1
            mine.append(ci)
            scores = {name: round(float(arr[j]), 4) for name, arr in sig.items()}
            if self.fusion == "rrf":
                scores["rrf"] = round(float(order_key[j]), 6)
            hits.append(Hit(self._chunk(ci), float(fused[j]), scores))
            if len(hits) >= k and n_docs >= k:
                break
        return hits[:k]

    def ranked_doc_ids(self, query: str, k: int = 10, *, question: str | None = None) -> list[str]:
        """Document ids best first (a document scores as its best chunk), for evaluation runs."""
        import numpy as np

        cand, sig = self.signals(query, question)
        if cand.size == 0:
            return []
        docs = self.doc_of_chunk[cand]
        key = self._rrf(sig, docs) if self.fusion == "rrf" else self._focus_adjust(docs, self.fuse(sig))
        uniq, inverse = np.unique(docs, return_inverse=True)
        best = np.full(len(uniq), -np.inf)
        np.maximum.at(best, inverse.reshape(-1), np.asarray(key, dtype=np.float64))
        order = np.lexsort((uniq, -best))[:k]
        return [self.docs[int(d)]["id"] for d in uniq[order]]


@contextmanager
def _single_thread_faiss() -> Iterator[None]:
    """One query scans a few MB: faiss's OpenMP threads cost more than they save on a small CPU."""
    import faiss

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def _fp16_index(vectors: np.ndarray) -> Any:
    import faiss
    import numpy as np

    index = faiss.IndexScalarQuantizer(vectors.shape[1], faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT)
    if len(vectors):
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def _csr_gather(ptr: np.ndarray, values: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The values of ``rows`` of a CSR layout (``values[ptr[r]:ptr[r + 1]]`` for each row, in
    order), without a Python loop."""
    import numpy as np

    starts, ends = ptr[rows], ptr[rows + 1]
    lengths = ends - starts
    if not lengths.sum():
        return np.zeros(0, dtype=np.int64)
    offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(lengths.sum())
    return values[offsets]
