"""Patient questions over the starter topics: is the right topic retrieved first, and does the
answer state the right care level?

    .venv/bin/python -m benchmarks.starter_questions [--questions tests/data/starter_questions.jsonl]
        [--no-answers] [--data-dir data/bench-starter]

Shipped defaults (``make run``: starter index, hybrid answers with the embedded model, combined
triage). Each line of the question file: ``{"id", "question", "topic": "<file stem>",
"care_level": "emergency" | "same_day" | "appointment" | null}``. Retrieval: the first
passage's document is ``starter-<topic>``. Care level: the reply contains the level's words
(``prompts.CARE_LEVELS`` without "if:", or the emergency reply's "Call your local emergency
number now"); intervals are percentile bootstraps over questions. Odd-numbered questions are
held out (see :func:`heldout`); ``--details`` prints errors of the even half only.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

REPO = Path(__file__).resolve().parents[1]
QUESTIONS = REPO / "tests" / "data" / "starter_questions.jsonl"
# Words that show each level in a reply: the topics' lead-in lines (quoted with their items) and
# the fixed emergency reply.
LEVEL_WORDS = {
    "emergency": ("call your local emergency number now",),
    "same_day": ("contact a doctor urgently, the same day", "contact a doctor urgently the same day"),
    "appointment": ("book an appointment with a doctor",),
}


def heldout(row: dict[str, Any]) -> bool:
    """Odd-numbered questions (S001, S003, ...) are held out: fixed in the commit that added this
    split, before any retrieval or answer change was tried on the set; only even ones are read
    for errors. Both halves are reported."""
    return int(str(row["id"]).lstrip("S") or 0) % 2 == 1


def load(path: Path) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    for n, row in enumerate(rows, 1):
        if not {"question", "topic"} <= set(row) or row.get("care_level") not in (None, *LEVEL_WORDS):
            raise SystemExit(f"error: {path}:{n}: needs question, topic and care_level in {list(LEVEL_WORDS)} or null")
    return rows


def states_level(text: str, level: str) -> bool:
    low = " ".join(text.lower().split())
    return any(w in low for w in LEVEL_WORDS[level])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--questions", type=Path, default=QUESTIONS)
    ap.add_argument("--data-dir", type=Path, default=REPO / "data" / "bench-starter")
    ap.add_argument("--no-answers", action="store_true", help="retrieval only (no model answers)")
    ap.add_argument("--details", action="store_true")
    args = ap.parse_args(argv)
    from chatbot.dialogue import DialogueService
    from chatbot.question_type_train import accuracy_interval
    from chatbot.settings import load_settings
    from knowledge.index import ensure_index, load_retriever

    rows = load(args.questions)
    settings = load_settings(data_dir=str(args.data_dir))
    ensure_index(settings)
    retriever = load_retriever(settings)
    started = time.perf_counter()
    first_ok, misses = [], []
    for row in rows:
        hits = retriever.search(row["question"], k=settings.knowledge.top_k)
        ok = bool(hits) and hits[0].chunk.doc_id == f"starter-{row['topic']}"
        first_ok.append(ok)
        if not ok:
            misses.append((row, hits[0].chunk.doc_id if hits else "-"))
    print(f"== {args.questions.name}: {len(rows)} questions, {len({x['topic'] for x in rows})} topics")
    halves = (("all", lambda _: True), ("held out (odd ids)", heldout), ("tuning (even ids)", lambda x: not heldout(x)))
    for name, keep in halves:
        r = accuracy_interval([ok for ok, row in zip(first_ok, rows, strict=True) if keep(row)])
        print(f"right topic first, {name}: {r.value:.1%} [{r.low:.1%}, {r.high:.1%}] (n={r.n})")
    if args.details:  # errors of the tuning half only: the held-out half is never read
        for row, got in misses:
            if not heldout(row):
                print(f"  miss {row['topic']:34} got {got:40} {row['question']}")
    if args.no_answers:
        return 0
    service = DialogueService.from_settings(settings)
    stated, wrong = [], []
    for row in rows:
        level = row.get("care_level")
        if level is None:
            continue
        reply = service.reply(row["question"])
        good = states_level(reply.text, level)
        stated.append(good)
        if not good:
            wrong.append((row, reply.text))
    care_rows = [row for row in rows if row.get("care_level") is not None]
    for name, keep in halves:
        s = accuracy_interval([ok for ok, row in zip(stated, care_rows, strict=True) if keep(row)])
        print(f"answer states the right care level, {name}: {s.value:.1%} [{s.low:.1%}, {s.high:.1%}] (n={s.n})")
    print(f"({time.perf_counter() - started:.0f} s; shipped defaults: answer mode {settings.dialogue.answer_mode})")
    if args.details:
        for row, text in (w for w in wrong if not heldout(w[0])):
            print(f"\n  [{row['care_level']}] {row['question']}\n    {' '.join(text.split())[:400]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
