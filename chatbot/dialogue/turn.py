"""The records of one chat turn inside the dialogue service: :class:`Turn` (what a front end
asks) and :class:`TurnState` (what the service has worked out so far)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypedDict

from chatbot.types import ChatMessage, PatientProfile, Query, Timings

if TYPE_CHECKING:
    from chatbot.llm.base import Generator
    from chatbot.query import Understanding
    from knowledge.documents import Hit


class TurnOptions(TypedDict, total=False):
    """The keyword form of :class:`Turn` that ``DialogueService.stream``/``reply`` accept."""

    session_id: str | None
    profile: PatientProfile | None
    history: list[ChatMessage] | None
    hits: list[Hit] | None
    generator: Generator | None


@dataclass(frozen=True)
class Turn:
    """One message to answer, with where its conversation lives.

    ``session_id``: the service keeps the conversation; ``history``: the caller owns it (API),
    and the session store is not touched; ``hits``: passages chosen by the caller (comparisons
    over the same passages); ``generator``: another model for this turn only (workbench)."""

    message: str
    session_id: str | None = None
    profile: PatientProfile | None = None
    history: list[ChatMessage] | None = None
    hits: list[Hit] | None = None
    generator: Generator | None = None

    @classmethod
    def of(cls, turn: Turn | str, **options: Any) -> Turn:
        if isinstance(turn, Turn):
            if options:
                raise TypeError("pass either a Turn or a message with options, not both")
            return turn
        return cls(turn, **options)


@dataclass
class TurnState:
    """What the service knows about a turn while it runs; handed from step to step."""

    turn: Turn
    message: str  # the checked (stripped, bounded) message
    flags: list[str]
    turns: list[ChatMessage] = field(default_factory=list)  # earlier turns, unfiltered
    prompt_history: list[ChatMessage] = field(default_factory=list)  # replayable, trimmed
    profile: PatientProfile | None = None  # effective: after a clarifying answer
    understanding: Understanding | None = None
    previous: str | None = None  # the previous standalone question (a follow-up leans on it)
    timings: Timings = field(default_factory=Timings)
    t0: float = field(default_factory=time.perf_counter)

    @property
    def session_id(self) -> str | None:
        # A caller-owned history never touches the session store.
        return None if self.turn.history is not None else self.turn.session_id

    @property
    def query(self) -> Query | None:
        return self.understanding.query if self.understanding is not None else None


__all__ = ["Turn", "TurnOptions", "TurnState"]
