"""Question-type detection (chatbot.question_type): MedQuAD held-out and LiveQA-Med dev accuracy.

    .venv/bin/python -m benchmarks.question_type [--shared-data ../shared/data]

* MedQuAD held-out: the 20% of documents the shipped weights were not trained on (the split seed
  is stored in the weights file), learned stage alone and rules + learned, then per-label
  precision / recall of rules + learned. These questions are templated, so this mostly checks that
  the mapping and the rules do not break the templates.
* LiveQA-Med dev: real consumer questions, as sent (subject + message) and as the NLM summary,
  against their TYPE annotations (``chatbot.question_type_train.LIVEQA_LABELS``; a question with
  several TYPEs is right when the prediction is any of them). Rules only (first rule hit, else the
  MedQuAD majority "definition"), learned only, combined, and two constant baselines: the MedQuAD
  majority label and the LiveQA majority label (chosen on the same questions, so optimistic).
  Intervals: percentile bootstrap 95% over questions; n = 51, so they are wide.
* Latency: mean wall time of one ``detect`` call over the held-out questions, weights loaded.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chatbot import question_type as qt
from chatbot import question_type_train as qtt


def _rules_only(text: str) -> str:
    matched = qt.rule_labels(qt.question_part(text))
    return matched[0] if matched else "definition"


def _learned_only(text: str) -> str:
    return qtt.argmax(qt.learned_scores(qt.question_part(text)))


def _detect(text: str) -> str:
    return qt.detect(text).label


def _medquad(shared: Path) -> list[qtt.LabelledQuestion]:
    import numpy as np

    with np.load(qt.MODEL_PATH, allow_pickle=False) as data:
        seed = int(data["split"][0]) if "split" in data else 0
    _, held_out = qtt.split_by_document(qtt.read_medquad(shared / "MedQuAD"), seed)
    return held_out


def medquad_table(held_out: list[qtt.LabelledQuestion]) -> float:
    """Prints the MedQuAD rows; returns the mean detect latency in ms."""
    learned = [_learned_only(q.text) for q in held_out]
    start = time.perf_counter()
    combined = [_detect(q.text) for q in held_out]
    latency_ms = (time.perf_counter() - start) / max(len(held_out), 1) * 1000
    gold = [q.label for q in held_out]
    print("| MedQuAD held-out (20% of documents) | accuracy [95% CI] |")
    print("|---|---|")
    print(f"| learned stage alone | {qtt.accuracy_interval([p == g for p, g in zip(learned, gold, strict=True)])} |")
    print(
        f"| rules + learned (detect) | {qtt.accuracy_interval([p == g for p, g in zip(combined, gold, strict=True)])} |"
    )
    print()
    print("| label | precision | recall | support |")
    print("|---|---|---|---|")
    for label, (prec, rec, support) in qtt.per_label(gold, combined).items():
        print(f"| {label} | {prec:.3f} | {rec:.3f} | {support} |")
    print()
    return latency_ms


def liveqa_table(items: list[qtt.LiveTyped]) -> None:
    counts = Counter(label for q in items for label in q.gold)
    live_majority = max(sorted(counts), key=counts.__getitem__)
    systems: list[tuple[str, Callable[[str], str]]] = [
        ("rules only (else definition)", _rules_only),
        ("learned only", _learned_only),
        ("rules + learned (detect)", _detect),
        ("constant: definition (MedQuAD majority)", lambda _t: "definition"),
        (f"constant: {live_majority} (LiveQA majority, oracle)", lambda _t: live_majority),
    ]
    print(f"| LiveQA-Med dev (n={len(items)}) | consumer text (subject + message) | NLM summary |")
    print("|---|---|---|")
    for name, predict in systems:
        row = [qtt.liveqa_accuracy(items, predict, field) for field in ("original", "summary")]
        print(f"| {name} | {row[0]} | {row[1]} |")
    for field in ("original", "summary"):
        fired = sum(bool(qt.rule_labels(qt.question_part(getattr(q, field)))) for q in items)
        print(f"\nrules fired on {fired}/{len(items)} {field} questions", end="")
    print()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shared-data", type=Path, default=qtt.shared_data_dir())
    args = p.parse_args(argv)
    if not (args.shared_data / "MedQuAD").is_dir():
        print(f"no shared data at {args.shared_data} (set HEALTHBOT_SHARED_DATA)", file=sys.stderr)
        return 2
    start = time.perf_counter()
    qt.detect("warm up: load the weights")
    latency_ms = medquad_table(_medquad(args.shared_data))
    live = args.shared_data / "liveqa_med_dev" / "questions.xml"
    if live.exists():
        liveqa_table(qtt.read_liveqa(live))
    print(f"\ndetect latency: {latency_ms:.3f} ms per question (mean over MedQuAD held-out, weights loaded)")
    print(f"benchmark wall time: {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
