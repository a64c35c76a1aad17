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
import json
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chatbot import prompts
from chatbot.safety import triage
from chatbot.safety.evaluate import TUNED_SECOND_SET, TUNED_SET, Item, evaluate, format_report, load
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


READ_IDS = Path(__file__).resolve().parents[1] / "tests" / "data" / "triage_heldout_read.txt"


def torch_threads_one() -> None:
    """Latency is reported for one core: the figure a busy host sees per message."""
    import os

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass


def load_model() -> Any:
    """The shipped classifier on the embedded MiniLM's query path (what ``make run`` gets)."""
    from chatbot.safety.learned import EMBEDDING_BACKEND, TriageModel
    from chatbot.settings import EmbeddingSettings
    from knowledge.embedding import build_embedder, encode_queries

    embedder = build_embedder(EmbeddingSettings(backend=EMBEDDING_BACKEND))
    return TriageModel.load(lambda texts: encode_queries(embedder, texts))


def _per_category(items: list[dict[str, Any]], rows: dict[str, list[bool]]) -> None:
    """Recall of each system and the shipped false-alarm rate, per data category."""
    by_cat: dict[str, list[tuple[bool, bool, bool]]] = {}
    for item, r_rules, r_model, r_comb in zip(
        items, rows["rules only"], rows["classifier only"], rows["combined (shipped)"], strict=True
    ):
        if item["label"] == "emergency":
            by_cat.setdefault(item["category"], []).append((r_rules, r_model, r_comb))
    fa_cat: dict[str, list[bool]] = {}
    for item, alarm in zip(items, rows["combined (shipped)"], strict=True):
        if item["label"] == "routine":
            fa_cat.setdefault(item["category"], []).append(alarm)
    print(
        f"\n{'category':24} {'n':>3} {'rules':>6} {'model':>6} {'combined':>9} {'routine n':>10} {'false alarms':>13}"
    )
    for cat in sorted(set(by_cat) | set(fa_cat)):
        got = by_cat.get(cat, [])
        fa = fa_cat.get(cat, [])
        cols = [sum(g[k] for g in got) / len(got) if got else float("nan") for k in range(3)]
        fa_rate = sum(fa) / len(fa) if fa else float("nan")
        print(f"{cat:24} {len(got):>3} {cols[0]:>6.0%} {cols[1]:>6.0%} {cols[2]:>9.0%} {len(fa):>10} {fa_rate:>13.0%}")


def _latency(model: Any, items: list[dict[str, Any]]) -> None:
    """The classifier's time per message (embedding + heads), one core."""
    times = []
    for item in items:
        t0 = time.perf_counter()
        model.score(item["text"])
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    p50, p95 = times[len(times) // 2], times[int(len(times) * 0.95)]
    print(f"\nClassifier latency per message, one core: p50 {p50:.1f} ms, p95 {p95:.1f} ms (embedding + heads)")


def heldout(model: Any, path: Path, *, show_errors: bool) -> None:
    """Rules only, classifier only and combined on a held-out set, with 95% intervals
    (percentile bootstrap over messages), per category, Spanish, and classifier latency.
    ``show_errors`` is off for the second set: its messages are never read, only counted."""
    from chatbot.question_type_train import accuracy_interval

    items = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows: dict[str, list[bool]] = {}
    combined_results = [triage(i["text"], model=model) for i in items]
    rows["rules only"] = [triage(i["text"]).label == "emergency" for i in items]
    rows["classifier only"] = [model.score(i["text"]).level == "emergency" for i in items]
    rows["combined (shipped)"] = [r.label == "emergency" for r in combined_results]
    emergency = [i["label"] == "emergency" for i in items]
    routine = [i["label"] == "routine" for i in items]
    urgent = [i["label"] == "urgent" for i in items]
    print(f"== {path.relative_to(path.parents[2])} (held out: never tuned on; {len(items)} messages)")
    header = f"{'system':20} {'emergency recall [95% CI]':>30} {'false alarms, routine [95% CI]':>32} {'urgent -> emergency':>20}"
    print(header)
    print("-" * len(header))
    read = {x.strip() for x in READ_IDS.read_text(encoding="utf-8").splitlines() if x.startswith("H")}
    unread = [i["id"] not in read for i in items]
    subsets = [("all", [True] * len(items))] + ([("never read", unread)] if read & {i["id"] for i in items} else [])
    for subset, keep in subsets:
        if subset != "all":
            print(f"-- without the {len(read)} messages whose errors were read ({READ_IDS.name})")
        for name, alarm in rows.items():
            rec = accuracy_interval([a for a, e, k in zip(alarm, emergency, keep, strict=True) if e and k])
            fa = accuracy_interval([a for a, r, k in zip(alarm, routine, keep, strict=True) if r and k])
            up = sum(a for a, u in zip(alarm, urgent, strict=True) if u)
            print(
                f"{name:20} {rec.value:>8.1%} [{rec.low:.1%}, {rec.high:.1%}] (n={rec.n:>3}) "
                f"{fa.value:>8.1%} [{fa.low:.1%}, {fa.high:.1%}] (n={fa.n:>3}) {up:>12}/{sum(urgent)}"
            )
    spanish = [
        (i, r) for i, r in zip(items, combined_results, strict=True) if i["lang"] == "es" and i["label"] == "emergency"
    ]
    caught_es = [r.label == "emergency" for _, r in spanish]
    in_spanish = [
        r.label == "emergency" and r.message.startswith((prompts.EMERGENCY_LEAD_ES, prompts.CRISIS_MESSAGE_ES))
        for _, r in spanish
    ]
    print(
        f"\nSpanish emergencies (combined): recall {sum(caught_es)}/{len(spanish)}, "
        f"answered in Spanish {sum(in_spanish)}/{len(spanish)}"
    )
    _per_category(items, rows)
    _latency(model, items)
    if not show_errors:
        print()
        return
    misses = [
        i
        for i, a in zip(items, rows["combined (shipped)"], strict=True)
        if (i["label"] == "emergency") != a and i["label"] != "urgent"
    ]
    if misses:
        print("\nCombined errors (label: text)")
        for i in misses:
            print(f"  {i['label']:9} {i['category']:22} {i['text'][:150]}")
    print()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--details", action="store_true", help="print per-category tables and errors for ours")
    parser.add_argument("--shared-data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--medquad-files", type=int, default=400)
    parser.add_argument(
        "--no-model", action="store_true", help="rules only (skip the learned stage and held-out table)"
    )
    args = parser.parse_args()
    systems: list[tuple[str, Callable[[str], str]]] = [
        ("rules only", ours),
        ("patterns-only", patterns_only),
        ("keywords", keywords),
    ]
    torch_threads_one()
    model = None if args.no_model else load_model()
    if model is not None:
        from chatbot.safety.evaluate import HELDOUT_SET, HELDOUT_SET_V2

        heldout(model, HELDOUT_SET, show_errors=True)
        heldout(model, HELDOUT_SET_V2, show_errors=False)
        systems.insert(0, ("combined (shipped)", lambda text: triage(text, model=model).label))
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
                    result = triage(t, model=model)
                    if result.label != "ok":
                        print(f"  {result.label} ({result.category}): {t[:160]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
