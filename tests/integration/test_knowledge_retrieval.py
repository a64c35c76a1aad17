"""Real MiniLM embedder: the starter knowledge base and a small MedQuAD subset.

The score threshold (``knowledge.min_score``) is checked here: real health questions score
above it and off-topic ones below it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from chatbot.settings import Settings, load_settings
from knowledge import index as kindex
from knowledge.sources import STARTER_DIR, load_source

pytestmark = pytest.mark.integration

OFF_TOPIC = [
    "how do I fix my car's brakes",
    "what is the capital of France",
    "best way to learn the guitar quickly",
]


def _settings(tmp_path: Path, sources: list[str]) -> Settings:
    return load_settings(data_dir=tmp_path / "data", knowledge={"sources": sources})


@pytest.fixture(scope="module")
def starter_retriever(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    if not any(STARTER_DIR.glob("*.md")):
        pytest.skip("knowledge/starter has no topic files yet")
    tmp = tmp_path_factory.mktemp("starter")
    s = _settings(tmp, ["starter"])
    kindex.ensure_index(s)
    return s, kindex.load_retriever(s)


def test_starter_questions_find_their_topic(starter_retriever) -> None:  # type: ignore[no-untyped-def]
    s, r = starter_retriever
    cases = {
        "I keep wheezing and coughing at night, what can I do?": "starter-asthma",
        "how long does chickenpox stay contagious": "starter-chickenpox",
        "my back hurts after lifting boxes": "starter-back-pain",
    }
    ids = {d.id for d in load_source("starter")[0]}
    for question, expected in cases.items():
        if expected not in ids:
            continue
        hits = r.search(question, 3)
        assert hits[0].doc_id == expected, (question, [h.doc_id for h in hits])
        assert hits[0].score >= s.knowledge.min_score
        assert hits[0].chunk.url.startswith("http") and "—" in hits[0].chunk.title


def test_starter_off_topic_falls_below_threshold(starter_retriever) -> None:  # type: ignore[no-untyped-def]
    s, r = starter_retriever
    for q in OFF_TOPIC:
        assert r.search(q, 1)[0].score < s.knowledge.min_score, q


@pytest.mark.slow
def test_medquad_subset_build_search_and_threshold(shared_data: Path, tmp_path: Path) -> None:
    # The first 20 NHLBI documents (about 150 answers, asthma among them) keep CI's embedding cost small.
    sub = tmp_path / "MedQuAD" / "8_NHLBI_QA_XML"
    sub.mkdir(parents=True)
    for path in sorted((shared_data / "MedQuAD" / "8_NHLBI_QA_XML").glob("*.xml"))[:20]:
        shutil.copy(path, sub / path.name)
    sub = sub.parent
    s = _settings(tmp_path, [f"medquad:{sub}"])
    kindex.ensure_index(s)
    r = kindex.load_retriever(s)
    hits = r.search("What are the symptoms of asthma?", 5)
    assert any("asthma" in h.chunk.title.lower() for h in hits[:3])
    assert hits[0].doc_id.startswith("NHLBI_") and hits[0].doc_id.endswith(".txt")
    assert hits[0].score >= s.knowledge.min_score
    assert "MedQuAD" in hits[0].chunk.license
    for q in OFF_TOPIC:
        assert r.search(q, 1)[0].score < s.knowledge.min_score, q


def test_onnx_query_encoder_matches_pytorch_and_is_exported_once(tmp_path: Path) -> None:
    import numpy as np

    from knowledge.embedding import build_embedder

    s = _settings(tmp_path, ["starter"])
    emb = build_embedder(s.embedding, cache_dir=s.data_dir / "cache")
    queries = [
        "What are the side effects of metformin?",
        "my daughter has had a cough for three weeks and now a fever, do we need to see someone " * 6,
    ]
    fast = emb.encode_queries(queries)  # type: ignore[attr-defined]
    exported = list((s.data_dir / "cache" / "onnx").glob("*.onnx"))
    assert len(exported) == 1, "the query encoder should run on its ONNX export"
    model = emb.model  # type: ignore[attr-defined]
    model.max_seq_length = s.embedding.query_max_seq_length
    want = model.encode(queries, normalize_embeddings=True, convert_to_numpy=True)
    assert float(np.abs(fast - want).max()) < 1e-4
    stamp = exported[0].stat().st_mtime_ns
    again = build_embedder(s.embedding, cache_dir=s.data_dir / "cache")
    again.encode_queries(["fever"])  # type: ignore[attr-defined]
    assert exported[0].stat().st_mtime_ns == stamp  # reused, not re-exported
