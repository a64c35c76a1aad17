"""OpenAI-compatible HTTP API beside the UI, plus health probes and the clinician ratings API.

- ``POST /v1/chat/completions``: streaming (SSE) and not; every reply carries its citations,
  triage, grounded fraction and flags in an extra ``healthbot`` field. Requests are stateless:
  each one gets a fresh dialogue session (the client sends the history), dropped afterwards, so
  no caller can see another caller's turns. System messages from the client are ignored: the
  bot's rules are not negotiable over the API.
- ``GET /v1/models``, ``GET /healthz`` (liveness), ``GET /readyz`` (503 while the queue is full).
- ``/v1/ratings...``: clinician ratings, HTTP basic auth against ``server.clinicians``.

Every generating request takes a slot of the :class:`ConcurrencyLimiter` the UI shares; when
none is free and the queue is full the answer is 503 with ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, MutableMapping
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from pydantic import BaseModel, ConfigDict, Field
from starlette.background import BackgroundTask

from chatbot import prompts
from chatbot.concurrency import BusyError, ConcurrencyLimiter
from chatbot.errors import GenerationError, HealthbotError
from chatbot.types import ChatMessage, PatientProfile, Reply, ReplyEvent

if TYPE_CHECKING:
    from chatbot.dialogue import ChatService
    from chatbot.settings import Settings
    from chatbot.storage import Storage

log = logging.getLogger("healthbot.api")

MODEL_ID = "healthbot"
# The dialogue manager trims history to its token budget; this only bounds the work of
# converting a huge client-sent history before that happens.
MAX_HISTORY_MESSAGES = 200

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


# --------------------------------------------------------------------------------------------
# Request models
# --------------------------------------------------------------------------------------------


class TextPart(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: str = "text"
    text: str = ""


class ChatMessageIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[TextPart] | None = None

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text for p in self.content if p.type == "text")


class ProfileIn(BaseModel):
    """The optional ``profile`` extension field: the patient's "about me" details."""

    model_config = ConfigDict(extra="forbid")
    age: int | None = Field(None, ge=0, le=130)
    age_group: Literal["infant", "child", "teen", "adult", "older_adult"] | None = None
    sex: Literal["female", "male", "other"] | None = None
    pregnant: bool | None = None
    conditions: list[str] = Field(default_factory=list, max_length=20)
    medications: list[str] = Field(default_factory=list, max_length=20)
    allergies: list[str] = Field(default_factory=list, max_length=20)

    def to_profile(self) -> PatientProfile:
        def clean(items: list[str]) -> tuple[str, ...]:
            return tuple(s.strip()[:100] for s in items if s.strip())

        return PatientProfile(
            age=self.age,
            age_group=self.age_group,
            sex=self.sex,
            pregnant=self.pregnant,
            conditions=clean(self.conditions),
            medications=clean(self.medications),
            allergies=clean(self.allergies),
        )


class ChatCompletionRequest(BaseModel):
    """OpenAI's chat completion request; unknown OpenAI fields are accepted and ignored."""

    model_config = ConfigDict(extra="ignore")
    model: str = MODEL_ID
    messages: list[ChatMessageIn] = Field(min_length=1)
    stream: bool = False
    max_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    user: str | None = None
    profile: ProfileIn | None = None


class RatingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    config: str = Field(min_length=1, max_length=200)
    question: str = Field(max_length=20_000)
    answer: str = Field(max_length=20_000)
    consensus: str
    comprehension: str
    retrieval: str
    reasoning: str
    inappropriate_content: str
    missing_content: str
    harm_extent: str
    harm_likelihood: str
    bias: str
    citations_supported: str
    comment: str = Field("", max_length=20_000)
    grounded_fraction: float | None = Field(None, ge=0.0, le=1.0)
    flags: list[str] = Field(default_factory=list, max_length=100)


# --------------------------------------------------------------------------------------------
# Responses
# --------------------------------------------------------------------------------------------


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


def _usage(prompt_chars: int, reply: Reply) -> dict[str, int]:
    # Token counts of the remote model are not known here; characters/4 is OpenAI's own rule of thumb.
    prompt_tokens = max(1, prompt_chars // 4)
    completion = reply.timings.tokens_generated or max(1, len(reply.text) // 4)
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion, "total_tokens": prompt_tokens + completion}


# --------------------------------------------------------------------------------------------
# ASGI middleware
# --------------------------------------------------------------------------------------------

# Model output is rendered in the browser; the policy forbids anything off-host (remote images,
# scripts, fonts, beacons) even if some output escaped sanitising. Gradio's frontend needs
# inline scripts/styles and eval for its bundles.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; media-src 'self' data: blob:; "
    "worker-src 'self' blob:; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("content-security-policy", CONTENT_SECURITY_POLICY),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("permissions-policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()"),
    ("cross-origin-opener-policy", "same-origin"),
)


