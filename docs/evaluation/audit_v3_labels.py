"""Build the v3 hand-audit labels (docs/evaluation/audit-2026-12-v3.jsonl) from the v3 answers.

A shown line that the v2 audit already read, in the same answer, keeps its v2 verdict (the line
and its cited passage are the same; verdict ``why`` says "v2"). Every other line was read by hand
for v3 against the passage it cites, the question and the earlier turn; its verdict is in NEW
below (``correct`` unless listed in WRONG, with the reason). Run from the repository root:

    .venv/bin/python docs/evaluation/audit_v3_labels.py
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
V2 = HERE / "audit-2026-12-v2.jsonl"
ANSWERS = HERE / "audit-2026-12-v3-answers.jsonl"
OUT = HERE / "audit-2026-12-v3.jsonl"

# (answer id, start of the line) -> why it is wrong: the v3 lines read by hand and found wrong.
WRONG = {
    ("L07", "Book an appointment with a doctor if you have psoriasis"): (
        "Off-topic lead: psoriatic arthritis care advice for someone asking whether HNPP (a nerve disorder) "
        "explains her hand trouble; the starter base has no HNPP topic."
    ),
    ("P01", "- Book an appointment with a doctor if symptoms such as headache, dizziness"): (
        "Concussion criterion (two weeks after a head injury) in an answer about a three-day headache with no "
        "injury: another topic's threshold, reads as 'wait two weeks'."
    ),
}
# Lines read by hand and found correct but worth a note.
NOTES = {
    ("F02", "A cough lasting more than eight weeks"): "Correct but does not answer 'is it contagious?'.",
    ("F06", "Allergic conjunctivitis usually affects both eyes"): (
        "Correct, but the answer never says that viral and bacterial pink eye spread easily."
    ),
    ("P09", "- Call your local emergency number now if the fever comes with a stiff neck"): (
        "From the adult fever topic; the same meningitis signs are emergencies in children too."
    ),
    ("P01", "From what you describe, contact a doctor urgently"): (
        "The classifier's same-day note for a three-day headache: cautious, not wrong."
    ),
}


def shown_lines(text: str) -> list[str]:
    """The answer's lines as the audit counts them: list items and headings whole, prose by sentence."""
    out: list[str] = []
    for para in (p.strip() for p in text.split("\n")):
        if not para:
            continue
        if para.startswith("- ") or para.endswith(":"):
            out.append(para)
        else:
            out += [s for s in re.split(r"(?<=[.!?\]])\s+(?=[A-Z])", para) if s]
    return out


Decide = Callable[[str, str, "dict | None"], tuple[str, str, str]]


def label(answers: Path, prior: Path, decide: Decide) -> tuple[list[dict], int, int, int]:
    """Records for every shown line of ``answers``: ``decide(answer id, line, prior record or
    None)`` gives (verdict, why, read_in). Also the counts: wrong lines, lines, answers with one."""
    old = {}
    for line in prior.read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        if r["record"] == "sentence":
            old[(r["answer_id"], r["sentence"].strip())] = r
    out, wrong, shown, answers_wrong = [], 0, 0, 0
    for line in answers.read_text(encoding="utf-8").splitlines():
        a = json.loads(line)
        rows = []
        for i, s in enumerate(shown_lines(a["answer_text"])):
            verdict, why, read = decide(a["answer_id"], s, old.get((a["answer_id"], s)))
            rows.append({"record": "sentence", "answer_id": a["answer_id"], "index": i, "sentence": s,
                         "verdict": verdict, "why": why, "read_in": read})  # fmt: skip
        n_wrong = sum(r["verdict"] == "wrong" for r in rows)
        wrong += n_wrong
        shown += len(rows)
        answers_wrong += n_wrong > 0
        out.append({"record": "answer", "answer_id": a["answer_id"], "question": a["question"],
                    "answer_text": a["answer_text"], "flags": a["flags"], "sentences": len(rows), "wrong": n_wrong})  # fmt: skip
        out += rows
    return out, wrong, shown, answers_wrong


def _decide(answer_id: str, s: str, old: dict | None) -> tuple[str, str, str]:
    key = next((k for k in WRONG if k[0] == answer_id and s.startswith(k[1])), None)
    note = next((v for k, v in NOTES.items() if k[0] == answer_id and s.startswith(k[1])), "")
    if old is not None:
        return old["verdict"], f"v2: {old['why']}", "v2"
    if key is not None:
        return "wrong", WRONG[key], "v3"
    return "correct", note or "Read for v3: the cited passage says it, on topic.", "v3"


def main() -> int:
    out, wrong, shown, answers_wrong = label(ANSWERS, V2, _decide)
    OUT.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in out), encoding="utf-8")
    print(f"{wrong} wrong of {shown} shown lines, in {answers_wrong} of 60 answers")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
