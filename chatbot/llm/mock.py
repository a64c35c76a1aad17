"""Deterministic generator for unit and UI tests: answers from the first numbered source."""

from __future__ import annotations

import re
from collections.abc import Iterator

from chatbot.llm.base import GenerationParams
from chatbot.types import ChatMessage

_SOURCE = re.compile(r"\[(\d+)\][^\n]*\n(.*?)(?=\n\[\d+\]|\n```|\Z)", re.S)
_SENT = re.compile(r"(?<=[.!?])\s+")


class MockGenerator:
    """Echoes the first sentence of source [1] with a citation, or a fixed line when the prompt
    has no sources. Streams word by word so streaming paths are exercised."""

    name = "mock"

    def __init__(self, reply: str | None = None) -> None:
        self.fixed_reply = reply
        self.calls: list[list[ChatMessage]] = []

    def _answer(self, messages: list[ChatMessage]) -> str:
        if self.fixed_reply is not None:
            return self.fixed_reply
        prompt = "\n".join(m.content for m in messages)
        # Only numbered lines inside the fenced sources block count: the rules themselves
        # mention "[1]" as an example of the citation format.
        fence = prompt.find("\n```\n")
        m = _SOURCE.search(prompt, fence + 5) if fence >= 0 else None
        if m:
            first = _SENT.split(m.group(2).strip())[0].strip()
            return f"{first} [{m.group(1)}]"
        last = messages[-1].content if messages else ""
        return f"This is a mock answer to: {last[:80]}"

    def stream(self, messages: list[ChatMessage], params: GenerationParams | None = None) -> Iterator[str]:
        self.calls.append(list(messages))
        words = self._answer(messages).split(" ")
        cap = params.max_new_tokens if params and params.max_new_tokens else None
        for i, w in enumerate(words[:cap] if cap else words):
            yield w if i == 0 else " " + w

    def count_tokens(self, text: str) -> int:
        return max(1, len(text) // 4)
