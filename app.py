"""healthbot's web server: the patient chat at ``/``, the clinician workbench at ``/clinician``
(login required) and the OpenAI-compatible API at ``/v1`` — one FastAPI app, one process, one
concurrency limit shared by all of them.

    python app.py --host 127.0.0.1 --port 7860 [--config settings.yaml]
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from chatbot.errors import HealthbotError

if TYPE_CHECKING:
    from fastapi import FastAPI

    from chatbot.api import ChatService
    from chatbot.concurrency import ConcurrencyLimiter
    from chatbot.settings import Settings
    from chatbot.storage import Storage
    from chatbot.workbench import Comparer

log = logging.getLogger("healthbot.app")

# System fonts only: Gradio's default theme would fetch fonts from a third-party host, which a
# privacy-respecting health app must not make browsers do.
_FONTS = ["system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "sans-serif"]
_MONO = ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"]

CSS = """
.emergency-banner { background: #b00020; color: #fff; border-radius: 8px; padding: 14px 18px;
  font-size: 1.1rem; border: 3px solid #7a0016; }
/* White on #b00020 is 7.3:1 (WCAG AA and AAA). Gradio's themes colour prose text themselves
   (`.prose *`, `.prose h1`, `.prose a:hover`, light and dark), which beat inheritance: every text
   element in the banner is set white explicitly, and !important keeps it so under any theme. */
.emergency-banner :is(h1, h2, h3, h4, h5, h6, p, a, strong, b, em, span, li) { color: #fff !important; }
.emergency-banner :is(h1, h2, h3, h4, strong) { font-size: 1.25rem; display: block; margin: 0 0 4px; }
.emergency-banner p { margin: 0; }
.emergency-banner a { text-decoration: underline; }
.emergency-banner a:focus-visible { outline: 2px solid #fff; outline-offset: 2px; }
#disclaimer { opacity: 0.85; }
"""


def _theme() -> Any:
    import gradio as gr

    # The Soft theme's indigo 500 on white is 4.3-4.5:1, under WCAG AA for text (axe, issue 15):
    # buttons and labels use the 600/700 shades instead.
    return gr.themes.Soft(font=_FONTS, font_mono=_MONO).set(
        button_primary_background_fill="*primary_600",
        button_primary_background_fill_hover="*primary_700",
        block_label_text_color="*primary_700",
        block_title_text_color="*primary_700",
    )


def _install_log_redaction() -> None:
    try:
        from chatbot.safety.log_redaction import install_log_redaction
    except ImportError:
        log.warning("chatbot.safety.log_redaction is not available; log lines are not redacted")
        return
    install_log_redaction()


def create_app(
    settings: Settings,
    service: ChatService | None = None,
    *,
    comparer: Comparer | None = None,
    storage: Storage | None = None,
) -> FastAPI:
    """The whole web app. ``service`` (and ``comparer``/``storage``) can be injected by tests;
    by default the dialogue service is built from ``settings`` (the index must exist)."""
    from chatbot.api import BodyLimitMiddleware, SecurityHeadersMiddleware
    from chatbot.concurrency import ConcurrencyLimiter
    from chatbot.storage import Storage
    from chatbot.workbench import Comparer

    _install_log_redaction()
    if service is None:
        from chatbot.dialogue import DialogueService

        service = DialogueService.from_settings(settings)
    srv = settings.server
    limiter = ConcurrencyLimiter(srv.max_concurrency, srv.max_queue, srv.queue_timeout_s)
    storage = storage or Storage(settings.database_path)
    comparer = comparer or Comparer(settings, service)  # type: ignore[arg-type]

    app = _api_app(settings, service, limiter, storage, comparer)
    app = _mount_uis(app, settings, service, comparer, limiter, storage)
    app.add_middleware(BodyLimitMiddleware, limit_for=_body_limits(srv.max_request_bytes))
    app.add_middleware(SecurityHeadersMiddleware)
    return app


def _api_app(
    settings: Settings, service: ChatService, limiter: ConcurrencyLimiter, storage: Storage, comparer: Comparer
) -> FastAPI:
    """The FastAPI app with the API routes, holding the shared objects in ``app.state``."""
    from fastapi import FastAPI

    from chatbot.api import build_router

    app = FastAPI(
        title="healthbot API",
        version="1.0",
        description="OpenAI-compatible chat completions with citations and triage; clinician ratings.",
        docs_url=None,  # the hosted Swagger UI loads scripts from a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.service = service
    app.state.limiter = limiter
    app.state.storage = storage
    app.state.comparer = comparer
    app.include_router(build_router(settings, service, limiter, storage))
    return app


def _clinician_checker(settings: Settings) -> Callable[[str, str], Awaitable[bool]]:
    """Gradio's login check for the workbench: the same one as the ratings API's."""
    from starlette.concurrency import run_in_threadpool

    from chatbot.accounts import clinician_verifier

    verify = clinician_verifier(settings)

    # A coroutine, which Gradio awaits: the password hash check is slow on purpose, and in a
    # worker thread it does not stall the event loop that the patient chat and the API share.
    async def check_clinician(username: str, password: str) -> bool:
        return await run_in_threadpool(verify, username, password)

    return check_clinician


def _mount_uis(
    app: FastAPI,
    settings: Settings,
    service: ChatService,
    comparer: Comparer,
    limiter: ConcurrencyLimiter,
    storage: Storage,
) -> FastAPI:
    """Mounts the clinician workbench at ``/clinician`` (login required) and the patient chat at ``/``."""
    import gradio as gr

    from chatbot import prompts
    from chatbot.ui.clinician import build_clinician_ui
    from chatbot.ui.patient import KEEP_REPLY_START_JS, build_patient_ui

    check_clinician = _clinician_checker(settings)
    common: dict[str, Any] = {
        "ssr_mode": False,
        "theme": _theme(),
        "css": CSS,
        "footer_links": [],
        "show_error": False,
        "max_file_size": "10mb",
        "mcp_server": False,
    }
    clinician_ui = build_clinician_ui(settings, comparer, limiter, storage)
    clinician_ui.queue(default_concurrency_limit=None)
    from fastapi.responses import RedirectResponse

    # The start-up line and the README say /clinician; Gradio's mount answers only /clinician/.
    @app.get("/clinician", include_in_schema=False)
    def _clinician_slash() -> RedirectResponse:
        return RedirectResponse("/clinician/", status_code=307)

    # Mounted before "/" so the catch-all patient app does not shadow it.
    app = gr.mount_gradio_app(
        app,
        clinician_ui,
        "/clinician",
        auth=check_clinician,
        auth_message=prompts.CLINICIAN_LOGIN_MESSAGE,
        allowed_paths=[str(settings.data_dir / "exports")],
        **common,
    )
    patient_ui = build_patient_ui(settings, service, limiter, storage)
    patient_ui.queue(default_concurrency_limit=None)
    return gr.mount_gradio_app(app, patient_ui, "/", js=KEEP_REPLY_START_JS, **common)


def _body_limits(api_limit: int) -> Callable[[str], int]:
    """The request body limit per path, for :class:`~chatbot.api.BodyLimitMiddleware`."""

    def limit_for(path: str) -> int:
        if path.startswith("/v1/ratings/import"):
            return 16 * api_limit
        if path.startswith("/v1/"):
            return api_limit
        return 16 * 1024 * 1024  # Gradio uploads and queue messages

    return limit_for


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve the healthbot chat UI, clinician workbench and API.")
    parser.add_argument("--host", help="interface to bind (default: server.host, 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default: server.port, 7860)")
    parser.add_argument("--config", help="YAML settings file (default: $HEALTHBOT_CONFIG)")
    args = parser.parse_args(argv)
    try:
        from chatbot.settings import load_settings

        settings = load_settings(args.config)
        host = args.host or settings.server.host
        port = args.port or settings.server.port
        logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        # faiss tries its AVX512 and AVX2 builds first and logs each miss, traceback text included,
        # at INFO: it reads like a failure on every start. Its warnings still show.
        logging.getLogger("faiss.loader").setLevel(logging.WARNING)
        app = create_app(settings)
    except HealthbotError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    import uvicorn

    print(
        f"healthbot: chat http://{host}:{port}/  clinicians http://{host}:{port}/clinician  API http://{host}:{port}/v1"
    )
    # No access log: its lines carry client IP addresses, which a health service should not keep.
    uvicorn.run(app, host=host, port=port, log_level=settings.log_level.lower(), server_header=False, access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
