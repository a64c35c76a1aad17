"""One concurrency limit shared by the chat UI and the API, with a bounded waiting queue.

A turn takes a slot for as long as it generates. When every slot is busy, up to ``max_queue``
callers wait (oldest first) for at most ``queue_timeout_s``; anyone beyond that is told at once
that the server is busy and when to retry, instead of piling up threads and memory.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from chatbot.errors import HealthbotError


class BusyError(HealthbotError, RuntimeError):
    """Every slot is busy and the queue is full (or the wait timed out)."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class LimiterStats:
    active: int
    waiting: int
    max_concurrency: int
    max_queue: int
    rejected: int
    completed: int


class ConcurrencyLimiter:
    """A FIFO semaphore with a bounded queue; thread-safe, usable from sync and threadpool code."""

    def __init__(self, max_concurrency: int, max_queue: int, queue_timeout_s: float = 30.0) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        if max_queue < 0:
            raise ValueError("max_queue must be >= 0")
        self.max_concurrency = max_concurrency
        self.max_queue = max_queue
        self.queue_timeout_s = queue_timeout_s
        self._cond = threading.Condition()
        self._active = 0
        self._waiting: deque[object] = deque()
        self._rejected = 0
        self._completed = 0
        # Running mean of slot hold time, to suggest a sensible Retry-After.
        self._mean_hold_s = 2.0

    def stats(self) -> LimiterStats:
        with self._cond:
            return LimiterStats(
                self._active, len(self._waiting), self.max_concurrency, self.max_queue, self._rejected, self._completed
            )

    def retry_after_s(self) -> int:
        with self._cond:
            return self._retry_after_locked()

    def _retry_after_locked(self) -> int:
        backlog = (len(self._waiting) + 1) / self.max_concurrency
        return max(1, min(120, math.ceil(backlog * self._mean_hold_s)))

    def acquire(self, timeout_s: float | None = None) -> None:
        """Take a slot, waiting in the queue if there is room; raise :class:`BusyError` otherwise."""
        from chatbot.prompts import BUSY_MESSAGE

        timeout = self.queue_timeout_s if timeout_s is None else timeout_s
        with self._cond:
            if self._active < self.max_concurrency and not self._waiting:
                self._active += 1
                return
            if len(self._waiting) >= self.max_queue:
                self._rejected += 1
                raise BusyError(BUSY_MESSAGE, self._retry_after_locked())
            ticket = object()
            self._waiting.append(ticket)
            deadline = time.monotonic() + timeout
            try:
                while not (self._waiting[0] is ticket and self._active < self.max_concurrency):
                    left = deadline - time.monotonic()
                    if left <= 0:
                        self._rejected += 1
                        raise BusyError(BUSY_MESSAGE, self._retry_after_locked())
                    self._cond.wait(left)
                self._active += 1
            finally:
                self._waiting.remove(ticket)
                # The next in line may be able to go now (or the head changed after a timeout).
                self._cond.notify_all()

    def release(self, held_s: float | None = None) -> None:
        with self._cond:
            if self._active <= 0:
                raise RuntimeError("release() without acquire()")
            self._active -= 1
            self._completed += 1
            if held_s is not None:
                self._mean_hold_s = 0.8 * self._mean_hold_s + 0.2 * max(0.05, held_s)
            self._cond.notify_all()

    @contextmanager
    def slot(self, timeout_s: float | None = None) -> Iterator[None]:
        self.acquire(timeout_s)
        start = time.monotonic()
        try:
            yield
        finally:
            self.release(time.monotonic() - start)
