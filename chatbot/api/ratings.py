"""The clinician ratings API (``/v1/ratings...``): list, add, summarise, export and import
ratings, each behind HTTP basic auth against the clinician accounts (:mod:`chatbot.accounts`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.security import HTTPBasic, HTTPBasicCredentials

from chatbot.accounts import clinician_verifier
from chatbot.api.models import RatingIn
from chatbot.api.responses import error_body

if TYPE_CHECKING:
    from chatbot.settings import Settings
    from chatbot.storage import Storage


def clinician_login(settings: Settings) -> Callable[..., str]:
    """A dependency that answers the signed-in clinician's name, or 401 with a login challenge."""
    basic = HTTPBasic(auto_error=False)
    verify = clinician_verifier(settings)

    # A plain def: FastAPI runs it in a worker thread, so the deliberately slow password hash
    # check does not hold up the event loop.
    def clinician(credentials: HTTPBasicCredentials | None = Depends(basic)) -> str:  # noqa: B008
        if credentials is not None and verify(credentials.username, credentials.password):
            return credentials.username
        raise HTTPException(
            status_code=401,
            detail="clinician login required",
            headers={"WWW-Authenticate": 'Basic realm="healthbot clinicians"'},
        )

    return clinician


def add_ratings_routes(router: APIRouter, settings: Settings, storage: Storage) -> None:
    clinician = clinician_login(settings)

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
