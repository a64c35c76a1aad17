"""OpenAI-compatible HTTP API beside the UI, plus health probes and the clinician ratings API.

- ``POST /v1/chat/completions``: streaming (SSE) and not; every reply carries its citations,
  triage, grounded fraction and flags in an extra ``healthbot`` field. Requests are stateless:
  each one gets a fresh dialogue session (the client sends the history), dropped afterwards, so
  no caller can see another caller's turns. System messages from the client are ignored: the
  bot's rules are not negotiable over the API.
- ``GET /v1/models``, ``GET /healthz`` (liveness), ``GET /readyz`` (503 while the queue is full).
- ``/v1/ratings...``: clinician ratings, HTTP basic auth against the clinician accounts (``chatbot.accounts``).

Every generating request takes a slot of the :class:`ConcurrencyLimiter` the UI shares; when
none is free and the queue is full the answer is 503 with ``Retry-After``.

The routes live by concern in :mod:`chatbot.api.chat`, :mod:`chatbot.api.health` and
:mod:`chatbot.api.ratings`; this package assembles them and keeps every name importable from
``chatbot.api``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from fastapi import APIRouter

from chatbot.api.chat import MAX_HISTORY_MESSAGES, add_chat_routes
from chatbot.api.health import add_health_routes
from chatbot.api.middleware import (
    CONTENT_SECURITY_POLICY,
    SECURITY_HEADERS,
    ASGIApp,
    BodyLimitMiddleware,
    Message,
    Receive,
    Scope,
    SecurityHeadersMiddleware,
    Send,
)
from chatbot.api.models import MODEL_ID, ChatCompletionRequest, ChatMessageIn, ProfileIn, RatingIn, TextPart
from chatbot.api.ratings import add_ratings_routes
from chatbot.api.responses import busy_response, error_body, reply_extra
from chatbot.concurrency import ConcurrencyLimiter

if TYPE_CHECKING:
    from chatbot.dialogue import ChatService
    from chatbot.settings import Settings
    from chatbot.storage import Storage

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "MAX_HISTORY_MESSAGES",
    "MODEL_ID",
    "SECURITY_HEADERS",
    "ASGIApp",
    "BodyLimitMiddleware",
    "ChatCompletionRequest",
    "ChatMessageIn",
    "Message",
    "ProfileIn",
    "RatingIn",
    "Receive",
    "Scope",
    "SecurityHeadersMiddleware",
    "Send",
    "TextPart",
    "build_router",
    "busy_response",
    "error_body",
    "reply_extra",
]


def build_router(
    settings: Settings,
    service: ChatService,
    limiter: ConcurrencyLimiter,
    storage: Storage,
    *,
    ready: Callable[[], bool] = lambda: True,
) -> APIRouter:
    router = APIRouter()
    add_health_routes(router, limiter, ready)
    add_chat_routes(router, settings, service, limiter, storage)
    add_ratings_routes(router, settings, storage)
    return router
