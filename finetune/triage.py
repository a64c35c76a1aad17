"""Train the learned triage stage (:mod:`chatbot.safety.learned`) on the written training set.

    .venv/bin/python -m finetune.triage [--out chatbot/data] [--recall 0.98]

Reads only the training files (``tests/data/triage_train_*.jsonl``); the held-out set
(``tests/data/triage_heldout.jsonl``) is refused, so it stays unseen. Thresholds come from
5-fold out-of-fold scores over the training set (each message scored by a model that never saw
it): the emergency threshold is the highest that keeps out-of-fold emergency recall at
``--recall``, the urgent threshold the highest that keeps urgent-or-worse recall at
``--urgent-recall``. The shipped heads are then fitted on all training messages.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from chatbot.errors import HealthbotError
from chatbot.safety.learned import CATEGORY_COLUMNS, LEVELS, META_PATH, MODEL_PATH, features, hasher
from chatbot.safety.triage import assess, doubtful

REPO = Path(__file__).resolve().parents[1]
TRAIN_FILES = sorted((REPO / "tests" / "data").glob("triage_train_*.jsonl"))
HELDOUT_NAME = "triage_heldout.jsonl"


class TrainingSetError(HealthbotError, ValueError):
    """A training file that can't be used; the message names the file and line."""


@dataclass(frozen=True)
class Example:
    text: str
    label: str  # routine | urgent | emergency
    category: str


def load(paths: list[Path]) -> list[Example]:
    out: list[Example] = []
    for path in paths:
        if path.name.startswith("triage_heldout"):
            raise TrainingSetError(f"{path} is the held-out set; it is never trained on")
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                ex = Example(str(obj["text"]), str(obj["label"]), str(obj.get("category") or "none"))
            except (json.JSONDecodeError, KeyError, TypeError) as err:
                raise TrainingSetError(f"{path}:{n}: not a training line ({err})") from None
            if ex.label not in LEVELS:
                raise TrainingSetError(f"{path}:{n}: label {ex.label!r} is not one of {LEVELS}")
            out.append(ex)
    if not out:
        raise TrainingSetError("no training messages found")
    return out


def _fit(x: Any, y: Any, c: float) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, max_iter=3000, class_weight="balanced").fit(x, y)


def _threshold_for_recall(scores: Any, positive: Any, recall: float) -> float:
    """The highest threshold whose recall on the positives is at least ``recall``."""
    import numpy as np

    pos = np.sort(scores[positive])[::-1]
    if not len(pos):
        raise TrainingSetError("the training set has no messages of a level it needs (emergency and urgent)")
    k = max(1, int(np.ceil(recall * len(pos))))
    return float(pos[k - 1])


def out_of_fold(x: Any, levels: Any, strata: Any, c: float, folds: int = 5) -> Any:
    import numpy as np
    from sklearn.model_selection import StratifiedKFold

    oof = np.zeros((x.shape[0], len(LEVELS)))
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=0).split(x, strata):
        model = _fit(x[train], levels[train], c)
        oof[np.ix_(test, model.classes_)] = model.predict_proba(x[test])
    return oof


def train(examples: list[Example], encode: Any, *, recall: float, urgent_recall: float, c: float) -> dict[str, Any]:
    import numpy as np

    texts = [e.text for e in examples]
    x = features(texts, encode, hasher())
    levels = np.array([LEVELS.index(e.label) for e in examples])
    keys = [f"{e.label}:{e.category}" if e.label == "emergency" else e.label for e in examples]
    # A stratum smaller than the fold count can't be split; it falls back to its label.
    strata = np.array([k if keys.count(k) >= 5 else k.split(":")[0] for k in keys])
    oof = out_of_fold(x, levels, strata, c)
    emergency = levels == 2
    t_emergency = _threshold_for_recall(oof[:, 2], emergency, recall)
    at_least_urgent = levels >= 1
    t_urgent = _threshold_for_recall(oof[:, 1] + oof[:, 2], at_least_urgent & ~emergency, urgent_recall)
    level_model = _fit(x, levels, c)
    cats = sorted({e.category for e in examples if e.label == "emergency"})
    cat_y = np.array([cats.index(e.category) for e in examples if e.label == "emergency"])
    # All features: out of fold they name the category 0.72 of the time, against 0.69 for the
    # embedding alone (C=4, the 1,641 training messages); the guidance text depends on it.
    cat_x = x[np.flatnonzero(emergency)][:, :CATEGORY_COLUMNS]
    cat_model = _fit(cat_x, cat_y, c)
    oof_cat = _category_accuracy(cat_x, cat_y, c)
    routine = levels == 0
    # Only a rule match in a message that asks about an emergency may be overruled (doubtful).
    rules = np.array([assess(e.text).emergency for e in examples])
    rules_sure = rules & ~np.array([doubtful(e.text) for e in examples])
    floor = min(
        rule_floor(oof[:, 2], rules, rules_sure, emergency, t_emergency),
        _tuned_floor(level_model, encode, t_emergency),
    )
    combined = (oof[:, 2] >= t_emergency) | rules_sure | (rules & (oof[:, 2] >= floor))
    report = {
        "oof_emergency_recall": float((oof[emergency, 2] >= t_emergency).mean()),
        "oof_false_alarm_routine": float((oof[routine, 2] >= t_emergency).mean()),
        "oof_combined_recall": float(combined[emergency].mean()),
        "oof_combined_false_alarm_routine": float(combined[routine].mean()),
        "rules_recall": float(rules[emergency].mean()),
        "rules_false_alarm_routine": float(rules[routine].mean()),
        "oof_urgent_recall": float(((oof[:, 1] + oof[:, 2])[levels == 1] >= t_urgent).mean()),
        "oof_category_accuracy": oof_cat,
    }
    return {
        "weights": {
            "level_w": level_model.coef_.T.astype("float16"),
            "level_b": level_model.intercept_.astype("float32"),
            "cat_w": cat_model.coef_.T.astype("float16"),
            "cat_b": cat_model.intercept_.astype("float32"),
        },
        "categories": cats,
        "emergency_threshold": t_emergency,
        "urgent_threshold": t_urgent,
        "rule_floor": floor,
        "report": report,
    }


