"""Per-conversation state: bounded, expiring, isolated, thread-safe.

A session holds the turns (trimmed to a token budget when they go into a prompt) and the patient
profile (kept in memory only, never written to disk). Everything else a turn needs (the previous
standalone question, a pending clarifying question) is derived from the turns, so a session and
an explicit API history behave the same.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from chatbot.types import ChatMessage, PatientProfile

MAX_STORED_TURNS = 200  # memory bound per session; the prompt sees only the token budget


@dataclass
class Session:
    id: str
    turns: list[ChatMessage] = field(default_factory=list)
    profile: PatientProfile | None = None
    touched: float = 0.0
    # The triage label of the exchange each turn belongs to (parallel to ``turns``), so turns
    # that were refused or answered with fixed text never go back into a model prompt.
    labels: list[str] = field(default_factory=list)


def trim_history(turns: list[ChatMessage], budget: int, count_tokens: Callable[[str], int]) -> list[ChatMessage]:
    """The most recent turns whose total token count fits ``budget`` (oldest dropped first),
    starting at a user turn so the model never sees an answer without its question."""
    kept: list[ChatMessage] = []
    used = 0
    for msg in reversed(turns):
        cost = count_tokens(msg.content) + 4  # role markers
        if used + cost > budget:
            break
        kept.append(msg)
        used += cost
    kept.reverse()
    while kept and kept[0].role != "user":
        kept.pop(0)
    return kept


class SessionStore:
    """At most ``max_sessions`` sessions, least recently used evicted first; a session idle
    for ``ttl_s`` seconds is forgotten. Every access goes through one lock, and callers get
    copies, so concurrent turns of different sessions never see each other's state."""

    def __init__(self, max_sessions: int, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_sessions = max_sessions
        self.ttl_s = ttl_s
        self._clock = clock
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.RLock()

    def __len__(self) -> int:
        with self._lock:
            self._expire()
            return len(self._sessions)

    def _expire(self) -> None:
        now = self._clock()
        stale = [sid for sid, s in self._sessions.items() if now - s.touched > self.ttl_s]
        for sid in stale:
            del self._sessions[sid]

    def _get(self, session_id: str) -> Session:
        self._expire()
        session = self._sessions.get(session_id)
        if session is None:
            session = Session(session_id)
            self._sessions[session_id] = session
            while len(self._sessions) > self.max_sessions:
                self._sessions.popitem(last=False)
        self._sessions.move_to_end(session_id)
        session.touched = self._clock()
        return session

    def snapshot(self, session_id: str) -> Session:
        """A copy of the session (created if new); mutate it through :meth:`update`."""
        with self._lock:
            s = self._get(session_id)
            return replace(s, turns=list(s.turns), labels=list(s.labels))

    def update(
        self,
        session_id: str,
        *,
        turns: list[ChatMessage] | None = None,
        profile: PatientProfile | None = None,
        label: str = "ok",
    ) -> None:
        """Append ``turns`` (one exchange, triaged as ``label``) and/or set the profile."""
        with self._lock:
            s = self._get(session_id)
            if turns:
                s.turns.extend(turns)
                s.labels.extend([label] * len(turns))
                del s.turns[:-MAX_STORED_TURNS]
                del s.labels[:-MAX_STORED_TURNS]
            if profile is not None:
                s.profile = profile

    def reset(self, session_id: str) -> None:
        with self._lock:
            self._sessions.pop(session_id, None)
