"""OpenAIGenerator against fake OpenAI-compatible servers: an in-process transport and a real
uvicorn server on 127.0.0.1 (streaming over a socket, server down, timeouts)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import Request

from chatbot.llm import build_generator
from chatbot.llm.base import GenerationError, GenerationParams, Generator, generate
from chatbot.llm.openai import OpenAIGenerator
from chatbot.settings import LLMSettings, Settings
from chatbot.types import ChatMessage

USER = [ChatMessage("system", "Be brief."), ChatMessage("user", "What is asthma?")]


def sse(pieces: list[str], *, done: bool = True) -> bytes:
    lines = [": keep-alive"]
    lines.append("data: " + json.dumps({"choices": [{"index": 0, "delta": {"role": "assistant"}}]}))
    for p in pieces:
        lines.append("data: " + json.dumps({"choices": [{"index": 0, "delta": {"content": p}}]}))
    if done:
        lines.append("data: [DONE]")
    return ("\n\n".join(lines) + "\n\n").encode()


def mock_gen(handler: Any, **settings: Any) -> OpenAIGenerator:
    return OpenAIGenerator(LLMSettings(mode="openai", **settings), transport=httpx.MockTransport(handler))


def test_streams_deltas_and_sends_openai_payload() -> None:
    seen: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(
            {"url": str(request.url), "auth": request.headers.get("authorization"), **json.loads(request.content)}
        )
        return httpx.Response(200, content=sse(["Asthma ", "narrows ", "airways."]))

    gen = mock_gen(handler, base_url="http://fake/v1/", remote_model="m1", api_key="k", max_new_tokens=64)
    assert isinstance(gen, Generator)
    assert list(gen.stream(USER, GenerationParams(max_new_tokens=500, stop=("\nUser:",)))) == [
        "Asthma ",
        "narrows ",
        "airways.",
    ]
    req = seen[0]
    assert req["url"] == "http://fake/v1/chat/completions"
    assert req["auth"] == "Bearer k"
    assert req["model"] == "m1" and req["stream"] is True
    assert req["max_tokens"] == 64  # the configured cap wins over a larger request
    assert req["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What is asthma?"},
    ]
    assert req["stop"] == ["\nUser:"]


def test_client_side_stop_and_loop_guard() -> None:
    gen = mock_gen(lambda r: httpx.Response(200, content=sse(["Rest well.", "\nUs", "er: hi"])))
    assert generate(gen, USER, GenerationParams(stop=("\nUser:",))) == "Rest well."
    loop = ["the cat sat on "] * 10
    gen = mock_gen(lambda r: httpx.Response(200, content=sse(loop)))
    assert generate(gen, USER).count("the cat sat on") == 3


@pytest.mark.parametrize(
    ("status", "body", "match"),
    [
        (404, {"error": {"message": "model 'x' not found"}}, r"HTTP 404: model 'x' not found \(check llm.base_url"),
        (401, {"error": "bad key"}, r"HTTP 401: bad key \(check llm.api_key\)"),
        (500, {"detail": "boom"}, r"HTTP 500: boom"),
    ],
)
def test_http_errors_are_one_line(status: int, body: dict[str, Any], match: str) -> None:
    gen = mock_gen(lambda r: httpx.Response(status, json=body))
    with pytest.raises(GenerationError, match=match) as info:
        generate(gen, USER)
    assert "\n" not in str(info.value)


def test_malformed_and_error_streams() -> None:
    gen = mock_gen(lambda r: httpx.Response(200, content=b"data: {oops\n\n"))
    with pytest.raises(GenerationError, match="malformed stream"):
        generate(gen, USER)
    bad = b'data: {"error": {"message": "out of memory"}}\n\n'
    gen = mock_gen(lambda r: httpx.Response(200, content=bad))
    with pytest.raises(GenerationError, match="failed mid-answer: out of memory"):
        generate(gen, USER)


def test_bad_prompts_refused_before_sending() -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(200, content=sse(["x"]))

    gen = mock_gen(handler)
    with pytest.raises(GenerationError, match="empty prompt"):
        generate(gen, [ChatMessage("user", " ")])
    with pytest.raises(GenerationError, match=r"far over llm\.max_prompt_tokens"):
        generate(gen, [ChatMessage("user", "x" * 1_000_000)])
    assert not calls
    assert gen.count_tokens("abcdefgh") == 2


# --- a real server on loopback ----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def fake_server() -> Iterator[str]:
    import uvicorn
    from fastapi import FastAPI
    from fastapi.responses import StreamingResponse

    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> StreamingResponse:
        body = await request.json()
        question = body["messages"][-1]["content"]
        words = f"You asked: {question}".split(" ")
        if question == "slow":
            import asyncio

            await asyncio.sleep(3)
        chunks = [w if i == 0 else " " + w for i, w in enumerate(words)][: body.get("max_tokens", 100)]
        return StreamingResponse(iter([sse(chunks).decode()]), media_type="text/event-stream")

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "fake server did not start"
    yield f"http://127.0.0.1:{port}/v1"
    server.should_exit = True
    thread.join(timeout=10)


def test_real_server_stream(fake_server: str, tmp_path: Any) -> None:
    settings = Settings(data_dir=tmp_path, llm={"mode": "openai", "base_url": fake_server})
    gen = build_generator(settings)
    assert gen.name == "openai:healthbot"
    deltas = list(gen.stream(USER))
    assert "".join(deltas) == "You asked: What is asthma?"
    assert len(deltas) == 5


def test_real_server_timeout(fake_server: str) -> None:
    gen = OpenAIGenerator(LLMSettings(mode="openai", base_url=fake_server, request_timeout_s=0.5))
    with pytest.raises(GenerationError, match=r"did not answer within 0.5 s"):
        generate(gen, [ChatMessage("user", "slow")])


def test_server_down() -> None:
    gen = OpenAIGenerator(LLMSettings(mode="openai", base_url=f"http://127.0.0.1:{free_port()}/v1"))
    with pytest.raises(GenerationError, match=r"cannot reach the model server at http://127.0.0.1:\d+/v1: start it"):
        generate(gen, USER)
