"""The retrieval interface the dialogue manager depends on."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from knowledge.documents import Hit


@runtime_checkable
class Retriever(Protocol):
    def search(self, query: str, k: int = 5, *, question: str | None = None) -> list[Hit]:
        """Ranked hits for ``query`` (best first); ``question`` is an optional reduced form
        of a long consumer message used as an extra signal."""
        ...


@runtime_checkable
class DocumentLookup(Protocol):
    def document_lead(self, doc_id: str) -> str:
        """The document's title and first chunk ("" for an unknown id): what it is about as a whole."""
        ...
