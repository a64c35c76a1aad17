"""Shared fakes (one per pipeline stage) and fixtures.

Unit tests use these; tests marked ``integration`` use the real embedded model and embedder.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from chatbot.llm.mock import MockGenerator
from chatbot.settings import Settings, load_settings
from knowledge.documents import Chunk, Hit
from knowledge.embedding import MockEmbedder

REPO = Path(__file__).resolve().parent.parent


def shared_data_dir() -> Path:
    return Path(os.environ.get("HEALTHBOT_SHARED_DATA", REPO.parent / "shared" / "data"))


class FakeRetriever:
    """Cosine search with the mock embedder over an in-memory chunk list."""

    def __init__(self, chunks: list[Chunk], embedder: MockEmbedder | None = None) -> None:
        self.chunks = chunks
        self.embedder = embedder or MockEmbedder(256)
        self._vecs = self.embedder.encode([f"{c.title}. {c.question or ''} {c.text}" for c in chunks])
        self.queries: list[str] = []

    def search(self, query: str, k: int = 5, *, question: str | None = None) -> list[Hit]:
        self.queries.append(query)
        if not self.chunks:
            return []
        q = self.embedder.encode([query])[0]
        sims = self._vecs @ q
        order = sims.argsort()[::-1][:k]
        return [Hit(self.chunks[i], float(sims[i]), {"dense": float(sims[i])}) for i in order]


def make_chunk(doc_id: str, text: str, title: str = "", **kw: object) -> Chunk:
    return Chunk(id=f"{doc_id}#0", doc_id=doc_id, text=text, title=title or doc_id, **kw)  # type: ignore[arg-type]


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Mock backends, a private data dir, no YAML file and no stray HEALTHBOT_ variables."""
    for key in list(os.environ):
        if key.startswith("HEALTHBOT_") and key != "HEALTHBOT_SHARED_DATA":
            monkeypatch.delenv(key)
    return load_settings(
        data_dir=tmp_path / "data",
        llm={"mode": "mock", "adapter": None},
        embedding={"mode": "mock", "dimension": 256},
        # The learned triage needs MiniLM; tests that want it pass a model in.
        triage={"mode": "rules"},
    )


@pytest.fixture
def mock_generator() -> MockGenerator:
    return MockGenerator()


@pytest.fixture
def mock_embedder() -> MockEmbedder:
    return MockEmbedder(256)


@pytest.fixture
def health_chunks() -> list[Chunk]:
    return [
        make_chunk(
            "asthma",
            "Asthma is a long-term condition in which the airways narrow and swell, causing wheezing, "
            "coughing and shortness of breath. Inhalers that relieve or prevent symptoms are the main treatment.",
            title="Asthma",
            url="https://www.nhlbi.nih.gov/health/asthma",
            source="starter",
        ),
        make_chunk(
            "flu",
            "Influenza is a contagious respiratory illness caused by flu viruses. Fever, cough, sore throat and "
            "body aches are common. A yearly flu vaccine lowers the risk of getting sick.",
            title="Influenza (flu)",
            url="https://www.cdc.gov/flu/",
            source="starter",
        ),
        make_chunk(
            "hypertension",
            "High blood pressure often has no symptoms. It raises the risk of heart attack and stroke. "
            "Less salt, regular activity and medicines prescribed by a clinician lower it.",
            title="High blood pressure",
            url="https://www.cdc.gov/bloodpressure/",
            source="starter",
        ),
    ]


@pytest.fixture
def fake_retriever(health_chunks: list[Chunk]) -> Iterator[FakeRetriever]:
    yield FakeRetriever(health_chunks)


@pytest.fixture
def shared_data() -> Path:
    path = shared_data_dir()
    if not (path / "MedQuAD").is_dir():
        pytest.skip(f"shared data not found at {path} (set HEALTHBOT_SHARED_DATA)")
    return path
