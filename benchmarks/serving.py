"""N concurrent chat sessions through the HTTP API on loopback, against the same turns run
directly on the dialogue service in the same process (no HTTP, no framework) as the reference.

    .venv/bin/python -m benchmarks.serving                         # mock model, then the embedded model
    .venv/bin/python -m benchmarks.serving --models mock --sessions 1,8 --turns 10
    .venv/bin/python -m benchmarks.serving --models embedded --sessions 8 --turns 1

For each model and path: turns/s, time to first token p50/p95 (client side: request sent ->
first content chunk), full-turn p50/p95, and failures (non-200 answers, error chunks, "busy").
The server uses the configured ``server.max_concurrency``/``max_queue``/``queue_timeout_s``
(defaults 2/16/120 s), the limits a real deployment has, so with more sessions than slots TTFT includes queueing. The
"direct" rows run the same sessions with the same limit (the server's FIFO limiter with the same slots), so
the difference between the rows is the cost of HTTP, JSON/SSE and the framework.

The mock model answers in microseconds, so its rows measure framework overhead; the embedded
model (SmolLM2-135M + MiniLM over the starter index, ``python -m chatbot prepare`` first, done
here if missing) measures what a patient waits on this machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

QUESTIONS = [
    "What are the symptoms of asthma?",
    "How can I lower my blood pressure?",
    "What causes migraines?",
    "How is the common cold treated?",
    "What are the signs of type 2 diabetes?",
    "How long does chickenpox last?",
    "What helps with back pain?",
    "Is acne caused by diet?",
]


@dataclass
class Run:
    ttft: list[float] = field(default_factory=list)
    total: list[float] = field(default_factory=list)
    failures: int = 0
    errors: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    turns: int = 0


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def run_sessions(sessions: int, turns: int, turn: Callable[[int, int], tuple[float | None, bool, str]]) -> Run:
    """``turn(session, i) -> (ttft or None, ok, error)``; all sessions start together."""
    run = Run()
    lock = threading.Lock()
    start = threading.Barrier(sessions)

    def session(s: int) -> None:
        start.wait()
        for i in range(turns):
            t0 = time.perf_counter()
            try:
                ttft, ok, err = turn(s, i)
            except Exception as exc:  # a failure to count, not to crash the benchmark
                ttft, ok, err = None, False, f"{type(exc).__name__}: {exc}"
            dt = time.perf_counter() - t0
            with lock:
                run.turns += 1
                if ok and ttft is not None:
                    run.ttft.append(ttft)
                    run.total.append(dt)
                else:
                    run.failures += 1
                    run.errors.append(err)

    threads = [threading.Thread(target=session, args=(s,)) for s in range(sessions)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    run.wall_s = time.perf_counter() - t0
    return run


def api_turn(base_url: str, timeout_s: float) -> Callable[[int, int], tuple[float | None, bool, str]]:
    import httpx

    client = httpx.Client(timeout=timeout_s)

    def turn(s: int, i: int) -> tuple[float | None, bool, str]:
        body = {"model": "healthbot", "stream": True, "messages": [{"role": "user", "content": QUESTIONS[(s + i) % 8]}]}
        t0 = time.perf_counter()
        ttft = None
        with client.stream("POST", base_url + "/v1/chat/completions", json=body) as r:
            if r.status_code != 200:
                r.read()
                return None, False, f"HTTP {r.status_code}: {r.text[:120]}"
            for line in r.iter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                chunk = json.loads(line[6:])
                if "error" in chunk:
                    return None, False, chunk["error"]["message"]
                delta = chunk["choices"][0]["delta"].get("content")
                if delta and ttft is None:
                    ttft = time.perf_counter() - t0
        return ttft, ttft is not None, "" if ttft is not None else "no content"

    return turn


def direct_turn(service: Any, slots: int) -> Callable[[int, int], tuple[float | None, bool, str]]:
    from chatbot.concurrency import ConcurrencyLimiter

    # The server's own FIFO limiter, so both paths queue the same way.
    sem = ConcurrencyLimiter(slots, 10_000, queue_timeout_s=3600)

    def turn(s: int, i: int) -> tuple[float | None, bool, str]:
        t0 = time.perf_counter()
        ttft = None
        with sem.slot():
            for ev in service.stream(QUESTIONS[(s + i) % 8], session_id=f"bench-{s}-{i}"):
                if ev.kind == "delta" and ev.text and ttft is None:
                    ttft = time.perf_counter() - t0
            service.reset(f"bench-{s}-{i}")
        return ttft, ttft is not None, ""

    return turn


class _TinyRetriever:
    """Cosine search with the mock embedder over the starter topics (framework-overhead runs)."""

    def __init__(self) -> None:
        from knowledge.documents import Chunk, Hit
        from knowledge.embedding import MockEmbedder

        self._hit = Hit
        self.embedder = MockEmbedder(256)
        self.chunks = []
        for path in sorted((REPO / "knowledge" / "starter").glob("*.md")):
            if path.name == "README.md":
                continue
            text = " ".join(path.read_text(encoding="utf-8").split())[:1200]
            title = path.stem.replace("-", " ")
            self.chunks.append(Chunk(id=f"{path.stem}#0", doc_id=path.stem, text=text, title=title))
        self._vecs = self.embedder.encode([f"{c.title}. {c.text}" for c in self.chunks])

    def search(self, query: str, k: int = 5, *, question: str | None = None) -> list[Any]:
        sims = self._vecs @ self.embedder.encode([query])[0]
        order = sims.argsort()[::-1][:k]
        return [self._hit(self.chunks[i], float(sims[i]), {"dense": float(sims[i])}) for i in order]


def build_service(model: str, data_dir: Path | None) -> tuple[Any, Any]:
    from chatbot.dialogue import DialogueService
    from chatbot.settings import load_settings

    overrides: dict[str, Any] = {}
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    if model == "mock":
        settings = load_settings(
            llm={"mode": "mock"},
            embedding={"mode": "mock", "dimension": 256},
            knowledge={"min_score": 0.0},
            **overrides,
        )
        retriever = _TinyRetriever()
        from chatbot.llm.mock import MockGenerator

        return settings, DialogueService(
            settings, generator=MockGenerator(), retriever=retriever, embedder=retriever.embedder
        )
    settings = load_settings(**overrides)
    from chatbot.prepare import prepare_index, prepare_model

    prepare_model(settings)
    prepare_index(settings)
    return settings, DialogueService.from_settings(settings)


def api_load(url: str, sessions: int, turns: int, timeout_s: float) -> Run:
    """The API sessions, run from a separate process so the client's threads do not compete
    with the server for this process's GIL."""
    import subprocess

    cmd = [sys.executable, "-m", "benchmarks.serving", "--client", url, "--sessions", str(sessions)]
    cmd += ["--turns", str(turns), "--timeout", str(timeout_s)]
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=True)
    return Run(**json.loads(out.stdout.strip().splitlines()[-1]))


