"""Backend-independent guards on a stream of text deltas: stop strings and degenerate loops."""

from __future__ import annotations

import re
from collections import Counter

_WORD = re.compile(r"\w+", re.UNICODE)
GUARD_N = 4  # the loop guard counts word 4-grams


class RepetitionGuard:
    """Counts word 4-grams of the streamed answer; trips when one reaches ``limit`` occurrences."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.words: list[str] = []
        self.counts: Counter[tuple[str, ...]] = Counter()
        self._pending = ""

    def feed(self, text: str) -> bool:
        """Add streamed text; True when the answer has started looping."""
        self._pending += text.lower()
        counted_to = 0
        for m in _WORD.finditer(self._pending):
            if m.end() == len(self._pending):
                break  # the word may continue in the next delta
            counted_to = m.end()
            self.words.append(m.group())
            if len(self.words) >= GUARD_N:
                gram = tuple(self.words[-GUARD_N:])
                self.counts[gram] += 1
                if self.counts[gram] >= self.limit:
                    return True
        self._pending = self._pending[counted_to:]
        return False


class StopMatcher:
    """Holds back just enough text to never emit the beginning of a stop string."""

    def __init__(self, stops: tuple[str, ...]) -> None:
        self.stops = tuple(s for s in stops if s)
        self.buffer = ""

    def push(self, text: str) -> tuple[str, bool]:
        """(text safe to emit now, whether a stop string was hit)."""
        if not self.stops:
            return text, False
        self.buffer += text
        cut = min((i for i in (self.buffer.find(s) for s in self.stops) if i >= 0), default=-1)
        if cut >= 0:
            out, self.buffer = self.buffer[:cut], ""
            return out, True
        keep = 0
        for s in self.stops:
            for k in range(min(len(s) - 1, len(self.buffer)), 0, -1):
                if self.buffer.endswith(s[:k]):
                    keep = max(keep, k)
                    break
        out = self.buffer[: len(self.buffer) - keep]
        self.buffer = self.buffer[len(out) :]
        return out, False

    def flush(self) -> str:
        out, self.buffer = self.buffer, ""
        return out
