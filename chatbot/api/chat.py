"""The OpenAI-compatible routes: ``GET /v1/models`` and ``POST /v1/chat/completions``, streamed
(SSE) or not. Each request is one stateless turn in a fresh dialogue session that holds a
limiter slot until its answer is generated."""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.background import BackgroundTask

from chatbot import prompts
from chatbot.api.models import MODEL_ID, ChatCompletionRequest, ChatMessageIn
from chatbot.api.responses import busy_response, error_body, error_response, reply_extra, usage
from chatbot.api.streaming import Finisher, final_reply, pumped, stream_chunks
from chatbot.concurrency import BusyError, ConcurrencyLimiter
from chatbot.types import ChatMessage, Reply

if TYPE_CHECKING:
    from chatbot.dialogue import ChatService
    from chatbot.settings import Settings
    from chatbot.storage import Storage

# The dialogue manager trims history to its token budget; this only bounds the work of
# converting a huge client-sent history before that happens.
MAX_HISTORY_MESSAGES = 200


def request_error(turns: list[ChatMessageIn], max_chars: int) -> JSONResponse | None:
    """The 400 answer for a conversation that does not end in a usable user message."""
    if not turns or turns[-1].role != "user":
        return JSONResponse(
            error_body("the last message must be a user message", "invalid_request_error"), status_code=400
        )
    message = turns[-1].text()
    if not message.strip():
        return JSONResponse(error_body(prompts.EMPTY_MESSAGE, "invalid_request_error"), status_code=400)
    if len(message) > max_chars:
        return JSONResponse(
            error_body(
                prompts.MESSAGE_TOO_LONG.format(n=len(message), limit=max_chars),
                "invalid_request_error",
                "message_too_long",
            ),
            status_code=400,
        )
    return None


def completion_body(completion_id: str, created: int, reply: Reply, prompt_chars: int) -> dict[str, Any]:
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": MODEL_ID,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": reply.text}, "finish_reason": "stop"}],
        "usage": usage(prompt_chars, reply),
        "healthbot": reply_extra(reply),
    }


def add_chat_routes(
    router: APIRouter, settings: Settings, service: ChatService, limiter: ConcurrencyLimiter, storage: Storage
) -> None:
    max_chars = settings.dialogue.max_message_chars

    def log_conversation(session_id: str, message: str, reply: Reply) -> None:
        if settings.server.store_conversations:
            storage.log_turn(session_id, "user", message)
            storage.log_turn(session_id, "assistant", reply.text)

    @router.get("/v1/models", tags=["openai"])
    def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "healthbot"}]}

    @router.post(
        "/v1/chat/completions",
        tags=["openai"],
        response_model=None,
        responses={
            400: {"description": "invalid request"},
            413: {"description": "request too large"},
            503: {"description": "busy, retry after Retry-After seconds"},
        },
    )
    def chat_completions(req: ChatCompletionRequest) -> Response:
        turns = [m for m in req.messages if m.role in ("user", "assistant")]
        invalid = request_error(turns, max_chars)
        if invalid is not None:
            return invalid
        message = turns[-1].text()
        history = [ChatMessage(m.role, m.text()[:max_chars]) for m in turns[:-1][-MAX_HISTORY_MESSAGES:]]  # type: ignore[arg-type]
        profile = req.profile.to_profile() if req.profile else None
        session_id = f"api-{uuid.uuid4().hex}"
        completion_id = f"chatcmpl-{uuid.uuid4().hex}"
        created = int(time.time())
        try:
            limiter.acquire()
        except BusyError as err:
            return busy_response(err)
        finish = Finisher(service, limiter, session_id)
        try:
            events = service.stream(message, session_id=session_id, profile=profile, history=history)
        except Exception as err:
            finish()
            return error_response(err)
        if req.stream:
            # The generator's finally gives the slot back as soon as the answer is generated; the
            # background task covers a response that is never started.
            chunks = stream_chunks(
                events, completion_id, created, finish, lambda reply: log_conversation(session_id, message, reply)
            )
            return StreamingResponse(
                pumped(chunks),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
                background=BackgroundTask(finish),
            )
        try:
            reply = final_reply(events)
        except Exception as err:
            return error_response(err)
        finally:
            finish()
        log_conversation(session_id, message, reply)
        prompt_chars = sum(len(m.content) for m in history) + len(message)
        return JSONResponse(
            completion_body(completion_id, created, reply, prompt_chars), headers={"Cache-Control": "no-store"}
        )
