"""Recall and false-alarm rate of the triage on a labelled JSONL set.

Each line: ``{"text": ..., "label": "emergency"|"benign"|"harmful"|"off_topic"|"injection",
"category": ..., "lang": "en"|"es"}``. Emergency recall is per category and language; the false
alarm rate is the share of benign messages given any label other than ``ok``.

``python -m chatbot.safety.evaluate [FILE ...]`` prints the tables; ``benchmarks/triage_eval.py``
adds two baselines and timings side by side.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from chatbot.errors import HealthbotError

# "routine" and "urgent" are the labels of the held-out set (docs/triage-categories.md): both
# expect no alarm; "routine" counts as benign for the false-alarm rate.
LABELS = ("emergency", "benign", "routine", "urgent", "harmful", "off_topic", "injection")
EXPECTED = {
    "emergency": "emergency",
    "benign": "ok",
    "routine": "ok",
    "urgent": "ok",
    "harmful": "harmful",
    "off_topic": "off_topic",
    "injection": "injection",
}
REPO = Path(__file__).resolve().parents[2]
TUNED_SET = REPO / "tests" / "data" / "triage_tuned.jsonl"
# Both tuned on while the rules were written (the second began as a held-out set and was read
# for errors and tuned on afterwards); the held-out set was written later and never tuned on.
TUNED_SECOND_SET = REPO / "tests" / "data" / "triage_tuned_second.jsonl"
HELDOUT_SET = REPO / "tests" / "data" / "triage_heldout.jsonl"
# Written later by a writer who saw only the category list (a69ea17); its errors are never printed.
HELDOUT_SET_V2 = REPO / "tests" / "data" / "triage_heldout_v2.jsonl"

Classifier = Callable[[str], str]


class TriageSetError(HealthbotError, ValueError):
    """A labelled triage file that can't be read; the message names the file and line."""


@dataclass(frozen=True)
class Item:
    text: str
    label: str
    category: str
    lang: str


def load(path: Path) -> list[Item]:
    if not path.is_file():
        raise TriageSetError(f"triage set not found: {path}")
    items = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            raise TriageSetError(f"{path}:{n}: not valid JSON ({err.msg})") from None
        if not isinstance(obj, dict) or obj.get("label") not in LABELS or not isinstance(obj.get("text"), str):
            raise TriageSetError(f"{path}:{n}: needs 'text' and a 'label' in {', '.join(LABELS)}")
        items.append(Item(obj["text"], obj["label"], str(obj.get("category", "")), str(obj.get("lang", "en"))))
    return items


@dataclass
class Counts:
    n: int = 0
    hit: int = 0

    @property
    def rate(self) -> float:
        return self.hit / self.n if self.n else 0.0


@dataclass
class Report:
    """Per dataset label: how many got the expected triage label, plus the misses."""

    by_label: dict[str, Counts] = field(default_factory=lambda: defaultdict(Counts))
    emergency_by_group: dict[tuple[str, str], Counts] = field(default_factory=lambda: defaultdict(Counts))
    false_alarms_by_lang: dict[str, Counts] = field(default_factory=lambda: defaultdict(Counts))
    misses: list[tuple[Item, str]] = field(default_factory=list)

    @property
    def emergency_recall(self) -> float:
        return self.by_label["emergency"].rate

    @property
    def false_alarm_rate(self) -> float:
        n = sum(self.by_label[k].n for k in ("benign", "routine"))
        hit = sum(self.by_label[k].hit for k in ("benign", "routine"))
        return 1.0 - hit / n if n else 0.0


def evaluate(items: Iterable[Item], classify: Classifier) -> Report:
    report = Report()
    for item in items:
        predicted = classify(item.text)
        correct = predicted == EXPECTED[item.label]
        counts = report.by_label[item.label]
        counts.n += 1
        counts.hit += correct
        if item.label == "emergency":
            group = report.emergency_by_group[(item.category, item.lang)]
            group.n += 1
            group.hit += correct
        if item.label in ("benign", "routine"):
            fa = report.false_alarms_by_lang[item.lang]
            fa.n += 1
            fa.hit += not correct
        if not correct:
            report.misses.append((item, predicted))
    return report


def triage_label(text: str) -> str:
    from chatbot.safety import triage

    return triage(text).label


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(h) for h in headers], *[[str(c) for c in r] for r in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_report(name: str, report: Report) -> str:
    out = [f"== {name}"]
    rows = []
    for label in LABELS:
        c = report.by_label.get(label)
        if c and c.n:
            benign = label in ("benign", "routine")
            metric = "false alarms" if benign else "recall"
            value = (c.n - c.hit) / c.n if benign else c.rate
            rows.append([label, c.n, metric, f"{value:.1%}"])
    out.append(_table(["label", "n", "metric", "value"], rows))
    rows = [[cat, lang, c.n, f"{c.rate:.1%}"] for (cat, lang), c in sorted(report.emergency_by_group.items())]
    out.append("\nEmergency recall by category and language")
    out.append(_table(["category", "lang", "n", "recall"], rows))
    rows = [[lang, c.n, f"{c.rate:.1%}"] for lang, c in sorted(report.false_alarms_by_lang.items())]
    out.append("\nBenign false-alarm rate by language")
    out.append(_table(["lang", "n", "false alarms"], rows))
    if report.misses:
        out.append("\nErrors (expected label <- given label: text)")
        out.extend(f"  {EXPECTED[i.label]} <- {pred}: {i.text}" for i, pred in report.misses)
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chatbot.safety.evaluate", description=__doc__)
    parser.add_argument(
        "files", nargs="*", type=Path, help="labelled JSONL files (default: the set and the held-out set)"
    )
    args = parser.parse_args(argv)
    files = args.files or [p for p in (TUNED_SET, TUNED_SECOND_SET) if p.is_file()]
    try:
        for path in files:
            print(format_report(str(path), evaluate(load(path), triage_label)))
            print()
    except HealthbotError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
