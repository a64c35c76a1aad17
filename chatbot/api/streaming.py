"""One API turn's lifetime and its streamed answer: the finisher that frees the turn's slot
exactly once, the SSE chunks of a streamed completion, and the pump that moves a blocking
chunk iterator onto the event loop."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any

from chatbot.api.models import MODEL_ID
from chatbot.api.responses import error_response, reply_extra, sse
from chatbot.concurrency import ConcurrencyLimiter
from chatbot.types import Reply, ReplyEvent

if TYPE_CHECKING:
    from chatbot.dialogue import ChatService

log = logging.getLogger("healthbot.api")


class Finisher:
    """Ends one API turn exactly once: forgets its session and frees its slot."""

    def __init__(self, service: ChatService, limiter: ConcurrencyLimiter, session_id: str) -> None:
        self.service = service
        self.limiter = limiter
        self.session_id = session_id
        self.started = time.monotonic()
        self._done = False
        self._lock = threading.Lock()

    def __call__(self) -> None:
        with self._lock:
            if self._done:
                return
            self._done = True
        try:
            self.service.reset(self.session_id)
        finally:
            self.limiter.release(time.monotonic() - self.started)


def final_reply(events: Iterator[ReplyEvent]) -> Reply:
    reply = None
    for ev in events:
        if ev.kind == "done":
            reply = ev.reply
    if reply is None:
        raise RuntimeError("the dialogue service ended a turn without a reply")
    return reply


def stream_chunks(
    events: Iterator[ReplyEvent],
    completion_id: str,
    created: int,
    finish: Finisher,
    on_reply: Callable[[Reply], None],
) -> Iterator[bytes]:
    """The SSE chunks of one streamed completion; ``on_reply`` sees the finished reply before
    the last chunk goes out. Errors become an error event, never a broken stream."""

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
        body = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": MODEL_ID,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        }
        return sse(body)

    try:
        yield chunk({"role": "assistant", "content": ""})
        reply = None
        for ev in events:
            if ev.kind == "delta" and ev.text:
                yield chunk({"content": ev.text})
            elif ev.kind == "done":
                reply = ev.reply
        if reply is None:
            raise RuntimeError("the dialogue service ended a turn without a reply")
        on_reply(reply)
        yield chunk({}, "stop", healthbot=reply_extra(reply))
        yield sse("[DONE]")
    except Exception as err:
        yield sse(json.loads(bytes(error_response(err).body)))
        yield sse("[DONE]")
    finally:
        finish()


async def pumped(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    """Runs a blocking chunk iterator in one worker thread and hands its output to the event
    loop, joining whatever is ready into one write. (Starlette would otherwise hop into its
    threadpool once per token, which under load costs more than generating the token.) If the
    client goes away, the iterator is closed, which ends the turn and frees its slot."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[bytes | None] = asyncio.Queue()
    stop = threading.Event()

    def pump() -> None:
        try:
            for item in chunks:
                loop.call_soon_threadsafe(queue.put_nowait, item)
                if stop.is_set():
                    break
        except Exception:
            log.exception("streaming a chat completion failed")
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
            loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=pump, name="healthbot-stream", daemon=True).start()
    try:
        while True:
            item = await queue.get()
            if item is None:
                return
            parts = [item]
            while not queue.empty():
                nxt = queue.get_nowait()
                if nxt is None:
                    yield b"".join(parts)
                    return
                parts.append(nxt)
            yield b"".join(parts)
    finally:
        stop.set()
