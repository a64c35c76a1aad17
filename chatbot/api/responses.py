"""Response bodies shared by the routes: OpenAI's error shape, the mapping of failures to
status codes, the ``healthbot`` extension field, usage counts and server-sent events."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from typing import Any

from fastapi.responses import JSONResponse

from chatbot import prompts
from chatbot.concurrency import BusyError
from chatbot.errors import GenerationError, HealthbotError
from chatbot.types import Reply

log = logging.getLogger("healthbot.api")


def error_body(message: str, type_: str, code: str | None = None) -> dict[str, Any]:
    """OpenAI's error shape, so OpenAI clients show the message."""
    return {"error": {"message": message, "type": type_, "code": code, "param": None}}


def busy_response(err: BusyError) -> JSONResponse:
    return JSONResponse(
        error_body(str(err), "server_busy", "busy"),
        status_code=503,
        headers={"Retry-After": str(err.retry_after_s)},
    )


def reply_extra(reply: Reply) -> dict[str, Any]:
    """The ``healthbot`` field: what a client needs to show sources and an emergency banner."""
    return {
        "text": reply.text,
        "citations": [asdict(c) for c in reply.citations],
        "triage": asdict(reply.triage),
        "grounded_fraction": reply.grounded_fraction,
        "flags": list(reply.flags),
        "refused": reply.refused,
        "timings": asdict(reply.timings),
        "retrieved": reply.retrieved,
    }


def usage(prompt_chars: int, reply: Reply) -> dict[str, int]:
    # Token counts of the remote model are not known here; characters/4 is OpenAI's own rule of thumb.
    prompt_tokens = max(1, prompt_chars // 4)
    completion = reply.timings.tokens_generated or max(1, len(reply.text) // 4)
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion, "total_tokens": prompt_tokens + completion}


def error_response(err: BaseException) -> JSONResponse:
    if isinstance(err, BusyError):
        return busy_response(err)
    if isinstance(err, GenerationError):
        log.error("generation backend failed: %s", err)
        return JSONResponse(error_body(str(err), "backend_unavailable"), status_code=503, headers={"Retry-After": "5"})
    if isinstance(err, HealthbotError):
        return JSONResponse(error_body(str(err), "invalid_request_error"), status_code=400)
    log.error("chat completion failed", exc_info=err)
    return JSONResponse(error_body(prompts.INTERNAL_ERROR_MESSAGE, "server_error"), status_code=500)


def sse(data: dict[str, Any] | str) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return f"data: {payload}\n\n".encode()
