"""The fast query path: candidate search, exact rescoring, vectorised fusion, query encoders, halves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from benchmarks.liveqa import split_half
from knowledge import index as kindex
from knowledge.chunking import ChunkerConfig
from knowledge.documents import Document
from knowledge.embed_cache import CachedEmbedder
from knowledge.embedding import MockEmbedder, encode_queries
from knowledge.hybrid import HybridRetriever, SearchOptions
from knowledge.onnx_encoder import OnnxUnavailable, _check_pipeline, _mean_normalise

TOPICS = ["asthma", "influenza", "diabetes", "migraine", "eczema", "gout", "anemia", "shingles"]
ASPECTS = [
    ("What is (are) {t} ?", "{t} is a long-term condition that affects many adults and children."),
    ("What are the symptoms of {t} ?", "Common signs of {t} include tiredness, pain and swelling."),
    ("What are the treatments for {t} ?", "Treatment of {t} uses medicines, rest and changes in diet."),
]


def _docs() -> list[Document]:
    docs = []
    for t in TOPICS:
        for i, (q, a) in enumerate(ASPECTS):
            body = " ".join([a.format(t=t)] + [f"More about {t} in part {k} of section {i}." for k in range(4)])
            docs.append(Document(id=f"{t}-{i}", title=t.title(), question=q.format(t=t), text=body))
    docs.append(Document(id="untitled", title="", text="A note without a title or a question about sleep."))
    return docs


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("qp") / "index"
    kindex.build_index(
        _docs(), out, MockEmbedder(64), config=ChunkerConfig(12, 3, 64), sources=["test"], dense_scope="lead"
    )
    return out


def _open(index_dir: Path, candidates: int = 200) -> HybridRetriever:
    r = HybridRetriever.open(index_dir, MockEmbedder(64))
    r.options = SearchOptions(candidates=candidates)
    return r


QUERIES = ["how do I treat gout", "symptoms of shingles in adults", "is anemia a long-term condition", "sleep"]


@pytest.mark.parametrize("query", QUERIES)
def test_signals_equal_exact_scores_of_every_candidate(index_dir: Path, query: str) -> None:
    r = _open(index_dir)
    cand, sig = r.signals(query)
    qv = MockEmbedder(64).encode([query])
    docs = r.doc_of_chunk[cand]
    # Pool larger than the corpus: every chunk is a candidate, scored exactly.
    assert cand.tolist() == list(range(len(r.chunk_rows)))
    np.testing.assert_allclose(sig["dense"], (r.chunk_vecs[cand] @ qv.T).max(axis=1), atol=1e-6)
    want_q = (r.question_vecs[docs] @ qv.T).max(axis=1) * r.has_question[docs]
    np.testing.assert_allclose(sig["question"], want_q, atol=1e-6)
    np.testing.assert_allclose(sig["title"], (r.title_vecs[docs] @ qv.T).max(axis=1), atol=1e-6)
    np.testing.assert_allclose(sig["bm25"], r._bm25_scores(query)[cand], atol=1e-6)


@pytest.mark.parametrize("query", QUERIES)
def test_small_pool_keeps_each_signals_best_document(index_dir: Path, query: str) -> None:
    r = _open(index_dir, candidates=3)
    cand, _ = r.signals(query)
    pool = set(r.doc_of_chunk[cand].tolist())
    qv = MockEmbedder(64).encode([query])[0]
    lead = r.chunk_vecs[r.dense_rows] @ qv
    assert int(r.doc_of_chunk[r.dense_rows[int(np.argmax(lead))]]) in pool
    qsim = np.where(r.has_question, r.question_vecs @ qv, -np.inf)
    assert int(np.argmax(qsim)) in pool
    assert int(np.argmax(r.title_vecs @ qv)) in pool
    # A pooled document brings all of its chunks (a document scores as its best chunk).
    for d in pool:
        assert set(r.chunks_of_doc[d]) <= set(cand.tolist())


def test_focus_share_and_ranking_match_the_plain_definitions(index_dir: Path) -> None:
    r = _open(index_dir)
    rng = np.random.default_rng(0)
    docs = rng.integers(0, len(r.docs), size=300)
    scores = rng.random(300)
    got = r._focus_adjust(docs, scores)
    keys = [" ".join(str(r.docs[d].get("title", "")).lower().split()) for d in docs.tolist()]
    best: dict[str, float] = {}
    for k, v in zip(keys, scores.tolist(), strict=True):
        if k:
            best[k] = max(best.get(k, -1.0), v)
    want = [(0.7 * v + 0.3 * best[k]) if k else v for k, v in zip(keys, scores.tolist(), strict=True)]
    np.testing.assert_allclose(got, want)

    query = "treatments for diabetes"
    cand, sig = r.signals(query)
    key = r._focus_adjust(r.doc_of_chunk[cand], r.fuse(sig))
    per_doc: dict[int, float] = {}
    for d, v in zip(r.doc_of_chunk[cand].tolist(), key.tolist(), strict=True):
        per_doc[d] = max(per_doc.get(d, -np.inf), v)
    want_ids = [r.docs[d]["id"] for d in sorted(per_doc, key=lambda d: (-per_doc[d], d))[:5]]
    assert r.ranked_doc_ids(query, 5) == want_ids
    assert r.ranked_doc_ids(query, 5)[0].startswith("diabetes")


def test_docs_chunks_gathers_every_chunk_of_the_given_documents(index_dir: Path) -> None:
    r = _open(index_dir)
    docs = np.array([0, 5, len(r.docs) - 1])
    want = sorted(c for d in docs.tolist() for c in r.chunks_of_doc[d])
    assert r._docs_chunks(docs).tolist() == want
    assert r._docs_chunks(np.zeros(0, dtype=np.int64)).tolist() == []


class _QueryAware(MockEmbedder):
    def __init__(self) -> None:
        super().__init__(16)
        self.query_calls = 0

    def encode_queries(self, texts: list[str]) -> Any:
        self.query_calls += 1
        return self.encode(texts)


def test_queries_take_the_embedders_query_path_and_skip_the_disk_cache(tmp_path: Path) -> None:
    plain = MockEmbedder(16)
    np.testing.assert_allclose(encode_queries(plain, ["fever"]), plain.encode(["fever"]))
    inner = _QueryAware()
    cached = CachedEmbedder(inner, tmp_path / "cache")
    out = encode_queries(cached, ["fever in a child", "rash"])
    assert out.shape == (2, 16) and inner.query_calls == 1
    assert not (tmp_path / "cache").exists()  # no shard per query
    cached.encode(["a passage"])
    assert any((tmp_path / "cache").rglob("*.npz"))


def test_mean_pooling_ignores_padding_and_normalises() -> None:
    hidden = np.array([[[1.0, 0.0], [3.0, 0.0], [100.0, 100.0]]], dtype=np.float32)
    mask = np.array([[1, 1, 0]])
    np.testing.assert_allclose(_mean_normalise(hidden, mask), [[1.0, 0.0]])


class _Named:
    def __init__(self, name: str, **attrs: object) -> None:
        self.__class__ = type(name, (), {})
        self.__dict__.update(attrs)


def test_only_mean_pooled_pipelines_are_exported() -> None:
    _check_pipeline([_Named("Transformer"), _Named("Pooling", pooling_mode="mean"), _Named("Normalize")])
    _check_pipeline([_Named("Transformer"), _Named("Pooling", pooling_mode_mean_tokens=True)])
    with pytest.raises(OnnxUnavailable, match="pooling"):
        _check_pipeline([_Named("Transformer"), _Named("Pooling", pooling_mode="cls")])
    with pytest.raises(OnnxUnavailable, match="pipeline"):
        _check_pipeline([_Named("Transformer"), _Named("Pooling", pooling_mode="mean"), _Named("Dense")])


def test_split_halves_are_deterministic_and_balanced() -> None:
    qids = list(range(1, 104, 2))  # the dev file's TQ numbers are odd
    halves = [split_half(q) for q in qids]
    assert halves == [split_half(q) for q in qids]
    assert abs(halves.count("A") - halves.count("B")) <= 1
    assert split_half(1) == "A" and split_half(3) == "B" and split_half(5) == "A"


class _FakeST:
    """Just enough of a SentenceTransformer for the embedder's query path."""

    def __init__(self) -> None:
        self.max_seq_length = 256
        self.seen_lengths: list[int] = []

    def encode(self, texts: list[str], **_: object) -> Any:
        self.seen_lengths.append(self.max_seq_length)
        return MockEmbedder(8).encode(texts)


