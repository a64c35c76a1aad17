"""Schemathesis against the API's OpenAPI schema: whatever it sends, never a 5xx.

Bounded (a few dozen examples per operation) so it stays a unit-test-sized run; the server is
the real app over fakes, called in-process through ASGI.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from chatbot.storage import Storage
from tests.app_helpers import ScriptedGenerator, app_settings, make_service
from tests.conftest import make_chunk

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis not installed (requirements-dev.txt)")
from hypothesis import HealthCheck, given, settings  # noqa: E402


def _app(tmp: Path) -> Any:
    from app import create_app

    cfg = app_settings(tmp / "data", max_concurrency=2, max_queue=4)
    chunks = [
        make_chunk("asthma", "Asthma narrows the airways. Inhalers treat it.", title="Asthma", url="https://e.org/a")
    ]
    gen = ScriptedGenerator()
    gen.gate.set()
    return create_app(cfg, make_service(cfg, chunks, gen), storage=Storage(cfg.database_path, redactor=lambda s: s))


AUTH = {"Authorization": "Basic " + base64.b64encode(b"dr_ada:correct horse battery").decode()}


def test_no_server_errors(tmp_path: Path) -> None:
    # The schema is built inside the test so that collecting the suite does not build the app.
    schema = schemathesis.openapi.from_asgi("/openapi.json", _app(tmp_path))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/v1/chat/completions", "/v1/ratings", "/v1/models"}
    statuses: list[int] = []
    for op in operations:

        @given(case=op.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
        def check(case: Any) -> None:
            response = case.call(headers=AUTH)
            statuses.append(response.status_code)
            assert response.status_code < 500, (case.method, case.path, case.body, response.text[:300])

        check()
    assert len(statuses) >= 5 * len(operations)
    assert any(200 <= s < 300 for s in statuses) and any(400 <= s < 500 for s in statuses)