class _Server:
    """uvicorn on 127.0.0.1 (a free port) in a daemon thread."""

    def __init__(self, app: Any) -> None:
        import socket

        import uvicorn

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 120
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self.url

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def row(model: str, path: str, sessions: int, r: Run) -> str:
    ms = 1000.0
    return (
        f"| {model} | {path} | {sessions} | {r.turns} | {r.turns / r.wall_s:.2f} | {pct(r.ttft, 50) * ms:.1f} | "
        f"{pct(r.ttft, 95) * ms:.1f} | {pct(r.total, 50) * ms:.1f} | {pct(r.total, 95) * ms:.1f} | {r.failures} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="mock,embedded", help="comma list of: mock, embedded")
    parser.add_argument("--sessions", default="1,8", help="comma list of concurrent session counts")
    parser.add_argument("--turns", type=int, default=0, help="turns per session (default: 10 mock, 1 embedded)")
    parser.add_argument("--data-dir", type=Path, default=None, help="settings.data_dir (default: from settings)")
    parser.add_argument("--timeout", type=float, default=300.0, help="client timeout per turn, seconds")
    parser.add_argument("--client", metavar="URL", help=argparse.SUPPRESS)  # internal: the load-generating process
    args = parser.parse_args(argv)
    if args.client:
        r = run_sessions(int(args.sessions), args.turns, api_turn(args.client, args.timeout))
        print(json.dumps(r.__dict__))
        return 0

    import logging

    logging.basicConfig(level=logging.ERROR)
    from app import create_app
    from chatbot.storage import Storage

    lines = [
        "| model | path | sessions | turns | turns/s | TTFT p50 ms | TTFT p95 ms | turn p50 ms | turn p95 ms | failures |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    notes: list[str] = []
    for model in [m.strip() for m in args.models.split(",") if m.strip()]:
        turns = args.turns or (10 if model == "mock" else 1)
        print(f"[{model}] loading ...", file=sys.stderr, flush=True)
        settings, service = build_service(model, args.data_dir)
        slots = settings.server.max_concurrency
        # Warm-up (first-call costs: model pages, tokenizer caches) outside the measurement.
        for ev in service.stream(QUESTIONS[0], session_id="warmup"):
            del ev
        service.reset("warmup")
        app = create_app(settings, service, storage=Storage(settings.database_path, redactor=lambda t: t))
        with _Server(app) as url:
            for n in [int(x) for x in str(args.sessions).split(",") if x.strip()]:
                print(f"[{model}] {n} sessions x {turns} turns: direct, then API", file=sys.stderr, flush=True)
                direct = run_sessions(n, turns, direct_turn(service, slots))
                api = api_load(url, n, turns, args.timeout)
                lines.append(row(model, "direct (no HTTP)", n, direct))
                lines.append(row(model, "API over loopback", n, api))
                over50 = (pct(api.ttft, 50) - pct(direct.ttft, 50)) * 1000
                over95 = (pct(api.ttft, 95) - pct(direct.ttft, 95)) * 1000
                srv = settings.server
                notes.append(
                    f"{model}, {n} session(s): API minus direct, TTFT p50 {over50:+.1f} ms, p95 {over95:+.1f} ms; "
                    f"failures {api.failures} API / {direct.failures} direct "
                    f"(server.max_concurrency={slots}, max_queue={srv.max_queue}, queue_timeout_s={srv.queue_timeout_s:g})"
                )
                for err in sorted(set(api.errors + direct.errors))[:5]:
                    notes.append(f"{model}, {n} session(s): failure: {err}")
    print("\n".join(lines))
    print()
    print("\n".join(notes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
