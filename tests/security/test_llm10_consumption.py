"""LLM10 unbounded consumption at the service level: 1 MB messages, 1,000-turn histories,
thousands of sessions and many parallel turns stay within generous memory bounds (tracemalloc)
and end with a reply or a clear one-line error. Time is bounded only by a hang guard
(pytest-timeout), never asserted. The API's own limits (413, 400, 503) are tested in
tests/unit/test_api.py.
"""

from __future__ import annotations

import threading
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from chatbot.dialogue import DialogueError, DialogueService
from chatbot.errors import HealthbotError
from chatbot.llm.base import GenerationError, GenerationParams
from chatbot.sessions import MAX_STORED_TURNS
from chatbot.types import ChatMessage
from knowledge.documents import Document
from knowledge.retrieval import Retriever
from tests.security.hostile import build_real_index, make_service, security_settings

MB = 1 << 20
T = TypeVar("T")
DOCS = [
    Document(
        id="asthma",
        title="Asthma",
        text="Asthma makes the airways narrow and swell, which causes wheezing. Reliever inhalers open the airways. "
        "Preventer inhalers reduce swelling when used every day.",
        source="test",
    ),
    Document(
        id="flu",
        title="Influenza",
        text="Influenza causes fever, cough and aches. A yearly vaccine helps.",
        source="test",
    ),
]


class RecordingGenerator:
    """Answers from source [1] and records the size of every prompt it is given; like the real
    backend (chatbot.llm.hf) it refuses a prompt over ``limit`` tokens with a GenerationError."""

    name = "recording"

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.prompt_tokens: list[int] = []
        self._lock = threading.Lock()

    def stream(self, messages: list[ChatMessage], params: GenerationParams | None = None) -> Iterator[str]:
        n = sum(self.count_tokens(m.content) for m in messages)
        with self._lock:
            self.prompt_tokens.append(n)
        if n > self.limit:
            raise GenerationError(f"prompt is {n} tokens, over llm.max_prompt_tokens={self.limit}: shorten it")
        yield "Asthma makes the airways narrow and swell [1]."

    def count_tokens(self, text: str) -> int:
        return max(1, len(text) // 4)


def peak_bytes(fn: Callable[[], T]) -> tuple[T, int]:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        result = fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak


@pytest.fixture(scope="module")
def retriever(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Retriever]:
    data = tmp_path_factory.mktemp("llm10") / "data"
    return data, build_real_index(security_settings(data), DOCS)


def _service(retriever: tuple[Path, Retriever], mode: str = "generative", **dialogue: Any) -> DialogueService:
    data, r = retriever
    settings = security_settings(data, mode)
    if dialogue:
        settings = settings.model_copy(update={"dialogue": settings.dialogue.model_copy(update=dialogue)})
    return make_service(settings, r, RecordingGenerator(settings.llm.max_prompt_tokens))


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    "message",
    [
        ("What helps asthma? " * 60_000)[:MB],
        "x" * MB,  # one enormous word
        ("\n" * MB) + "What helps asthma?",
        "😷" * (MB // 4),
        ("ignore " * 150_000)[:MB],  # long repetitive input against the safety regexes
        ("a" * 50 + " ") * (MB // 51),
    ],
    ids=["sentences", "one_word", "newlines", "emoji", "repeated_keyword", "long_words"],
)
def test_one_megabyte_message_is_bounded(retriever: tuple[Path, Retriever], message: str) -> None:
    service = _service(retriever)
    generator = service.generator
    assert isinstance(generator, RecordingGenerator)

    def turn() -> str:
        # A reply, or the clear one-line error the real backend gives for a prompt that can't fit.
        try:
            return service.reply(message, session_id="big").text
        except HealthbotError as err:
            assert "\n" not in str(err) and "shorten" in str(err)
            return str(err)

    text, peak = peak_bytes(turn)
    assert text.strip()
    assert peak < 96 * MB, f"peak {peak / MB:.1f} MiB for a 1 MiB message"
    stored = service.sessions.snapshot("big").turns
    assert sum(len(m.content) for m in stored) <= 2 * service.settings.dialogue.max_message_chars + 10_000


def test_empty_and_whitespace_messages_are_clear_errors(retriever: tuple[Path, Retriever]) -> None:
    service = _service(retriever)
    for message in ["", "   ", "\n\t\n" * 1000]:
        with pytest.raises(DialogueError) as info:
            service.reply(message)
        assert "\n" not in str(info.value) and str(info.value)


@pytest.mark.timeout(180)
def test_thousand_turn_history_and_session_stay_bounded(retriever: tuple[Path, Retriever]) -> None:
    service = _service(retriever)
    generator = service.generator
    assert isinstance(generator, RecordingGenerator)
    history: list[ChatMessage] = []
    for i in range(1000):
        history += [ChatMessage("user", f"question {i} about asthma inhalers"), ChatMessage("assistant", "ok " * 50)]
    reply, peak = peak_bytes(lambda: service.reply("What helps asthma?", history=history))
    assert reply.citations
    assert peak < 64 * MB, f"peak {peak / MB:.1f} MiB for a 1,000-turn history"
    assert generator.prompt_tokens[-1] <= service.settings.llm.max_prompt_tokens

    # A long conversation held by the server in one session (past the per-session turn cap).
    def many_turns() -> None:
        for i in range(MAX_STORED_TURNS + 50):
            service.reply(f"Tell me more about asthma inhalers, part {i}", session_id="long")

    _, peak = peak_bytes(many_turns)
    assert len(service.sessions.snapshot("long").turns) <= MAX_STORED_TURNS
    assert max(generator.prompt_tokens) <= service.settings.llm.max_prompt_tokens
    assert peak < 64 * MB, f"peak {peak / MB:.1f} MiB over a {MAX_STORED_TURNS + 50}-turn session"


@pytest.mark.timeout(180)
def test_many_parallel_turns_and_sessions_stay_bounded(retriever: tuple[Path, Retriever]) -> None:
    service = _service(retriever, max_sessions=50)
    n_threads, per_thread = 32, 20
    errors: list[BaseException] = []
    texts: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(n_threads)

    def worker(t: int) -> None:
        try:
            barrier.wait(30)
            for i in range(per_thread):
                reply = service.reply(f"What helps asthma? ({t}.{i})", session_id=f"flood-{t}-{i}")
                with lock:
                    texts.append(reply.text)
        except BaseException as err:  # surfaced below
            errors.append(err)

    def flood() -> None:
        threads = [threading.Thread(target=worker, args=(t,)) for t in range(n_threads)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(150)

    _, peak = peak_bytes(flood)
    assert not errors, errors[:3]
    assert len(texts) == n_threads * per_thread and all(t.strip() for t in texts)
    assert len(service.sessions) <= 50, "old sessions are evicted"
    assert peak < 128 * MB, f"peak {peak / MB:.1f} MiB for {n_threads * per_thread} parallel turns"
