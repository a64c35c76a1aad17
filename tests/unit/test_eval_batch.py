"""Batch mode: input parsing, bad lines, line-by-line output, CLI wiring (mock backends)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chatbot.dialogue import DialogueService
from chatbot.errors import HealthbotError
from chatbot.evaluation.batch import (
    BadLines,
    BatchItem,
    parse_item,
    read_items,
    reply_record,
    run_batch,
    settings_overrides,
)
from chatbot.evaluation.cli import standalone_parser
from chatbot.evaluation.errors import EvaluationError
from chatbot.llm.mock import MockGenerator
from chatbot.settings import Settings
from chatbot.types import ChatMessage, Reply
from knowledge.embedding import MockEmbedder
from tests.conftest import FakeRetriever


@pytest.fixture
def service(settings: Settings, fake_retriever: FakeRetriever) -> DialogueService:
    # The mock embedder's cosine scores sit below the default relevance cut.
    s = settings.model_copy(update={"knowledge": settings.knowledge.model_copy(update={"min_score": 0.0})})
    return DialogueService(s, generator=MockGenerator(), retriever=fake_retriever, embedder=MockEmbedder(256))


def test_parse_item_text_and_messages() -> None:
    assert parse_item({"id": 7, "text": "What is asthma?"}) == BatchItem("7", "What is asthma?")
    item = parse_item(
        {
            "id": "c1",
            "messages": [
                {"role": "system", "content": "ignored"},
                {"role": "user", "content": "What is asthma?"},
                {"role": "assistant", "content": "A lung condition."},
                {"role": "user", "content": "How is it treated?"},
            ],
            "tag": "x",
        }
    )
    assert item.text == "How is it treated?"
    assert item.history == (ChatMessage("user", "What is asthma?"), ChatMessage("assistant", "A lung condition."))
    assert item.extra == {"tag": "x"}


@pytest.mark.parametrize(
    ("obj", "why"),
    [
        ([1, 2], "not a JSON object"),
        ({"text": "hi"}, "missing 'id'"),
        ({"id": True, "text": "hi"}, "missing 'id'"),
        ({"id": "a"}, "needs 'text'"),
        ({"id": "a", "text": "   "}, "empty message"),
        ({"id": "a", "messages": []}, "non-empty list"),
        ({"id": "a", "messages": [{"role": "bot", "content": "x"}]}, "role"),
        ({"id": "a", "messages": [{"role": "assistant", "content": "x"}]}, "last message"),
    ],
)
def test_parse_item_rejects(obj: object, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        parse_item(obj)


def test_read_items_counts_bad_lines(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(
        '{"id": 1, "text": "What is asthma?"}\n'
        "not json\n"
        "\n"
        '{"id": 1, "text": "duplicate"}\n'
        '{"id": 2}\n'
        '{"id": 3, "text": "What is the flu?"}\n',
        encoding="utf-8",
    )
    bad = BadLines()
    items = list(read_items(src, bad))
    assert [i.id for i in items] == ["1", "3"]
    assert bad.count == 3
    assert bad.examples[0].startswith("in.jsonl:2: not valid JSON")
    assert "duplicate id" in bad.examples[1]
    with pytest.raises(EvaluationError, match="not found"):
        list(read_items(tmp_path / "missing.jsonl", BadLines()))


def test_run_batch_writes_structured_replies(service: DialogueService, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    items = [BatchItem("a", "What is asthma?"), BatchItem("b", "Is the flu contagious?", extra={"tag": 1})]
    with out.open("w", encoding="utf-8") as fh:
        summary = run_batch(service, iter(items), fh)
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert summary.answered == 2 and summary.failed == 0
    assert [x["id"] for x in lines] == ["a", "b"]
    first = lines[0]
    for key in ("text", "triage", "refused", "citations", "retrieved", "grounded_fraction", "flags", "timings"):
        assert key in first
    assert first["citations"][0]["doc_id"] == "asthma"
    assert {"doc_id", "title", "url"} <= set(first["citations"][0])
    assert first["retrieved"][0]["doc_id"] == "asthma" and "score" in first["retrieved"][0]
    assert set(first["timings"]) == {
        "triage_s",
        "retrieval_s",
        "first_token_s",
        "generation_s",
        "total_s",
        "tokens_generated",
    }
    assert first["timings"]["tokens_generated"] > 0
    assert lines[1]["tag"] == 1


class _Flaky:
    """Answers, then fails with a user-facing error, then crashes."""

    def __init__(self) -> None:
        self.n = 0

    def reply(self, message: str, **kw: object) -> Reply:
        self.n += 1
        if self.n == 2:
            raise HealthbotError("message too long")
        if self.n == 3:
            raise RuntimeError("bug")
        return Reply(text=f"answer {self.n}")


def test_lines_written_before_a_crash_survive(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    items = [BatchItem(str(i), f"q{i}") for i in range(4)]
    with out.open("w", encoding="utf-8") as fh, pytest.raises(RuntimeError):
        run_batch(_Flaky(), iter(items), fh)
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert lines[0]["text"] == "answer 1"
    assert lines[1] == {"id": "1", "error": "message too long"}
    assert len(lines) == 2


def test_reply_record_is_json_ready() -> None:
    rec = reply_record(Reply(text="hi"))
    assert json.loads(json.dumps(rec))["triage"] == "ok"
    assert rec["refused"] is False and rec["timings"]["first_token_s"] is None


def test_settings_overrides(tmp_path: Path) -> None:
    assert settings_overrides() == {}
    got = settings_overrides(index=str(tmp_path), model="some/model")
    assert got == {"llm": {"model": "some/model"}, "knowledge": {"index_dir": str(tmp_path)}}
    with pytest.raises(EvaluationError, match="index directory not found"):
        settings_overrides(index=str(tmp_path / "nope"))
    with pytest.raises(EvaluationError, match="adapter not found"):
        settings_overrides(adapter=str(tmp_path / "nope"))


def test_cli_batch_end_to_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, service: DialogueService, capsys: pytest.CaptureFixture[str]
) -> None:
    import chatbot.evaluation.batch as batch

    monkeypatch.setattr(batch, "build_service", lambda settings: service)
    src = tmp_path / "in.jsonl"
    src.write_text('{"id": "q1", "text": "What is asthma?"}\n{"id": "q2"}\n', encoding="utf-8")
    out = tmp_path / "sub" / "out.jsonl"
    args = standalone_parser().parse_args(["batch", "--input", str(src), "--output", str(out)])
    rc = args.func(args)
    err = capsys.readouterr().err
    assert rc == 1  # a bad line was skipped
    assert "skipped in.jsonl:2" in err and "1 answered" in err
    assert [json.loads(x)["id"] for x in out.read_text().splitlines()] == ["q1"]


def test_cli_evaluate_parses_compare() -> None:
    args = standalone_parser().parse_args(
        ["evaluate", "--suite", "liveqa", "--output", "o", "--compare", "a.yaml", "b.yaml"]
    )
    assert args.compare == ["a.yaml", "b.yaml"] and args.limit is None
    with pytest.raises(SystemExit):
        standalone_parser().parse_args(["evaluate", "--suite", "nope", "--output", "o"])
