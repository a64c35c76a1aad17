"""LLM02 + patient privacy end to end: generated identifiers of every HIPAA Safe Harbor category
go through the real server process (its own logging set-up, uvicorn access logs, the API, the
ratings API) and through the patient chat handler, with conversation storage on. Then every
file under the data dir, every row of every SQLite table and every line the process wrote on
stdout/stderr (captured at the file-descriptor level) is scanned for the raw identifiers.

Also: many concurrent dialogue sessions, each with its own identifier, never see each other's.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from faker import Faker

from chatbot.llm.base import GenerationParams
from chatbot.types import ChatMessage
from knowledge.documents import Document
from tests.security.hostile import build_real_index, make_service, security_settings

REPO = Path(__file__).resolve().parents[2]
DOCS = [
    Document(
        id="asthma",
        title="Asthma",
        text="Asthma makes the airways narrow and swell, which causes wheezing. Reliever inhalers open the airways.",
        source="test",
    ),
    Document(
        id="flu",
        title="Influenza",
        text="Influenza causes fever, cough and body aches. A yearly vaccine helps.",
        source="test",
    ),
]


def safe_harbor_identifiers(seed: int) -> dict[str, str]:
    """One value per Safe Harbor category that text can carry (photos and biometrics can't)."""
    fake = Faker("en_US")
    fake.seed_instance(seed)
    return {
        "name": f"{fake.first_name()} {fake.last_name()}",
        "street": fake.street_address(),
        "city_zip": f"{fake.city()}, {fake.state_abbr()} {fake.zipcode()}",
        "dob": fake.date_of_birth(minimum_age=20, maximum_age=80).strftime("%m/%d/%Y"),
        "admitted": fake.date_between("-2y", "today").isoformat(),
        "age_over_89": f"{fake.random_int(91, 99)} years old",
        "phone": fake.numerify("(###) 555-####"),
        "fax": fake.numerify("###-555-####"),
        "email": fake.email(),
        "ssn": fake.ssn(),
        "mrn": fake.bothify("MR########"),
        "health_plan": fake.bothify("HPB#########"),
        "account": fake.bothify("ACC########"),
        "licence": fake.bothify("D#######"),
        "vin": fake.vin(),
        "plate": fake.bothify("7???###").upper(),
        "device": fake.bothify("SN-########"),
        "url": f"https://{fake.domain_name()}/patients/{fake.numerify('######')}",
        "ipv4": fake.ipv4_public(),
        "ipv6": fake.ipv6(),
    }


def message_with(ids: dict[str, str]) -> str:
    return (
        f"My name is {ids['name']}, date of birth {ids['dob']}, admitted on {ids['admitted']}. My father is "
        f"{ids['age_over_89']}. I live at {ids['street']}, {ids['city_zip']}. Phone {ids['phone']}, fax "
        f"{ids['fax']}, email {ids['email']}. SSN {ids['ssn']}, MRN {ids['mrn']}, health plan number "
        f"{ids['health_plan']}, account number {ids['account']}, driver's license {ids['licence']}. My car's VIN is "
        f"{ids['vin']}, license plate {ids['plate']}. My inhaler's serial number {ids['device']}. My chart is at "
        f"{ids['url']}, I connect from {ids['ipv4']} and {ids['ipv6']}. What helps with asthma?"
    )


def raw_values(ids: dict[str, str]) -> dict[str, str]:
    out = dict(ids)
    first, last = ids["name"].split(" ", 1)
    out["first_name"], out["last_name"] = first, last
    del out["age_over_89"]  # the number alone ("93") is not identifying; the phrase is checked below
    out["age_over_89_phrase"] = ids["age_over_89"]
    return out


def leaks(text: str, ids: dict[str, str]) -> list[str]:
    return [k for k, v in raw_values(ids).items() if v and v in text]


def sqlite_rows(db: Path) -> str:
    con = sqlite3.connect(db)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        rows = [repr(row) for t in tables for row in con.execute(f'SELECT * FROM "{t}"')]
    finally:
        con.close()
    return "\n".join(rows)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> Iterator[dict[str, Any]]:
    """``python app.py`` as a separate process, mock model and embedder, DEBUG logs, storage on.
    It inherits stdout/stderr after capfd has redirected them, so capfd captures its output."""
    data = tmp_path / "data"
    build_real_index(security_settings(data), DOCS)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEALTHBOT_")}
    env.update(
        {
            "HEALTHBOT_DATA_DIR": str(data),
            "HEALTHBOT_LOG_LEVEL": "DEBUG",
            "HEALTHBOT_LLM__MODE": "mock",
            "HEALTHBOT_EMBEDDING__MODE": "mock",
            "HEALTHBOT_EMBEDDING__DIMENSION": "256",
            "HEALTHBOT_KNOWLEDGE__MIN_SCORE": "-1",
            "HEALTHBOT_KNOWLEDGE__CHUNK_TOKENS": "48",
            "HEALTHBOT_KNOWLEDGE__CHUNK_OVERLAP": "8",
            "HEALTHBOT_DIALOGUE__ANSWER_MODE": "generative",
            "HEALTHBOT_SERVER__STORE_CONVERSATIONS": "true",
            "HEALTHBOT_SERVER__CLINICIANS": json.dumps({"dr_ada": "correct horse battery"}),
            "HF_HUB_OFFLINE": "1",
            "PYTHONPATH": str(REPO),
        }
    )
    proc = subprocess.Popen([sys.executable, str(REPO / "app.py"), "--port", str(port)], cwd=REPO, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, "the server exited during start-up"
            try:
                if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the server did not start in 120 s"
            time.sleep(0.25)
        yield {"url": url, "data": data}
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


RATING = {
    "config": "default",
    "consensus": "aligned",
    "comprehension": "correct",
    "retrieval": "correct",
    "reasoning": "correct",
    "inappropriate_content": "none",
    "missing_content": "none",
    "harm_extent": "none",
    "harm_likelihood": "low",
    "bias": "no",
    "citations_supported": "yes",
}


@pytest.mark.slow  # starts the real server process (Gradio import: ~30 s on 2 busy cores)
def test_identifiers_never_reach_disk_database_or_process_output(
    server: dict[str, Any], tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    from chatbot.concurrency import ConcurrencyLimiter
    from chatbot.storage import Storage
    from chatbot.ui.patient import PatientChat
    from knowledge.index import load_retriever

    url, data = server["url"], server["data"]
    auth = ("dr_ada", "correct horse battery")
    sent: list[dict[str, str]] = []
    for seed in range(3):
        ids = safe_harbor_identifiers(seed)
        sent.append(ids)
        body = {"model": "healthbot", "messages": [{"role": "user", "content": message_with(ids)}]}
        assert httpx.post(url + "/v1/chat/completions", json=body, timeout=60).status_code == 200
        r = httpx.post(url + "/v1/chat/completions", json={**body, "stream": True}, timeout=60)
        assert r.status_code == 200
        # identifiers in a rating's free text and in a query string (uvicorn logs the path)
        rating = {**RATING, "question": message_with(ids), "answer": "ok", "comment": f"patient {ids['name']}"}
        assert httpx.post(url + "/v1/ratings", json=rating, auth=auth, timeout=60).status_code == 201
        httpx.get(url + "/v1/ratings", params={"config": ids["ssn"]}, auth=auth, timeout=60)
        # a bad request that carries identifiers
        httpx.post(url + "/v1/chat/completions", json={"messages": [{"role": "wizard", "content": ids["email"]}]})

    # The patient chat path, in this process, storing through the same database file.
    settings = security_settings(data, "generative", store_conversations=True)
    from chatbot.llm.mock import MockGenerator

    chat = PatientChat(
        settings,
        make_service(settings, load_retriever(settings), MockGenerator()),
        ConcurrencyLimiter(2, 4, 10.0),
        Storage(settings.database_path),
    )
    for seed in range(3, 5):
        ids = safe_harbor_identifiers(seed)
        sent.append(ids)
        for _update in chat.respond(message_with(ids), [], None, ""):
            pass

    time.sleep(0.5)  # the server logs each request just after answering it
    out, err = capfd.readouterr()
    db = settings.database_path
    assert db.is_file()
    stored = sqlite_rows(db)
    assert stored.count("[SSN]") >= 5, "turns and ratings were stored (redacted)"
    files = {str(p): p.read_bytes().decode("utf-8", errors="ignore") for p in data.rglob("*") if p.is_file()}
    assert any(name.endswith("healthbot.db") for name in files)
    assert "Uvicorn running" in err and "DEBUG" in err, "the server's own log output was captured"
    places = {**files, "sqlite rows": stored, "stdout": out, "stderr": err}
    found = {(where, k) for ids in sent for where, text in places.items() for k in leaks(text, ids)}
    assert not found, sorted(found)


def test_access_log_lines_survive_redaction() -> None:
    """uvicorn's access formatter reads the record's arguments; redaction must keep it working
    (and still hide identifiers in the logged path)."""
    import logging

    from uvicorn.logging import AccessFormatter

    from chatbot.safety.log_redaction import install_log_redaction

    factory = logging.getLogRecordFactory()
    install_log_redaction()
    try:
        record = logging.getLogger("uvicorn.access").makeRecord(
            "uvicorn.access",
            logging.INFO,
            __file__,
            1,
            '%s - "%s %s HTTP/%s" %d',
            ("203.0.113.7:5123", "GET", "/v1/ratings?config=123-45-6789", "1.1", 200),
            None,
        )
        line = AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s', use_colors=False).format(record)
    finally:
        logging.setLogRecordFactory(factory)
    assert "GET /v1/ratings" in line and "200" in line
    assert "123-45-6789" not in line and "203.0.113.7" not in line


class EchoGenerator:
    """Repeats every user turn of its prompt: whatever the server put in a prompt becomes visible."""

    name = "echo"

    def stream(self, messages: list[ChatMessage], params: GenerationParams | None = None) -> Iterator[str]:
        said = " | ".join(m.content.rsplit("Question:", 1)[-1].strip() for m in messages if m.role == "user")
        yield f"You said: {said}. Asthma makes the airways narrow [1]."

    def count_tokens(self, text: str) -> int:
        return max(1, len(text) // 4)


def test_concurrent_sessions_never_see_each_others_identifiers(tmp_path: Path) -> None:
    settings = security_settings(tmp_path / "data", "generative")
    service = make_service(settings, build_real_index(settings, DOCS), EchoGenerator())
    n_sessions, n_turns = 12, 4
    ids = {s: safe_harbor_identifiers(1000 + s) for s in range(n_sessions)}
    replies: dict[int, list[str]] = {s: [] for s in range(n_sessions)}
    errors: list[BaseException] = []
    barrier = threading.Barrier(n_sessions)

    def run(s: int) -> None:
        try:
            barrier.wait(10)
            service.reply(f"My MRN is {ids[s]['mrn']} and my email is {ids[s]['email']}.", session_id=f"s{s}")
            for t in range(n_turns):
                replies[s].append(service.reply(f"What helps with asthma, question {t}?", session_id=f"s{s}").text)
        except BaseException as err:  # surfaced below
            errors.append(err)

    threads = [threading.Thread(target=run, args=(s,)) for s in range(n_sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    for s in range(n_sessions):
        own = " ".join(replies[s])
        assert ids[s]["mrn"] in own, "the echo shows the session's own history"
        for other in range(n_sessions):
            if other != s:
                assert ids[other]["mrn"] not in own and ids[other]["email"] not in own, (s, other)