# Candidate floors below which the classifier may overrule a rule match; never above 0.2, so a
# rule match stands unless the classifier gives it less than a one-in-five chance.
FLOORS = (0.0, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2)


def _tuned_floor(model: Any, encode: Any, threshold: float) -> float:
    """The highest floor that overrules no emergency of the rules' own labelled sets (the rules
    were written on them; the classifier never saw them): "creo que estoy teniendo un infarto"
    must stand even where the classifier is unsure of short Spanish."""
    import numpy as np

    from chatbot.safety.evaluate import TUNED_SECOND_SET, TUNED_SET
    from chatbot.safety.evaluate import load as load_tuned

    texts = [i.text for path in (TUNED_SET, TUNED_SECOND_SET) for i in load_tuned(path) if i.label == "emergency"]
    p = model.predict_proba(features(texts, encode, hasher()))[:, list(model.classes_).index(2)]
    rules = np.array([assess(t).emergency for t in texts])
    sure = rules & ~np.array([doubtful(t) for t in texts])
    return rule_floor(p, rules, sure, np.ones(len(texts), dtype=bool), threshold)


def rule_floor(p: Any, rules: Any, sure: Any, emergency: Any, threshold: float) -> float:
    """The highest floor that loses no emergency the rules-or-classifier union catches, where
    only doubtful rule matches (``rules`` but not ``sure``) can be overruled."""
    union = ((p >= threshold) | rules)[emergency].sum()
    best = 0.0
    for floor in FLOORS:
        if ((p >= threshold) | sure | (rules & (p >= floor)))[emergency].sum() >= union:
            best = floor
    return best


def _category_accuracy(x: Any, y: Any, c: float) -> float:
    import numpy as np
    from sklearn.model_selection import StratifiedKFold

    hits = 0
    counts = np.bincount(y)
    keep = np.flatnonzero(counts[y] >= 5)  # categories too small for 5 folds are left out of the figure
    x, y = x[keep], y[keep]
    for train, test in StratifiedKFold(5, shuffle=True, random_state=0).split(x, y):
        hits += int((_fit(x[train], y[train], c).predict(x[test]) == y[test]).sum())
    return float(hits / len(y)) if len(y) else float(np.nan)


def embedded_encoder() -> tuple[Any, str]:
    """The embedded MiniLM as the service runs it for triage (int8, query path)."""
    from chatbot.safety.learned import EMBEDDING_BACKEND
    from chatbot.settings import EmbeddingSettings
    from knowledge.embedding import build_embedder, encode_queries

    embedder = build_embedder(EmbeddingSettings(backend=EMBEDDING_BACKEND))
    return (lambda texts: encode_queries(embedder, texts)), embedder.name


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="*", type=Path, default=TRAIN_FILES)
    ap.add_argument("--out", type=Path, default=MODEL_PATH.parent)
    ap.add_argument("--recall", type=float, default=0.98, help="out-of-fold emergency recall to keep")
    ap.add_argument("--urgent-recall", type=float, default=0.85, help="out-of-fold urgent recall to keep")
    ap.add_argument("-C", type=float, default=4.0, help="inverse L2 strength of the logistic regressions")
    args = ap.parse_args(argv)
    try:
        examples = load(list(args.files))
    except (HealthbotError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    encode, embedder_name = embedded_encoder()
    result = train(examples, encode, recall=args.recall, urgent_recall=args.urgent_recall, c=args.C)
    import numpy as np

    args.out.mkdir(parents=True, exist_ok=True)
    model_path, meta_path = args.out / MODEL_PATH.name, args.out / META_PATH.name
    tmp = model_path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **result["weights"])
    meta = {
        "embedder": embedder_name,
        "categories": result["categories"],
        "emergency_threshold": result["emergency_threshold"],
        "urgent_threshold": result["urgent_threshold"],
        "rule_floor": result["rule_floor"],
        "trained_on": {p.name: hashlib.sha256(p.read_bytes()).hexdigest()[:16] for p in args.files},
        "messages": len(examples),
        "C": args.C,
        "target_recall": args.recall,
        "report": result["report"],
        "date": date.today().isoformat(),
    }
    tmp.replace(model_path)  # whole files only: a crash never leaves half-written weights
    meta_path.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    keys = ("messages", "emergency_threshold", "urgent_threshold", "rule_floor", "report")
    print(json.dumps({k: meta[k] for k in keys}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
