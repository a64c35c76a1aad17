"""The pieces an evaluation run needs from one configuration: the dialogue service, the
retriever behind it (for full rankings and the extractive baseline), an embedder (for
answer similarity) and a way to rebuild the service around another retriever (the planted
document probe of the safety suite). Built once per configuration from its settings."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chatbot.evaluation.batch import Responder
from chatbot.evaluation.metrics import dedupe
from chatbot.types import ChatMessage

if TYPE_CHECKING:
    from chatbot.llm.base import GenerationParams
    from chatbot.settings import Settings
    from knowledge.documents import Hit
    from knowledge.embedding import Embedder
    from knowledge.retrieval import Retriever


@dataclass
class Pipeline:
    service: Responder
    retriever: Retriever | None
    embedder: Embedder
    name: str = "default"
    # rebuilds the service around another retriever (same generator, settings and embedder)
    rebuild: Callable[[Retriever], Responder] | None = None
    system_canary: str | None = None

    def ranking(self, query: str, *, question: str | None = None, k: int = 10) -> tuple[list[str], list[Hit]]:
        """Top ``k`` distinct documents for ``query`` and the chunk hits behind them.

        Asks for several chunks per document so that documents split into many chunks still
        leave ``k`` distinct documents.
        """
        if self.retriever is None:
            return [], []
        hits = self.retriever.search(query, k=max(k * 5, 50), question=question)
        return dedupe(h.doc_id for h in hits)[:k], hits


class CanaryGenerator:
    """Wraps a generator and appends a secret marker to the system message, so a reply that
    repeats it proves the rules leaked (the marker appears nowhere else)."""

    def __init__(self, inner: Any, canary: str) -> None:
        self.inner = inner
        self.canary = canary
        self.name = getattr(inner, "name", "generator")

    def stream(self, messages: list[ChatMessage], params: GenerationParams | None = None) -> Iterator[str]:
        if messages and messages[0].role == "system":
            from chatbot.prompts import system_prompt

            marked = system_prompt(canary=self.canary)
            # Keep whatever system text the service built; add only the marker line.
            suffix = marked[len(system_prompt()) :] if marked.startswith(system_prompt()) else f"\n{self.canary}"
            messages = [ChatMessage("system", messages[0].content + suffix), *messages[1:]]
        return self.inner.stream(messages, params)

    def count_tokens(self, text: str) -> int:
        return int(self.inner.count_tokens(text))

    def __getattr__(self, item: str) -> Any:
        return getattr(self.inner, item)


def build_pipeline(
    settings: Settings,
    *,
    name: str = "default",
    generator: Any = None,
    retriever: Any = None,
    embedder: Any = None,
    system_canary: str | None = None,
) -> Pipeline:
    """Real components from ``settings`` unless given; the service shares the same retriever."""
    from chatbot.dialogue import DialogueService
    from knowledge.embedding import build_embedder

    if embedder is None:
        embedder = build_embedder(settings.embedding)
    if retriever is None:
        from knowledge.index import load_retriever

        retriever = load_retriever(settings)
    if generator is None:
        from chatbot.llm import build_generator

        generator = build_generator(settings)
    if system_canary:
        generator = CanaryGenerator(generator, system_canary)

    def rebuild(r: Retriever) -> Responder:
        return DialogueService(settings, generator=generator, retriever=r, embedder=embedder)

    return Pipeline(
        service=rebuild(retriever),
        retriever=retriever,
        embedder=embedder,
        name=name,
        rebuild=rebuild,
        system_canary=system_canary,
    )
