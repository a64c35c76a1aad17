"""Helpers for the app, API, UI and browser tests: a dialogue service over fakes and a real
uvicorn server on 127.0.0.1 in a thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from chatbot.dialogue import DialogueService
from chatbot.llm.mock import MockGenerator
from chatbot.settings import Settings
from chatbot.types import ChatMessage, PatientProfile, Triage
from knowledge.documents import Chunk
from knowledge.embedding import MockEmbedder
from tests.conftest import FakeRetriever

# Model output that would run script, load remote images or open a dialog if rendered as HTML.
EVIL_OUTPUT = (
    "Hives are itchy. <script>alert('xss')</script><img src=http://evil.example/pixel.png "
    "onerror=alert('img')> ![tracker](http://evil.example/md.png) [click](javascript:alert('link')) "
    "<iframe src=http://evil.example/></iframe> Done [1]."
)
# Debian's Chromium and how the browser tests and benchmarks launch it (headless, offline).
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
EMERGENCY_TEXT = "Call your local emergency number now (test guidance)."


def keyword_triage(message: str, history: list[ChatMessage], profile: PatientProfile | None) -> Triage:
    """A stand-in for the safety module: "chest pain" is a red flag."""
    if "chest pain" in message.lower():
        return Triage("emergency", "heart_attack", "chest pain", EMERGENCY_TEXT)
    return Triage("ok")


def make_service(
    settings: Settings, chunks: list[Chunk], generator: Any = None, *, triage: Any = keyword_triage
) -> DialogueService:
    embedder = MockEmbedder(256)
    return DialogueService(
        settings,
        generator=generator or MockGenerator(),
        retriever=FakeRetriever(chunks, embedder),
        embedder=embedder,
        triage=triage,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(app: Any, port: int | None = None) -> Iterator[str]:
    """Run ``app`` with uvicorn on 127.0.0.1 in a daemon thread; yields the base URL."""
    import uvicorn

    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


class ScriptedGenerator(MockGenerator):
    """The mock generator, plus two behaviours chosen by words in the question:
    "hold" blocks until :attr:`gate` is set (to fill the server's slots), "echo" repeats every
    user and assistant message of the prompt (so a leak between sessions would show)."""

    name = "scripted"

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()

    def stream(self, messages: list[ChatMessage], params: Any = None) -> Iterator[str]:
        last = messages[-1].content.lower() if messages else ""
        question = last.rsplit("question:", 1)[-1]
        if "hold" in question:
            self.gate.wait(timeout=30)
        if "evil" in question:
            yield EVIL_OUTPUT
            return
        if "echo" in question:
            said = " | ".join(m.content.rsplit("Question:", 1)[-1].strip() for m in messages if m.role != "system")
            yield f"Echo: {said}"
            return
        # Only the last message: the stock mock also scans the system rules, whose "like [1]."
        # it mistakes for a source.
        yield from super().stream(messages[-1:], params)


def app_settings(data_dir: Any, **server: Any) -> Settings:
    from chatbot.settings import load_settings

    return load_settings(
        data_dir=data_dir,
        llm={"mode": "mock", "adapter": None},
        embedding={"mode": "mock", "dimension": 256},
        knowledge={"min_score": 0.05},
        # The faces must carry and render whatever text the service shows (echoes, hostile
        # markup), so the mock model's unsupported sentences are flagged here, not dropped.
        dialogue={"answer_mode": "generative", "unsupported_sentences": "flag"},
        server={"clinicians": {"dr_ada": "correct horse battery"}, **server},
    )