def test_query_path_falls_back_to_pytorch_in_the_query_window(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import knowledge.onnx_encoder as onnx_encoder
    from knowledge.st_embedder import SentenceTransformerEmbedder

    def refuse(*_: object, **__: object) -> None:
        raise OnnxUnavailable("no onnxruntime here")

    monkeypatch.setattr(onnx_encoder, "OnnxQueryEncoder", refuse)
    emb = SentenceTransformerEmbedder.__new__(SentenceTransformerEmbedder)
    fake = _FakeST()
    emb.model, emb.batch_size, emb.dimension = fake, 4, 8  # type: ignore[assignment]
    emb.max_seq_length, emb.query_max_seq_length = 256, 128
    emb._query_backend, emb._query_threads, emb._cache_dir, emb._onnx = "onnx", 1, tmp_path, None
    out = emb.encode_queries(["a fever question", "another"])
    assert out.shape == (2, 8)
    assert fake.seen_lengths == [128] and fake.max_seq_length == 256  # window restored afterwards
    emb.encode_queries(["again"])
    assert emb._query_backend == "torch"  # gave up on ONNX once, not on every query
    assert emb.encode_queries([]).shape == (0, 8)


def test_benchmark_dense_baseline_is_one_passage_per_answer(index_dir: Path, tmp_path: Path) -> None:
    """benchmarks/retrieval_liveqa's baseline scores each answer by its first chunk only, on an
    every-chunk index too, and equals the retriever's dense-only ranking on a first-chunk index."""
    from dataclasses import replace

    from benchmarks.retrieval_liveqa import _LeadDense
    from knowledge.hybrid import FusionWeights

    lead = _open(index_dir)
    everything = tmp_path / "all"
    kindex.build_index(_docs(), everything, MockEmbedder(64), config=ChunkerConfig(12, 3, 64), dense_scope="all")
    full = _open(everything)
    assert len(full.dense_rows) == len(full.chunk_rows) > len(lead.docs)
    lead.weights = FusionWeights(1, 0, 0, 0)
    lead.options = replace(lead.options, reduce_over_words=10**9, focus_share=0.0)
    for query in QUERIES:
        baseline = _LeadDense(full)
        got = baseline.ranked_doc_ids(query, 5)
        qv = MockEmbedder(64).encode([query])[0]
        first = {}
        for row, d in enumerate(full.doc_of_chunk.tolist()):
            first.setdefault(d, row)
        scores = {full.docs[d]["id"]: float(full.chunk_vecs[row] @ qv) for d, row in first.items()}
        # the five best first-chunk scores, in order (ties may come in either order)
        np.testing.assert_allclose([scores[i] for i in got], sorted(scores.values(), reverse=True)[:5], atol=1e-6)
        assert _LeadDense(lead).ranked_doc_ids(query, 5) == lead.ranked_doc_ids(query, 5)
