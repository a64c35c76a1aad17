"""Build the v4 hand-audit labels (docs/evaluation/audit-2026-12-v4.jsonl) from the v4 answers.

v4 reran the same 60 turns (``audit_run.py --out docs/evaluation/audit-2026-12-v4-answers.jsonl``)
after three answer changes: another document's lines are quoted only when the patient named it or
the line names a rare word of the question (never its care threshold; its emergency lines may be);
a quoted line opening with a pronoun must follow an earlier line of its own passage, and the
planned lead's source is quoted first; advice for a condition the patient did not name ("if you
have psoriasis") does not open an answer. A line that v3 read, in the same answer, keeps its v3
verdict unless listed in RELABEL (its place in the answer changed what it reads as). Every other
line was read by hand for v4 against its cited passage, the question and the earlier turn:
``correct`` unless listed in WRONG. Run from the repository root:

    .venv/bin/python docs/evaluation/audit_v4_labels.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from audit_v3_labels import label  # noqa: E402  (one definition of a line and of the counts)

V3 = HERE / "audit-2026-12-v3.jsonl"
ANSWERS = HERE / "audit-2026-12-v4-answers.jsonl"
OUT = HERE / "audit-2026-12-v4.jsonl"

# (answer id, start of the line) -> why it is wrong: the v4 lines read by hand and found wrong.
WRONG = {
    ("L07", "Book an appointment with a doctor if joint pain comes with extreme tiredness"): (
        "Off-topic lead: lupus-type care advice (tiredness, mouth ulcers, rash) for someone describing swollen, "
        "stiff hands and feet; the source's own line about swelling and stiffness in the hands and feet, shown "
        "further down, is the one that answers her."
    ),
}
# Lines v3 read whose verdict changes with their new place in the answer.
RELABEL = {
    ("L03", "- It is usually defined as below 70 mg/dL"): (
        "correct",
        "Now quoted right after the lead from its own passage ('Hypoglycemia ... means the level of sugar "
        "... has dropped too low'), so 'It' is the hypo, as the source says (v3: shown after the glucagon line).",
    ),
}


def _decide(answer_id: str, s: str, old: dict | None) -> tuple[str, str, str]:
    key = next((k for k in WRONG if k[0] == answer_id and s.startswith(k[1])), None)
    relabel = next((v for k, v in RELABEL.items() if k[0] == answer_id and s.startswith(k[1])), None)
    if relabel is not None:
        return relabel[0], relabel[1], "v4"
    if old is not None:
        why = old["why"] if old["why"].startswith("v2: ") else f"v3: {old['why']}"
        return old["verdict"], why, old["read_in"]
    if key is not None:
        return "wrong", WRONG[key], "v4"
    return "correct", "Read for v4: the cited passage says it, on topic.", "v4"


def main() -> int:
    out, wrong, shown, answers_wrong = label(ANSWERS, V3, _decide)
    OUT.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in out), encoding="utf-8")
    read_now = sum(1 for r in out if r.get("read_in") == "v4")
    print(f"{wrong} wrong of {shown} shown lines, in {answers_wrong} of 60 answers ({read_now} lines read for v4)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
