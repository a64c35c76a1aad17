"""Index build / load / manifest checks / atomic replace / incremental add, with the mock embedder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from chatbot.settings import Settings
from knowledge import index as kindex
from knowledge.chunking import ChunkerConfig
from knowledge.documents import Document
from knowledge.embedding import MockEmbedder
from knowledge.errors import KnowledgeError
from knowledge.hybrid import FusionWeights, HybridRetriever
from knowledge.manifest import INDEX_VERSION, Manifest
from knowledge.retrieval import Retriever

DOCS = [
    Document(
        id="asthma",
        title="Asthma",
        question="What is (are) Asthma ?",
        url="https://a",
        text="Asthma makes the airways swell and narrow. Wheezing and coughing at night are common. "
        "Reliever inhalers open the airways quickly.",
    ),
    Document(
        id="flu",
        title="Influenza",
        question="What is (are) Influenza ?",
        text="Influenza is a contagious viral infection with fever, cough and body aches. "
        "A yearly flu vaccine lowers the risk.",
    ),
    Document(
        id="bp",
        title="High blood pressure",
        question="What are the treatments for High blood pressure ?",
        text="High blood pressure often has no symptoms. Less salt, activity and medicines lower it.",
    ),
    Document(
        id="diabetes",
        title="Diabetes",
        text="Diabetes means blood sugar is too high. Thirst and "
        "frequent urination are early signs. Insulin and metformin are common treatments.",
    ),
]
CONFIG = ChunkerConfig(chunk_tokens=12, overlap_tokens=3, max_seq_length=64)


def _build(out: Path, docs: list[Document] = DOCS, **kw: object) -> Manifest:
    return kindex.build_index(docs, out, MockEmbedder(64), config=CONFIG, sources=["test"], **kw)  # type: ignore[arg-type]


def _open(out: Path, **kw: object) -> HybridRetriever:
    return HybridRetriever.open(out, MockEmbedder(64), **kw)  # type: ignore[arg-type]


def test_build_writes_manifest_and_search_finds_the_right_doc(tmp_path: Path) -> None:
    out = tmp_path / "idx"
    m = _build(out)
    assert (m.n_documents, m.embedder, m.dimension, m.version) == (4, "mock-64", 64, INDEX_VERSION)
    assert m.n_chunks > 4  # small chunk budget: several chunks per document
    assert set(m.files) >= {"docs.jsonl", "chunks.jsonl", "chunk_vectors.npy", "dense.faiss", "dense_rows.npy"}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp dirs left
    r = _open(out)
    assert isinstance(r, Retriever)
    hits = r.search("wheezing and coughing at night", 3)
    assert hits[0].doc_id == "asthma"
    assert set(hits[0].scores) == {"dense", "question", "title", "bm25"}
    assert hits[0].chunk.url == "https://a" and hits[0].chunk.title == "Asthma"
    assert hits == sorted(hits, key=lambda h: -h.score)


def test_near_duplicate_chunks_are_collapsed_per_document(tmp_path: Path) -> None:
    out = tmp_path / "idx"
    _build(out)
    r = _open(out)
    hits = r.search("asthma airways wheezing inhalers", 8)
    per_doc: dict[str, int] = {}
    for h in hits:
        per_doc[h.doc_id] = per_doc.get(h.doc_id, 0) + 1
    assert max(per_doc.values()) <= r.options.max_chunks_per_doc
    assert r.ranked_doc_ids("asthma airways wheezing inhalers", 4)[0] == "asthma"
    assert len(set(r.ranked_doc_ids("asthma", 4))) == len(r.ranked_doc_ids("asthma", 4))


def test_off_topic_query_scores_low_and_fusion_modes(tmp_path: Path) -> None:
    out = tmp_path / "idx"
    _build(out)
    r = _open(out)
    on = r.search("flu vaccine fever", 1)[0]
    off = r.search("replace the brake pads of my car", 1)[0]
    assert on.doc_id == "flu" and on.score > off.score
    r.fusion = "rrf"
    hits = r.search("flu vaccine fever", 2)
    assert hits[0].doc_id == "flu" and "rrf" in hits[0].scores
    r.fusion, r.weights = "weighted", FusionWeights(0, 0, 0, 1)
    assert r.search("metformin insulin", 1)[0].doc_id == "diabetes"


def test_bad_queries(tmp_path: Path) -> None:
    out = tmp_path / "idx"
    _build(out)
    r = _open(out)
    with pytest.raises(KnowledgeError, match="empty query"):
        r.search("   ", 3)
    assert r.search("asthma", 0) == []
    huge = "asthma wheezing " * 50_000  # 800,000 characters
    assert r.search(huge, 2)[0].doc_id == "asthma"


def test_missing_corrupt_and_mismatched_indexes_are_clear(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeError, match="no index at"):
        _open(tmp_path / "missing")
    out = tmp_path / "idx"
    _build(out)
    with pytest.raises(KnowledgeError, match="built with embedder mock-64"):
        HybridRetriever.open(out, MockEmbedder(32))
    (out / "chunk_vectors.npy").write_bytes(b"garbage")
    with pytest.raises(KnowledgeError, match="corrupt"):
        _open(out)
    _build(out)
    (out / "bm25" / "params.index.json").unlink()
    with pytest.raises(KnowledgeError, match=r"missing bm25/params\.index\.json"):
        _open(out)
    _build(out)
    (out / "manifest.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(KnowledgeError, match=r"manifest .* is corrupt"):
        _open(out)
    _build(out)
    data = json.loads((out / "manifest.json").read_text())
    data["version"] = 99
    (out / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(KnowledgeError, match="format version 99"):
        _open(out)


def test_killed_build_leaves_previous_index_loadable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "idx"
    _build(out)
    before = Manifest.read(out).corpus_hash

    def die(*args: object, **kw: object) -> None:
        raise KeyboardInterrupt  # as if the build were killed while writing

    monkeypatch.setattr(kindex, "_swap_into_place", die)
    with pytest.raises(KeyboardInterrupt):
        _build(out, DOCS[:2])
    assert Manifest.read(out).corpus_hash == before
    assert _open(out).search("asthma", 1)[0].doc_id == "asthma"
    assert [p.name for p in tmp_path.iterdir()] == ["idx"]  # temp dir cleaned up


def test_build_rejects_empty_and_duplicate_input(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeError, match="no documents"):
        _build(tmp_path / "a", [])
    with pytest.raises(KnowledgeError, match="duplicate document ids"):
        _build(tmp_path / "b", [DOCS[0], DOCS[0]])


class CountingEmbedder(MockEmbedder):
    def __init__(self) -> None:
        super().__init__(64)
        self.encoded: list[str] = []

    def encode(self, texts: list[str], *, show_progress: bool = False) -> np.ndarray:
        self.encoded.extend(texts)
        return super().encode(texts)


def test_incremental_add_embeds_only_new_documents(tmp_path: Path) -> None:
    out = tmp_path / "idx"
    _build(out, DOCS[:2])
    emb = CountingEmbedder()
    new = Document(id="migraine", title="Migraine", text="Migraine headaches throb and come with nausea.")
    manifest, added = kindex.add_documents(out, [DOCS[0], new], emb, sources=["more"])
    assert added == 1 and manifest.n_documents == 3
    assert all("Asthma" not in t and "airways" not in t for t in emb.encoded)
    assert manifest.skipped["ids already in the index"] == 1
    assert set(manifest.sources) == {"test", "more"}
    r = _open(out)
    assert r.search("throbbing headache with nausea", 1)[0].doc_id == "migraine"
    assert r.search("wheezing at night", 1)[0].doc_id == "asthma"
    assert kindex.add_documents(out, [new], emb)[1] == 0


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_ann_index_kinds(tmp_path: Path, kind: str) -> None:
    docs = [
        Document(id=f"d{i}", title=f"Topic {i}", text=f"Topic {i} concerns z{i}q and w{i % 7}.") for i in range(120)
    ]
    out = tmp_path / kind
    m = _build(out, docs, faiss_index=kind)
    assert m.faiss_index == kind
    assert _open(out).search("z42q", 1)[0].doc_id == "d42"


def test_lead_dense_scope_embeds_first_chunks_only(tmp_path: Path) -> None:
    emb = CountingEmbedder()
    out = tmp_path / "lead"
    m = kindex.build_index(DOCS, out, emb, config=CONFIG, dense_scope="lead")
    assert m.dense_scope == "lead" and m.n_chunks > len(DOCS)
    assert len(np.load(out / "dense_rows.npy")) == len(DOCS)
    assert _open(out).search("metformin insulin", 1)[0].doc_id == "diabetes"


def test_load_retriever_and_ensure_index_from_settings(settings: Settings, tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "gout.md").write_text(
        "---\ntitle: Gout\nsources: [https://g]\n---\n## Symptoms\nA hot swollen big toe.\n", encoding="utf-8"
    )
    s = settings.model_copy(update={"knowledge": settings.knowledge.model_copy(update={"sources": [f"folder:{kb}"]})})
    with pytest.raises(KnowledgeError, match="no index at"):
        kindex.load_retriever(s)
    path = kindex.ensure_index(s)
    assert path == s.index_dir
    built = Manifest.read(path).created
    assert kindex.ensure_index(s) == path and Manifest.read(path).created == built  # up to date: not rebuilt
    hits = kindex.load_retriever(s).search("swollen toe", 1)
    assert hits[0].chunk.title == "Gout — Symptoms" and hits[0].chunk.url == "https://g"
    (kb / "gout.md").write_text("---\ntitle: Gout\n---\nUric acid crystals in a joint.\n", encoding="utf-8")
    kindex.ensure_index(s)  # sources changed: rebuilt
    assert "Uric acid" in kindex.load_retriever(s).search("uric acid", 1)[0].chunk.text


def test_example_questions_feed_the_question_signal(tmp_path: Path) -> None:
    # A document's example questions (front matter `questions:`) are matched like a stored
    # question: the best one counts; they are stored once per row and survive an incremental add.
    ask = "my chest makes a whistling sound when I breathe out"
    docs = [
        Document(id="a", title="Asthma", text="Airways narrow and swell.", metadata={"questions": [ask, "inhaler?"]}),
        Document(id="b", title="Gout", text="Uric acid crystals in a joint."),
    ]
    out = tmp_path / "idx"
    m = _build(out, docs)
    assert "example_vectors.npy" in m.files
    r = _open(out)
    assert r.example_vecs.shape == (2, 64) and list(r.example_doc) == [0, 0]
    hit = next(h for h in r.search(ask, 2) if h.doc_id == "a")
    assert hit.scores["question"] > 0.99  # the mock embedder maps equal text to the same vector
    manifest, added = kindex.add_documents(
        out,
        [Document(id="c", title="Flu", text="Fever.", metadata={"questions": ["fever and aches"]})],
        MockEmbedder(64),
    )
    assert added == 1 and list(_open(out).example_doc) == [0, 0, 2]
    (out / "example_vectors.npy").unlink()
    with pytest.raises(KnowledgeError, match="missing example_vectors.npy"):
        _open(out)
