"""The one interface every generation backend implements."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from chatbot.errors import GenerationError
from chatbot.types import ChatMessage

__all__ = ["GenerationError", "GenerationParams", "Generator", "generate"]


@dataclass(frozen=True)
class GenerationParams:
    max_new_tokens: int | None = None  # None = the backend's configured cap
    temperature: float | None = None
    stop: tuple[str, ...] = ()


@runtime_checkable
class Generator(Protocol):
    name: str

    def stream(self, messages: list[ChatMessage], params: GenerationParams | None = None) -> Iterator[str]:
        """Yield text deltas as they are generated; ends at EOS, a stop string or the cap."""
        ...

    def count_tokens(self, text: str) -> int: ...


def generate(gen: Generator, messages: list[ChatMessage], params: GenerationParams | None = None) -> str:
    return "".join(gen.stream(messages, params))