class SecurityHeadersMiddleware:
    """Adds :data:`SECURITY_HEADERS` to every HTTP response (API and Gradio alike)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in SECURITY_HEADERS}
                raw = [(k, v) for k, v in message.get("headers", []) if k.decode("latin-1").lower() not in names]
                raw.extend((k.encode("latin-1"), v.encode("latin-1")) for k, v in SECURITY_HEADERS)
                message["headers"] = raw
            await send(message)

        await self.app(scope, receive, send_with_headers)


class _TooLarge(Exception):
    pass


class BodyLimitMiddleware:
    """Rejects request bodies over a limit with 413 before they reach a handler (declared size
    or, for chunked uploads, counted while reading)."""

    def __init__(self, app: ASGIApp, limit_for: Callable[[str], int]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope.get("path", ""))
        declared = None
        for k, v in scope.get("headers", []):
            if k == b"content-length":
                try:
                    declared = int(v)
                except ValueError:
                    declared = None
        if declared is not None and declared > limit:
            await self._reject(send, limit)
            return
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._reject(send, limit)

    @staticmethod
    async def _reject(send: Send, limit: int) -> None:
        body = json.dumps(
            error_body(f"request body too large (limit {limit} bytes)", "invalid_request_error", "too_large")
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})


# --------------------------------------------------------------------------------------------
# Routes
# --------------------------------------------------------------------------------------------


class _Finisher:
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


def _error_response(err: BaseException) -> JSONResponse:
    if isinstance(err, BusyError):
        return busy_response(err)
    if isinstance(err, GenerationError):
        log.error("generation backend failed: %s", err)
        return JSONResponse(error_body(str(err), "backend_unavailable"), status_code=503, headers={"Retry-After": "5"})
    if isinstance(err, HealthbotError):
        return JSONResponse(error_body(str(err), "invalid_request_error"), status_code=400)
    log.error("chat completion failed", exc_info=err)
    return JSONResponse(error_body(prompts.INTERNAL_ERROR_MESSAGE, "server_error"), status_code=500)


async def _pumped(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
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


def _sse(data: dict[str, Any] | str) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return f"data: {payload}\n\n".encode()


def build_router(
    settings: Settings,
    service: ChatService,
    limiter: ConcurrencyLimiter,
    storage: Storage,
    *,
    ready: Callable[[], bool] = lambda: True,
) -> APIRouter:
    router = APIRouter()
    basic = HTTPBasic(auto_error=False)
    max_chars = settings.dialogue.max_message_chars

    def clinician(credentials: HTTPBasicCredentials | None = Depends(basic)) -> str:  # noqa: B008
        users = settings.server.clinicians
        if credentials is not None:
            expected = users.get(credentials.username)
            # Compare even for unknown users so timing does not reveal which names exist.
            ok = secrets.compare_digest(
                credentials.password.encode(), (expected if expected is not None else "\x00unknown").encode()
            )
            if ok and expected is not None:
                return credentials.username
        raise HTTPException(
            status_code=401,
            detail="clinician login required",
            headers={"WWW-Authenticate": 'Basic realm="healthbot clinicians"'},
        )

    @router.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", tags=["health"], responses={503: {"description": "not ready or saturated"}})
    def readyz() -> JSONResponse:
        stats = limiter.stats()
        body = {"status": "ready", **asdict(stats)}
        if not ready():
            return JSONResponse({**body, "status": "loading"}, status_code=503)
        if stats.waiting >= stats.max_queue and stats.active >= stats.max_concurrency:
            return JSONResponse(
                {**body, "status": "busy"}, status_code=503, headers={"Retry-After": str(limiter.retry_after_s())}
            )
        return JSONResponse(body)

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
        history = [ChatMessage(m.role, m.text()[:max_chars]) for m in turns[:-1][-MAX_HISTORY_MESSAGES:]]  # type: ignore[arg-type]
        profile = req.profile.to_profile() if req.profile else None
        session_id = f"api-{uuid.uuid4().hex}"
        completion_id = f"chatcmpl-{uuid.uuid4().hex}"
        created = int(time.time())
        try:
            limiter.acquire()
        except BusyError as err:
            return busy_response(err)
        finish = _Finisher(service, limiter, session_id)
        try:
            events = service.stream(message, session_id=session_id, profile=profile, history=history)
        except Exception as err:
            finish()
            return _error_response(err)
        if req.stream:
            # The generator's finally gives the slot back as soon as the answer is generated; the
            # background task covers a response that is never started.
            return StreamingResponse(
                _pumped(_stream_chunks(events, message, completion_id, created, session_id, finish)),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
                background=BackgroundTask(finish),
            )
        try:
            reply = _final_reply(events)
        except Exception as err:
            return _error_response(err)
        finally:
            finish()
        _log_conversation(session_id, message, reply)
        return JSONResponse(
            {
                "id": completion_id,
                "object": "chat.completion",
                "created": created,
                "model": MODEL_ID,
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": reply.text}, "finish_reason": "stop"}
                ],
                "usage": _usage(sum(len(m.content) for m in history) + len(message), reply),
                "healthbot": reply_extra(reply),
            },
            headers={"Cache-Control": "no-store"},
        )

    def _log_conversation(session_id: str, message: str, reply: Reply) -> None:
        if settings.server.store_conversations:
            storage.log_turn(session_id, "user", message)
            storage.log_turn(session_id, "assistant", reply.text)

    def _final_reply(events: Iterator[ReplyEvent]) -> Reply:
        reply = None
        for ev in events:
            if ev.kind == "done":
                reply = ev.reply
        if reply is None:
            raise RuntimeError("the dialogue service ended a turn without a reply")
        return reply

    def _stream_chunks(
        events: Iterator[ReplyEvent],
        message: str,
        completion_id: str,
        created: int,
        session_id: str,
        finish: _Finisher,
    ) -> Iterator[bytes]:
        def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
            body = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": MODEL_ID,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                **extra,
            }
            return _sse(body)

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
            _log_conversation(session_id, message, reply)
            yield chunk({}, "stop", healthbot=reply_extra(reply))
            yield _sse("[DONE]")
        except Exception as err:
            yield _sse(json.loads(bytes(_error_response(err).body)))
            yield _sse("[DONE]")
        finally:
            finish()

    # -- clinician ratings ------------------------------------------------------------------

    @router.get("/v1/ratings", tags=["ratings"], responses={401: {"description": "login required"}})
    def list_ratings(
        config: str | None = Query(None, max_length=200),
        user: str = Depends(clinician),
    ) -> dict[str, Any]:
        return {"data": [r.to_dict() for r in storage.ratings(config)]}

    @router.post("/v1/ratings", tags=["ratings"], status_code=201, responses={401: {"description": "login required"}})
    def add_rating(body: RatingIn, user: str = Depends(clinician)) -> Response:
        from chatbot.storage import Rating, StorageError

        try:
            rating_id = storage.add_rating(Rating(rater=user, **body.model_dump()))
        except StorageError as err:
            return JSONResponse(error_body(str(err), "invalid_request_error"), status_code=400)
        return JSONResponse({"rating_id": rating_id}, status_code=201)

    @router.get("/v1/ratings/summary", tags=["ratings"], responses={401: {"description": "login required"}})
    def ratings_summary(user: str = Depends(clinician)) -> dict[str, Any]:
        return {"data": storage.summary()}

    @router.get("/v1/ratings/export", tags=["ratings"], responses={401: {"description": "login required"}})
    def export_ratings(
        format: Literal["csv", "jsonl"] = "csv",
        user: str = Depends(clinician),
    ) -> PlainTextResponse:
        media = "text/csv" if format == "csv" else "application/x-ndjson"
        return PlainTextResponse(
            storage.export(format),
            media_type=media,
            headers={"Content-Disposition": f'attachment; filename="ratings.{format}"', "Cache-Control": "no-store"},
        )

    @router.post(
        "/v1/ratings/import",
        tags=["ratings"],
        responses={401: {"description": "login required"}, 400: {"description": "invalid CSV"}},
    )
    async def import_ratings(request: Request, user: str = Depends(clinician)) -> Response:
        from starlette.concurrency import run_in_threadpool

        from chatbot.storage import StorageError

        raw = await request.body()
        try:
            text = raw.decode("utf-8-sig")
            added = await run_in_threadpool(storage.import_csv, text, rater=user)
        except UnicodeDecodeError:
            return JSONResponse(error_body("the CSV file must be UTF-8", "invalid_request_error"), status_code=400)
        except StorageError as err:
            return JSONResponse(error_body(str(err), "invalid_request_error"), status_code=400)
        return JSONResponse({"imported": added})

    return router
