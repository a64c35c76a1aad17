"""The learned query adapter: training, persistence with the index, use at search time, failures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from chatbot.settings import KnowledgeSettings
from knowledge import index as kindex
from knowledge.__main__ import main
from knowledge.chunking import ChunkerConfig
from knowledge.documents import Document
from knowledge.embedding import MockEmbedder
from knowledge.errors import KnowledgeError
from knowledge.hybrid import HybridRetriever
from knowledge.query_adapter import ADAPTER_FILE, AdapterConfig, QueryAdapter, corpus_pairs, train_adapter
from tests.unit.test_knowledge_query_path import ASPECTS, TOPICS


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _distorted_pairs(n: int = 400, dim: int = 16, seed: int = 0) -> tuple[np.ndarray, ...]:
    """Queries are a fixed linear distortion of their answers: the identity ranks them poorly."""
    rng = np.random.default_rng(seed)
    pool = _unit(rng.normal(size=(n, dim)))
    mix = np.eye(dim) + 0.9 * rng.normal(size=(dim, dim)) / np.sqrt(dim)
    queries = _unit(pool @ mix + 0.05 * rng.normal(size=(n, dim)))
    return queries, np.arange(n), pool, np.arange(n) // 2


def _mrr(queries: np.ndarray, positives: np.ndarray, pool: np.ndarray) -> float:
    scores = queries @ pool.T
    own = scores[np.arange(len(queries)), positives][:, None]
    return float(np.mean(1.0 / ((scores > own).sum(axis=1) + 1)))


def test_training_improves_heldout_ranking_and_keeps_unit_vectors() -> None:
    queries, positives, pool, groups = _distorted_pairs()
    adapter, report = train_adapter(queries, positives, pool, groups, AdapterConfig(epochs=30, lr=1e-2, batch_size=64))
    assert report.heldout_pairs > 0 and report.train_pairs + report.heldout_pairs == len(queries)
    assert report.heldout_mrr_after > report.heldout_mrr_before + 0.1
    assert _mrr(adapter.apply(queries), positives, pool) > _mrr(queries, positives, pool) + 0.1
    np.testing.assert_allclose(np.linalg.norm(adapter.apply(queries), axis=1), 1.0, atol=1e-5)


def test_untrained_adapter_is_the_identity() -> None:
    queries, *_ = _distorted_pairs(n=5)
    np.testing.assert_allclose(QueryAdapter(np.zeros((16, 16))).apply(queries), queries, atol=1e-6)


def test_bad_config_and_bad_matrix_are_clear_errors() -> None:
    with pytest.raises(KnowledgeError, match="holdout"):
        AdapterConfig(holdout=0.7)
    with pytest.raises(KnowledgeError, match="square"):
        QueryAdapter(np.zeros((3, 4)))
    with pytest.raises(KnowledgeError, match="square"):
        QueryAdapter(np.full((2, 2), np.nan))


def test_save_load_round_trip_leaves_no_temporary_file(tmp_path: Path) -> None:
    matrix = np.random.default_rng(1).normal(size=(8, 8)).astype(np.float32)
    QueryAdapter(matrix).save(tmp_path / ADAPTER_FILE)
    np.testing.assert_array_equal(QueryAdapter.load(tmp_path / ADAPTER_FILE).matrix, matrix)
    assert sorted(p.name for p in tmp_path.iterdir()) == [ADAPTER_FILE]


def test_unreadable_file_names_the_fix(tmp_path: Path) -> None:
    (tmp_path / ADAPTER_FILE).write_bytes(b"not a numpy file")
    with pytest.raises(KnowledgeError, match="knowledge adapt"):
        QueryAdapter.load(tmp_path / ADAPTER_FILE)


def _docs() -> list[Document]:
    return [
        Document(id=f"{t}-{i}", title=t.title(), question=q.format(t=t), text=a.format(t=t) + " More follows here.")
        for t in TOPICS
        for i, (q, a) in enumerate(ASPECTS)
    ]


@pytest.fixture
def small_index(tmp_path: Path) -> Path:
    out = tmp_path / "index"
    kindex.build_index(_docs(), out, MockEmbedder(32), config=ChunkerConfig(16, 3, 64), dense_scope="lead")
    return out


def test_corpus_pairs_point_each_question_at_its_first_chunk(small_index: Path) -> None:
    _, corpus = kindex.read_corpus(small_index)
    queries, positives, pool, groups = corpus_pairs(corpus.docs, corpus.chunks, corpus.question_vecs, corpus.chunk_vecs)
    assert len(queries) == len(_docs()) and len(set(groups.tolist())) == len(TOPICS)
    for d in (0, 5, len(_docs()) - 1):
        first = next(i for i, c in enumerate(corpus.chunks) if c["d"] == d and c["p"] == 0)
        np.testing.assert_array_equal(pool[positives[d]], corpus.chunk_vecs[first])
        np.testing.assert_array_equal(queries[d], corpus.question_vecs[d])


def test_small_corpus_gets_no_adapter_and_still_loads(small_index: Path) -> None:
    manifest = kindex.Manifest.read(small_index)
    assert ADAPTER_FILE not in manifest.files and manifest.query_adapter == {}
    assert not (small_index / ADAPTER_FILE).exists()
    assert HybridRetriever.open(small_index, MockEmbedder(32)).adapter is None
    with pytest.raises(KnowledgeError, match="at least 500"):
        kindex.adapt_index(small_index)


def test_adapt_existing_index_then_search_uses_it_on_the_passage_signal_only(small_index: Path) -> None:
    before = (small_index / "chunk_vectors.npy").read_bytes()
    manifest, report = kindex.adapt_index(small_index, AdapterConfig(epochs=3, holdout=0.25), min_pairs=4)
    assert (small_index / "chunk_vectors.npy").read_bytes() == before  # nothing re-embedded
    assert manifest.files[ADAPTER_FILE] == kindex.file_sha256(small_index / ADAPTER_FILE)
    assert kindex.Manifest.read(small_index).query_adapter["train_pairs"] == report.train_pairs

    r = HybridRetriever.open(small_index, MockEmbedder(32), KnowledgeSettings(query_adapter=True))
    assert r.adapter is not None
    # A strong adapter, so the adapted query is visibly different from the raw one.
    r.adapter = QueryAdapter(np.random.default_rng(0).normal(size=(32, 32)).astype(np.float32))
    query = "symptoms of gout"
    cand, sig = r.signals(query)
    raw = MockEmbedder(32).encode([query])
    adapted = r.adapter.apply(raw)
    np.testing.assert_allclose(sig["dense"], (r.chunk_vecs[cand] @ adapted.T).max(axis=1), atol=1e-5)
    docs = r.doc_of_chunk[cand]
    np.testing.assert_allclose(sig["question"], (r.question_vecs[docs] @ raw.T).max(axis=1), atol=1e-5)
    np.testing.assert_allclose(sig["title"], (r.title_vecs[docs] @ raw.T).max(axis=1), atol=1e-5)

    off = HybridRetriever.open(small_index, MockEmbedder(32), KnowledgeSettings(query_adapter=False))
    assert off.adapter is None


def test_damaged_or_missing_adapter_file_is_a_clear_error(small_index: Path) -> None:
    kindex.adapt_index(small_index, AdapterConfig(epochs=1), min_pairs=4)
    path = small_index / ADAPTER_FILE
    path.write_bytes(path.read_bytes()[:-8] + b"\x01" * 8)
    with pytest.raises(KnowledgeError, match=r"checksum mismatch.*knowledge adapt"):
        HybridRetriever.open(small_index, MockEmbedder(32))
    path.unlink()
    with pytest.raises(KnowledgeError, match=rf"missing {ADAPTER_FILE}.*knowledge adapt"):
        HybridRetriever.open(small_index, MockEmbedder(32))
    kindex.adapt_index(small_index, AdapterConfig(epochs=1), min_pairs=4)  # the advertised fix works
    assert HybridRetriever.open(small_index, MockEmbedder(32)).adapter is not None


def test_build_add_and_cli_adapt_with_enough_questions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(300)]
    docs = [
        Document(
            id=f"d{i}",
            title=f"topic {i // 3}",
            question=" ".join(rng.choice(words, 4)) + " ?",
            text=" ".join(rng.choice(words, 12)) + ".",
        )
        for i in range(kindex.MIN_PAIRS + 10)
    ]
    out = tmp_path / "big"
    manifest = kindex.build_index(
        docs, out, MockEmbedder(16), config=ChunkerConfig(32, 4, 64), dense_scope="lead", query_adapter=True
    )
    assert (out / ADAPTER_FILE).is_file() and ADAPTER_FILE in manifest.files
    assert manifest.query_adapter["pairs"] == len(docs)
    assert json.loads((out / "manifest.json").read_text())["query_adapter"]["pairs"] == len(docs)
    skipped = kindex.build_index(docs, tmp_path / "none", MockEmbedder(16), config=ChunkerConfig(32, 4, 64))
    assert ADAPTER_FILE not in skipped.files and not (tmp_path / "none" / ADAPTER_FILE).exists()
    # Adding documents keeps (retrains) the adapter an index has, unless told otherwise.
    more = [Document(id="extra", title="extra", question="w1 w2 ?", text="w3 w4.")]
    kept, _ = kindex.add_documents(out, more, MockEmbedder(16))
    assert ADAPTER_FILE in kept.files and kept.query_adapter["pairs"] == len(docs) + 1
    dropped, _ = kindex.add_documents(
        out, [Document(id="x2", title="t", text="w5.")], MockEmbedder(16), query_adapter=False
    )
    assert ADAPTER_FILE not in dropped.files and not (out / ADAPTER_FILE).exists()
    # `python -m knowledge adapt` puts it back without re-embedding.
    _cli_env(tmp_path, monkeypatch)
    assert main(["adapt", "--index", str(out), "--epochs", "2"]) == 0
    printed = capsys.readouterr().out
    assert "query adapter trained on" in printed and "knowledge.query_adapter is off" in printed
    assert ADAPTER_FILE in kindex.Manifest.read(out).files
    assert HybridRetriever.open(out, MockEmbedder(16), KnowledgeSettings(query_adapter=True)).adapter is not None


def _cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("HEALTHBOT_CONFIG", "HEALTHBOT_KNOWLEDGE__INDEX_DIR", "HEALTHBOT_KNOWLEDGE__QUERY_ADAPTER"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HEALTHBOT_EMBEDDING__MODE", "mock")
    monkeypatch.setenv("HEALTHBOT_DATA_DIR", str(tmp_path / "data"))


def test_cli_adapt_too_few_questions_is_one_line(
    small_index: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _cli_env(tmp_path, monkeypatch)
    assert main(["adapt", "--index", str(small_index)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "at least 500" in err and err.count("\n") == 1
