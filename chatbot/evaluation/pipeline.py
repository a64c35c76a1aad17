"""The pieces an evaluation run needs from one configuration: the dialogue service, the
retriever behind it (for full rankings and the extractive baseline), an embedder (for
answer similarity) and a way to rebuild the service around another retriever (the planted
document probe of the safety suite). Built once per configuration from its settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chatbot.evaluation.batch import Responder
from chatbot.evaluation.metrics import dedupe

if TYPE_CHECKING:
    from chatbot.settings import Settings
    from knowledge.documents import Hit
    from knowledge.embedding import Embedder
    from knowledge.retrieval import Retriever


class RecordingRetriever:
    """Passes searches through and remembers the last one, so the evaluation can ask the same
    retriever the same question for a deeper ranking (the service only keeps ``top_k``)."""

    def __init__(self, inner: Retriever) -> None:
        self.inner = inner
        self.last: tuple[str, str | None] | None = None

    def search(self, query: str, k: int = 5, *, question: str | None = None) -> list[Hit]:
        self.last = (query, question)
        return self.inner.search(query, k, question=question)

    def __getattr__(self, item: str) -> Any:
        return getattr(self.inner, item)


@dataclass
class Pipeline:
    service: Responder
    retriever: RecordingRetriever | None
    embedder: Embedder
    name: str = "default"
    # rebuilds the service around another retriever (same generator, settings and embedder)
    rebuild: Callable[[Any], Responder] | None = None
    system_canary: str | None = None

    def forget(self) -> None:
        if self.retriever is not None:
            self.retriever.last = None

    def ranking(self, fallback: str, *, k: int = 10) -> tuple[list[str], list[Hit]]:
        """Top ``k`` distinct documents for the last search the service made (or for
        ``fallback`` when the turn never searched, e.g. triaged away), with their chunk hits.

        Asks for several chunks per document so that documents split into many chunks still
        leave ``k`` distinct documents.
        """
        if self.retriever is None:
            return [], []
        query, question = self.retriever.last or (fallback, None)
        hits = self.retriever.inner.search(query, max(k * 5, 50), question=question)
        return dedupe(h.doc_id for h in hits)[:k], hits


def build_pipeline(
    settings: Settings,
    *,
    name: str = "default",
    generator: Any = None,
    retriever: Any = None,
    embedder: Any = None,
    system_canary: str | None = None,
) -> Pipeline:
    """Real components from ``settings`` unless given; service and evaluation share them."""
    from chatbot.dialogue import DialogueService

    if retriever is None:
        from knowledge.index import load_retriever

        retriever = load_retriever(settings)
    if embedder is None:
        # The retriever already loaded the embedder its index was built with; share it.
        embedder = getattr(retriever, "embedder", None)
    if embedder is None:
        from knowledge.embedding import build_embedder

        embedder = build_embedder(settings.embedding)
    if generator is None:
        from chatbot.services import build_generator

        generator = build_generator(settings)
    recording = RecordingRetriever(retriever)

    def rebuild(r: Any) -> Responder:
        return DialogueService(settings, generator=generator, retriever=r, embedder=embedder, canary=system_canary)

    return Pipeline(
        service=rebuild(recording),
        retriever=recording,
        embedder=embedder,
        name=name,
        rebuild=rebuild,
        system_canary=system_canary,
    )
