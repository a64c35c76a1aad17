"""Triage quality and speed on the labelled set and the held-out set, against two baselines.

    .venv/bin/python benchmarks/triage_eval.py [--repeat 20]

Baselines, measured in the same run:
* ``keywords``: the red-flag word list most chatbots bolt on (any danger word -> emergency),
  on lower-cased text; everything else "ok".
* ``patterns-only``: our red-flag patterns without the context rules (education, past,
  hypothetical, personal, happening now), to show what the context rules buy.
Latency is per message, median over ``--repeat`` passes of each whole file, one CPU thread.

With the shared data present (``--shared-data``, default ``../shared/data``), the false-alarm
check is repeated on text never used for tuning: the LiveQA-Med consumer questions (subject +
message) and the questions of a random sample of MedQuAD documents.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chatbot.safety import triage
from chatbot.safety.evaluate import TUNED_SET, TUNED_SECOND_SET, Item, evaluate, format_report, load
from chatbot.safety.lexicon import normalize
from chatbot.safety.triage import red_flags

_KEYWORDS = re.compile(
    r"chest pain|heart attack|stroke|can'?t breathe|breathing|bleeding|overdose|poison|suicid|kill myself|"
    r"self harm|seizure|unconscious|anaphyla|allergic reaction|fever|pregnan|head injury|burn|meningitis|"
    r"faint|collapse|choking|drooping|slurred|not breathing|want to die|pills|swallowed|blood|swelling|swollen|"
    r"dolor de pecho|infarto|no puedo respirar|fiebre|convulsi|sangr|pastillas|morir"
)


def keywords(text: str) -> str:
    return "emergency" if _KEYWORDS.search(text.lower()) else "ok"


def patterns_only(text: str) -> str:
    return "emergency" if red_flags(text) else "ok"


def ours(text: str) -> str:
    return triage(text).label


def per_message_ms(items: list[Item], fn: Callable[[str], str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for item in items:
            fn(item.text)
        times.append((time.perf_counter() - t0) / len(items) * 1000)
    return statistics.median(times)


def external_questions(shared: Path, medquad_files: int) -> dict[str, list[str]]:
    """Consumer and reference health questions from the shared data (all non-emergencies in the
    main, so every alarm raised on them is a candidate false alarm)."""
    import random
    import xml.etree.ElementTree as ET

    sets: dict[str, list[str]] = {}
    liveqa = shared / "liveqa_med_dev" / "questions.xml"
    if liveqa.is_file():
        qs = []
        for q in ET.parse(liveqa).getroot().iter("NLM-QUESTION"):
            subject, message = q.find(".//SUBJECT"), q.find(".//MESSAGE")
            text = f"{(subject.text or '') if subject is not None else ''}. {(message.text or '') if message is not None else ''}"
            if text.strip(". "):
                qs.append(" ".join(text.split()))
        sets["LiveQA-Med dev questions"] = qs
    medquad = sorted((shared / "MedQuAD").rglob("*.xml")) if (shared / "MedQuAD").is_dir() else []
    if medquad:
        rng = random.Random(0)
        qs = []
        for path in rng.sample(medquad, min(medquad_files, len(medquad))):
            try:
                qs.extend(q.text.strip() for q in ET.parse(path).getroot().iter("Question") if q.text)
            except ET.ParseError:
                continue
        sets[f"MedQuAD questions ({min(medquad_files, len(medquad))} random files)"] = qs
    return sets


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--details", action="store_true", help="print per-category tables and errors for ours")
    parser.add_argument("--shared-data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--medquad-files", type=int, default=400)
    args = parser.parse_args()
    systems = [("healthbot triage", ours), ("patterns-only", patterns_only), ("keywords", keywords)]
    normalize("warm up")
    for path in (TUNED_SET, TUNED_SECOND_SET):
        if not path.is_file():
            continue
        items = load(path)
        print(f"== {path.relative_to(path.parents[2])} ({len(items)} messages)")
        header = (
            f"{'system':18} {'emerg. recall':>13} {'benign FA':>10} {'en recall':>10} {'es recall':>10} {'ms/msg':>8}"
        )
        print(header)
        print("-" * len(header))
        for name, fn in systems:
            report = evaluate(items, fn)
            em = [i for i in items if i.label == "emergency"]
            lang_recall = {}
            for lang in ("en", "es"):
                sub = [i for i in em if i.lang == lang]
                lang_recall[lang] = evaluate(sub, fn).emergency_recall if sub else float("nan")
            ms = per_message_ms(items, fn, args.repeat)
            print(
                f"{name:18} {report.emergency_recall:>13.1%} {report.false_alarm_rate:>10.1%} "
                f"{lang_recall['en']:>10.1%} {lang_recall['es']:>10.1%} {ms:>8.3f}"
            )
        if args.details:
            print()
            print(format_report(str(path), evaluate(items, ours)))
        print()
    external = external_questions(args.shared_data, args.medquad_files)
    if external:
        print("== Health questions never used for tuning (every alarm is a candidate false alarm)")
        header = f"{'set':44} {'system':18} {'n':>5} {'emergency':>10} {'any non-ok':>11}"
        print(header)
        print("-" * len(header))
        for name, texts in external.items():
            for system, fn in systems:
                labels = [fn(t) for t in texts]
                emergency = sum(1 for x in labels if x == "emergency") / len(labels)
                non_ok = sum(1 for x in labels if x != "ok") / len(labels)
                print(f"{name:44} {system:18} {len(labels):>5} {emergency:>10.1%} {non_ok:>11.1%}")
            if args.details:
                for t in texts:
                    result = triage(t)
                    if result.label != "ok":
                        print(f"  {result.label} ({result.category}): {t[:160]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
