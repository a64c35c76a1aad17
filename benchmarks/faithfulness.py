"""Faithfulness checker on the labelled sets: precision and recall per label, and the targets.

    python -m benchmarks.faithfulness                 # the frozen held-out part (the reported numbers)
    python -m benchmarks.faithfulness --split dev     # the part the rules were tuned on
    python -m benchmarks.faithfulness --split train   # the paraphrase model's training rows
    python -m benchmarks.faithfulness --split dev --errors   # every miss, to read

Targets (issue 14), on held-out: contradicted and unsupported sentences caught (verdict not
``supported``) with recall >= 0.95; supported sentences wrongly rejected <= 10%. The baseline
row is the similarity check the product used before (embedding + word overlap >= 0.5, with the
embedded MiniLM), in the same run. Intervals: 95% bootstrap over rows.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from chatbot.faithfulness import Judgement, judge, passage_units
from chatbot.faithfulness_train import _similarity

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
SPLITS = {"heldout": "faithfulness_heldout.jsonl", "dev": "faithfulness_dev.jsonl", "train": "faithfulness_train.jsonl"}
LABELS = ("supported", "unsupported", "contradicted")


def load(split: str) -> list[dict[str, str]]:
    path = DATA / SPLITS[split]
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def checker(embedder: Any = None) -> Callable[[dict[str, str]], Judgement]:
    """The product's check: with the embedded MiniLM's similarity when ``embedder`` is given."""

    def run(row: dict[str, str]) -> Judgement:
        sim = _similarity(embedder, row["sentence"], passage_units(row["passage"])[0]) if embedder else None
        return judge(row["sentence"], row["passage"], question=row.get("question", ""), similarity=sim)

    return run


def embedded() -> Any:
    from chatbot.settings import load_settings
    from knowledge.embedding import build_embedder

    return build_embedder(load_settings().embedding)


def similarity_baseline(embedder: Any) -> Callable[[dict[str, str]], str]:
    """The product's former support check: embedding cosine and word overlap against the passage."""
    from chatbot.grounding import Evidence
    from knowledge.documents import Chunk, Hit

    def run(row: dict[str, str]) -> str:
        ev = Evidence([Hit(Chunk("p#0", "p", row["passage"]), 1.0)], embedder)
        vec = ev.encode([row["sentence"]])
        score = ev.support(row["sentence"], vec[0] if vec is not None else None)[0]
        return "supported" if score >= 0.5 else "unsupported"

    return run


def rates(gold: Sequence[str], pred: Sequence[str]) -> dict[str, float]:
    bad = [p for g, p in zip(gold, pred, strict=True) if g != "supported"]
    good = [p for g, p in zip(gold, pred, strict=True) if g == "supported"]
    out = {
        "caught": sum(p != "supported" for p in bad) / len(bad) if bad else float("nan"),
        "wrongly_rejected": sum(p != "supported" for p in good) / len(good) if good else float("nan"),
    }
    for label in LABELS:
        tp = sum(g == p == label for g, p in zip(gold, pred, strict=True))
        n_pred, n_gold = sum(p == label for p in pred), sum(g == label for g in gold)
        out[f"{label}_p"] = tp / n_pred if n_pred else float("nan")
        out[f"{label}_r"] = tp / n_gold if n_gold else float("nan")
    return out


def interval(gold: Sequence[str], pred: Sequence[str], key: str, rounds: int = 1000) -> tuple[float, float]:
    rng = random.Random(0)
    n, values = len(gold), []
    for _ in range(rounds):
        idx = [rng.randrange(n) for _ in range(n)]
        v = rates([gold[i] for i in idx], [pred[i] for i in idx])[key]
        if v == v:
            values.append(v)
    values.sort()
    return values[int(0.025 * len(values))], values[int(0.975 * len(values)) - 1]


def report(name: str, gold: Sequence[str], pred: Sequence[str]) -> None:
    r = rates(gold, pred)
    lo_c, hi_c = interval(gold, pred, "caught")
    lo_w, hi_w = interval(gold, pred, "wrongly_rejected")
    print(
        f"| {name} | {r['caught']:.3f} [{lo_c:.2f}, {hi_c:.2f}] | {r['wrongly_rejected']:.3f} [{lo_w:.2f}, {hi_w:.2f}] | "
        + " | ".join(f"{r[f'{lb}_p']:.2f} / {r[f'{lb}_r']:.2f}" for lb in LABELS)
        + " |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=sorted(SPLITS), default="heldout")
    parser.add_argument("--errors", action="store_true", help="print every row the checker gets wrong")
    parser.add_argument("--no-embedder", action="store_true", help="no MiniLM: the checker alone, no baseline")
    args = parser.parse_args(argv)
    rows = load(args.split)
    gold = [r["label"] for r in rows]
    embedder = None if args.no_embedder else embedded()
    judged = [checker(embedder)(r) for r in rows]
    pred = [j.verdict for j in judged]
    print(f"faithfulness, {args.split} split: {len(rows)} rows {dict(Counter(gold))}")
    print("| check | bad sentences caught (target >= 0.95) | supported wrongly rejected (target <= 0.10) | "
          + " | ".join(f"{lb} P / R" for lb in LABELS) + " |")  # fmt: skip
    print("|---|---|---|" + "---|" * len(LABELS))
    report("rules + paraphrase model" + (" (with MiniLM similarity)" if embedder else ""), gold, pred)
    if embedder is not None:
        report("rules + paraphrase model, no embedder", gold, [checker()(r).verdict for r in rows])
        base = similarity_baseline(embedder)
        report("similarity >= 0.5 (former check)", gold, [base(r) for r in rows])
    kinds: dict[str, list[bool]] = {}
    for r, p in zip(rows, pred, strict=True):
        ok = (p == "supported") == (r["label"] == "supported")
        kinds.setdefault(f"{r['kind']}/{r['label']}", []).append(ok)
    print("\nper kind (accept/reject right): " + ", ".join(f"{k} {sum(v)}/{len(v)}" for k, v in sorted(kinds.items())))
    if args.errors:
        for r, j in zip(rows, judged, strict=True):
            if (j.verdict == "supported") != (r["label"] == "supported"):
                print(f"\n[{r['id']} {r['kind']} gold={r['label']} pred={j.verdict} {j.reason}] {r['sentence']}")
                print(f"  unit: {j.unit[:200]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
