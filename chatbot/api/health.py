"""Probes for orchestrators: ``/healthz`` (the process answers) and ``/readyz`` (the model is
loaded and the queue has room; 503 with ``Retry-After`` otherwise)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from chatbot.concurrency import ConcurrencyLimiter


def add_health_routes(router: APIRouter, limiter: ConcurrencyLimiter, ready: Callable[[], bool]) -> None:
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
