"""Typed records that flow through ingest -> chunk -> embed -> index -> retrieve."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Document:
    """One source document (a MedQuAD QA pair, a starter topic, a JSONL row...)."""

    id: str
    text: str
    title: str = ""
    question: str | None = None  # the stored question of a QA pair, a retrieval signal of its own
    url: str = ""
    source: str = ""
    license: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Chunk:
    """A token-bounded piece of a document, carrying the document's metadata."""

    id: str  # "<doc_id>#<position>"
    doc_id: str
    text: str
    position: int = 0
    title: str = ""
    question: str | None = None
    url: str = ""
    source: str = ""
    license: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its fused score and the per-signal scores behind it."""

    chunk: Chunk
    score: float
    scores: dict[str, float] = field(default_factory=dict)

    @property
    def doc_id(self) -> str:
        return self.chunk.doc_id
