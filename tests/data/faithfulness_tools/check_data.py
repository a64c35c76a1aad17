"""Check the faithfulness data set: valid JSONL, required fields, labels and kinds in their sets,
unique ids, and no passage sentence or source shared by the held-out side
(faithfulness_heldout.jsonl and, if present, the optional faithfulness_heldout_hard.jsonl) and the
dev side (faithfulness_dev.jsonl and the training file faithfulness_train.jsonl).

    .venv/bin/python tests/data/faithfulness_tools/check_data.py

Exits non-zero with a message on the first kind of problem found; prints counts per label and
kind for each file otherwise.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from knowledge.chunking import split_sentences  # noqa: E402

DATA = ROOT / "tests" / "data"
FILES = {
    "heldout": (DATA / "faithfulness_heldout.jsonl", "fh-", 170),
    "heldout_hard": (DATA / "faithfulness_heldout_hard.jsonl", "fhh-", 0),  # optional supplement
    "dev": (DATA / "faithfulness_dev.jsonl", "fd-", 260),
    "train": (DATA / "faithfulness_train.jsonl", "ft-", 450),  # training rows, dev side only
}
HELDOUT_SIDE = ("heldout", "heldout_hard")
DEV_SIDE = ("dev", "train")
FIELDS = ("id", "question", "sentence", "passage", "label", "kind", "source", "why")
LABELS = ("supported", "unsupported", "contradicted")
KINDS = (
    "paraphrase",
    "verbatim",
    "model_lead",
    "negation",
    "number",
    "role_swap",
    "advice_reversed",
    "echo_question",
    "claim_about_user",
    "added_fact",
    "off_topic",
    "garbled",
    "entity_swap",
    "hedge_change",
    "partial",
)
MIN_MODEL_LEADS = 60  # over both files


GENERIC_MAX_WORDS = 4


def passage_sentences(passage: str) -> tuple[set[str], set[str]]:
    """(content sentences, generic lines) of a passage, normalised. Generic lines are lead-ins
    that end with a colon ("See a doctor soon if:") and list items of at most four words
    ("shortness of breath"); they carry no claim of their own and recur across topics."""
    content, generic = set(), set()
    for s in split_sentences(passage):
        s = re.sub(r"^\s*-\s*", "", s).replace("**", "")
        lead_in = s.rstrip().endswith(":")
        s = " ".join(s.lower().split()).rstrip(" .:;")
        if s:
            (generic if lead_in or len(s.split()) <= GENERIC_MAX_WORDS else content).add(s)
    return content, generic


def load(path: Path, prefix: str) -> list[dict]:
    rows, problems = [], []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            problems.append(f"{path.name}:{n}: blank line")
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            problems.append(f"{path.name}:{n}: invalid JSON ({err})")
            continue
        missing = [f for f in FIELDS if not isinstance(row.get(f), str)]
        extra = sorted(set(row) - set(FIELDS))
        if missing or extra:
            problems.append(f"{path.name}:{n}: missing/non-string {missing}, unexpected {extra}")
        if not row.get("id", "").startswith(prefix):
            problems.append(f"{path.name}:{n}: id {row.get('id')!r} does not start with {prefix}")
        if row.get("label") not in LABELS:
            problems.append(f"{path.name}:{n}: label {row.get('label')!r}")
        if row.get("kind") not in KINDS:
            problems.append(f"{path.name}:{n}: kind {row.get('kind')!r}")
        for f in ("sentence", "passage", "source", "why"):
            if not str(row.get(f, "")).strip():
                problems.append(f"{path.name}:{n}: empty {f}")
        rows.append(row)
    ids = Counter(r.get("id") for r in rows)
    problems += [f"{path.name}: duplicate id {i}" for i, c in ids.items() if c > 1]
    pairs = Counter((r.get("sentence"), r.get("passage")) for r in rows)
    problems += [f"{path.name}: duplicate row {s[:60]!r}" for (s, _), c in pairs.items() if c > 1]
    if problems:
        sys.exit("\n".join(problems))
    return rows


def split_overlap(rows: list[dict], held: dict[str, str], held_generic: set[str]):
    """Content passage sentences of rows that also occur on the held-out side ({sentence: (held-out id,
    row id)}), and the generic lines (lead-ins, short list items) that recur, which are allowed."""
    shared, shared_generic = {}, set()
    for r in rows:
        content, generic = passage_sentences(r["passage"])
        for s in content:
            if s in held:
                shared.setdefault(s, (held[s], r["id"]))
        shared_generic |= generic & held_generic
    return shared, shared_generic


def main() -> int:
    loaded = {}
    for name, (path, prefix, minimum) in FILES.items():
        if not path.exists():
            print(f"{name}: {path.name} missing, skipped")
            continue
        rows = load(path, prefix)
        loaded[name] = rows
        labels = Counter(r["label"] for r in rows)
        print(f"{name}: {len(rows)} rows (minimum {minimum})")
        print("  labels: " + ", ".join(f"{k} {labels[k]} ({labels[k] / len(rows):.0%})" for k in LABELS))
        by_kind = Counter((r["kind"], r["label"]) for r in rows)
        for kind in KINDS:
            cells = {lab: by_kind[(kind, lab)] for lab in LABELS if by_kind[(kind, lab)]}
            if cells:
                print(f"  {kind:17s} " + ", ".join(f"{lab} {n}" for lab, n in cells.items()))
        if len(rows) < minimum:
            sys.exit(f"{name}: only {len(rows)} rows, need {minimum}")
    if "heldout" in loaded and "dev" in loaded:
        held_rows = [r for name in HELDOUT_SIDE for r in loaded.get(name, [])]
        held = {s: r["id"] for r in held_rows for s in passage_sentences(r["passage"])[0]}
        held_generic = {s for r in held_rows for s in passage_sentences(r["passage"])[1]}
        src_h = {r["source"] for r in held_rows}
        for name in DEV_SIDE:
            if name not in loaded:
                continue
            shared, shared_generic = split_overlap(loaded[name], held, held_generic)
            if shared:
                sys.exit(
                    f"passage sentences in both the held-out side and {name}:\n"
                    + "\n".join(f"  {a} / {b}: {s[:90]!r}" for s, (a, b) in shared.items())
                )
            src = {r["source"] for r in loaded[name]}
            if src_h & src:
                sys.exit(f"sources in both the held-out side and {name}: {sorted(src_h & src)}")
            # the train file was written without reading the held-out side: print no held-out text for it
            example = f", e.g. {sorted(shared_generic)[:3]}" if name == "dev" else ""
            print(
                f"{name}: no passage sentence or source shared with the held-out side ({len(shared_generic)} generic "
                f"lead-in or <= {GENERIC_MAX_WORDS}-word list lines recur{example})"
            )
        leads = sum(r["kind"] == "model_lead" for rows in loaded.values() for r in rows)
        print(f"model leads: {leads}")
        if leads < MIN_MODEL_LEADS:
            sys.exit(f"only {leads} model_lead rows, need {MIN_MODEL_LEADS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
