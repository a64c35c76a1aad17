"""Batch mode: answer every line of a JSONL file through the dialogue service.

Input lines are ``{"id", "text"}`` or ``{"id", "messages": [{"role", "content"}, ...]}`` (the
last message is the user's turn, earlier ones are the history). Each output line carries the
id plus the structured reply (see :func:`reply_record`). Output is written and flushed line by
line, so an interrupted run keeps every answer already produced; bad input lines are counted,
reported on stderr and skipped.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from chatbot.dialogue.service import ChatService
from chatbot.errors import HealthbotError
from chatbot.evaluation.errors import EvaluationError
from chatbot.types import ChatMessage, Reply

if TYPE_CHECKING:
    from chatbot.settings import Settings

_ROLES = ("system", "user", "assistant")


# What batch mode and the suites need from the dialogue service: its port.
Responder = ChatService


@dataclass(frozen=True)
class BatchItem:
    id: str
    text: str
    history: tuple[ChatMessage, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)  # other input keys, copied to the output


@dataclass
class BadLines:
    count: int = 0
    examples: list[str] = field(default_factory=list)

    def add(self, where: str, why: str) -> None:
        self.count += 1
        if len(self.examples) < 10:
            self.examples.append(f"{where}: {why}")


def parse_item(obj: Any) -> BatchItem:
    """One input record -> BatchItem; raises ValueError with the reason for a bad one."""
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")
    raw_id = obj.get("id")
    if raw_id is None or isinstance(raw_id, bool) or not isinstance(raw_id, str | int) or str(raw_id) == "":
        raise ValueError("missing 'id' (a string or integer)")
    extra = {k: v for k, v in obj.items() if k not in ("id", "text", "messages")}
    if "messages" in obj:
        msgs = obj["messages"]
        if not isinstance(msgs, list) or not msgs:
            raise ValueError("'messages' must be a non-empty list")
        turns = []
        for m in msgs:
            if not isinstance(m, dict) or m.get("role") not in _ROLES or not isinstance(m.get("content"), str):
                raise ValueError("each message needs 'role' (system|user|assistant) and string 'content'")
            turns.append(ChatMessage(m["role"], m["content"]))
        if turns[-1].role != "user":
            raise ValueError("the last message must have role 'user'")
        text = turns[-1].content
        history = tuple(t for t in turns[:-1] if t.role != "system")
    else:
        raw_text = obj.get("text")
        if not isinstance(raw_text, str):
            raise ValueError("needs 'text' (a string) or 'messages'")
        text = raw_text
        history = ()
    if not text.strip():
        raise ValueError("empty message text")
    return BatchItem(id=str(raw_id), text=text, history=history, extra=extra)


def read_items(path: Path, bad: BadLines) -> Iterator[BatchItem]:
    """Items of a JSONL file in order; malformed lines go to ``bad`` instead of raising."""
    path = Path(path)
    if not path.is_file():
        raise EvaluationError(f"input file not found: {path}")
    seen: set[str] = set()
    with path.open(encoding="utf-8", errors="replace") as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            where = f"{path.name}:{line_no}"
            try:
                item = parse_item(json.loads(line))
            except json.JSONDecodeError as err:
                bad.add(where, f"not valid JSON ({err.msg})")
                continue
            except ValueError as err:
                bad.add(where, str(err))
                continue
            if item.id in seen:
                bad.add(where, f"duplicate id {item.id!r}")
                continue
            seen.add(item.id)
            yield item


REPLY_KEYS = (
    "text",
    "triage",
    "triage_category",
    "refused",
    "citations",
    "retrieved",
    "grounded_fraction",
    "flags",
    "query",
    "timings",
)


def reply_record(reply: Reply) -> dict[str, Any]:
    """The structured reply as JSON-ready fields (same shape for batch output and results.jsonl)."""
    t = reply.timings
    return {
        "text": reply.text,
        "triage": reply.triage.label,
        "triage_category": reply.triage.category,
        "refused": reply.refused,
        "citations": [
            {"n": c.n, "doc_id": c.doc_id, "title": c.title, "url": c.url, "score": round(c.score, 4)}
            for c in reply.citations
        ],
        "retrieved": [
            {
                "doc_id": r.get("doc_id", ""),
                "chunk_id": r.get("chunk_id", ""),
                "title": r.get("title", ""),
                "score": round(float(r.get("score", 0.0)), 4),
            }
            for r in reply.retrieved
        ],
        "grounded_fraction": reply.grounded_fraction,
        "flags": list(reply.flags),
        "query": reply.query.retrieval if reply.query is not None else None,
        "timings": {
            "triage_s": round(t.triage_s, 4),
            "retrieval_s": round(t.retrieval_s, 4),
            "first_token_s": None if t.first_token_s is None else round(t.first_token_s, 4),
            "generation_s": round(t.generation_s, 4),
            "total_s": round(t.total_s, 4),
            "tokens_generated": t.tokens_generated,
        },
    }


@dataclass
class BatchSummary:
    answered: int = 0
    failed: int = 0
    bad: BadLines = field(default_factory=BadLines)
    seconds: float = 0.0


def run_batch(
    responder: Responder,
    items: Iterator[BatchItem],
    out: IO[str],
    summary: BatchSummary | None = None,
) -> BatchSummary:
    """Answer each item and write one JSON line per item, flushed as soon as it is done.

    An item whose turn fails with a :class:`HealthbotError` gets an ``error`` line and the run
    goes on; anything else is a bug and stops the run (lines already written stay).
    """
    summary = summary or BatchSummary()
    start = time.perf_counter()
    for item in items:
        rec: dict[str, Any] = {"id": item.id}
        try:
            reply = responder.reply(item.text, session_id=f"batch-{item.id}", history=list(item.history))
        except HealthbotError as err:
            rec["error"] = str(err)
            summary.failed += 1
        else:
            rec.update(reply_record(reply))
            summary.answered += 1
        rec.update({k: v for k, v in item.extra.items() if k not in rec})
        out.write(json.dumps(rec, ensure_ascii=False) + "\n")
        out.flush()
    summary.seconds = time.perf_counter() - start
    return summary


def settings_overrides(
    *, index: str | None = None, adapter: str | None = None, model: str | None = None
) -> dict[str, Any]:
    """Keyword overrides for :func:`chatbot.settings.load_settings` from the CLI flags."""
    out: dict[str, Any] = {}
    llm: dict[str, Any] = {}
    if adapter:
        if not Path(adapter).exists():
            raise EvaluationError(f"adapter not found: {adapter}")
        llm["adapter"] = adapter
    if model:
        llm["model"] = model
    if llm:
        out["llm"] = llm
    if index:
        if not Path(index).is_dir():
            raise EvaluationError(f"index directory not found: {index}")
        out["knowledge"] = {"index_dir": index}
    return out


def build_service(settings: Settings) -> Responder:
    from chatbot.dialogue import DialogueService

    return DialogueService.from_settings(settings)


def run_batch_cli(input_path: str, output_path: str, *, config: str | None, overrides: dict[str, Any]) -> int:
    from chatbot.settings import load_settings

    settings = load_settings(config, **overrides)
    inp, outp = Path(input_path), Path(output_path)
    if not inp.is_file():
        raise EvaluationError(f"input file not found: {inp}")
    if outp.resolve() == inp.resolve():
        raise EvaluationError("--output must differ from --input")
    service = build_service(settings)
    summary = BatchSummary()
    outp.parent.mkdir(parents=True, exist_ok=True)
    with outp.open("w", encoding="utf-8") as out:
        run_batch(service, read_items(inp, summary.bad), out, summary)
    for ex in summary.bad.examples:
        print(f"skipped {ex}", file=sys.stderr)
    more = summary.bad.count - len(summary.bad.examples)
    if more > 0:
        print(f"... and {more} more bad lines", file=sys.stderr)
    print(
        f"{summary.answered} answered, {summary.failed} failed, {summary.bad.count} bad lines skipped "
        f"-> {outp} ({summary.seconds:.1f}s)",
        file=sys.stderr,
    )
    return 1 if summary.failed or summary.bad.count else 0
