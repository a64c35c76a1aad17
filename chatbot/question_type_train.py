"""Training and evaluation data for the learned stage of :mod:`chatbot.question_type`.

    .venv/bin/python -m chatbot.question_type train            # rebuilds chatbot/data/question_type.npz

MedQuAD questions carry a ``qtype``; :data:`QTYPE_LABELS` maps the 39 real values to the label
set. The questions are templated ("What are the symptoms of X ?"), so the document's ``<Focus>``
is cut out of each question and only word n-grams seen in at least ``--min-docs`` training
documents are kept: the model learns the question form, not the disease. The split is by
document (80/20, fixed seed), so no held-out question shares a document with a training one.
Training is deterministic: full-batch Adam on the deduplicated design matrix, fixed iterations,
and the weights file is written with fixed zip timestamps (same input, same bytes).

LiveQA-Med dev questions (real consumer text) are the validation set; :data:`LIVEQA_LABELS` maps
their TYPE annotations. A question with several TYPEs counts as correct when the prediction is
any of them.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import re
import sys
import time
import zipfile
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree as ET

from chatbot.question_type import LABELS, MODEL_PATH, _Model, detect, features, learned_scores

REPO = Path(__file__).resolve().parent.parent

# MedQuAD qtype -> label. Drug and herb sections (MedlinePlus Drugs / Herbs) are all "medicine";
# "considerations" is ADAM's "What to do for X" (self-care, so treatment); "complications" is
# the course of the illness (outlook); cancer "stages" are worked out by staging tests.
QTYPE_LABELS: dict[str, str] = {
    "information": "definition",
    "how can i learn more": "definition",
    "symptoms": "symptoms",
    "causes": "causes",
    "treatment": "treatment",
    "considerations": "treatment",
    "prevention": "prevention",
    "why get vaccinated": "prevention",
    "outlook": "outlook",
    "complications": "outlook",
    "exams and tests": "tests",
    "stages": "tests",
    "when to contact a medical professional": "care",
    "susceptibility": "risk",
    "inheritance": "risk",
    "frequency": "risk",
    "genetic changes": "risk",
    "side effects": "medicine",
    "usage": "medicine",
    "dose": "medicine",
    "indication": "medicine",
    "contraindication": "medicine",
    "precautions": "medicine",
    "important warning": "medicine",
    "other information": "medicine",
    "brand names": "medicine",
    "brand names of combination products": "medicine",
    "emergency or overdose": "medicine",
    "severe reaction": "medicine",
    "storage and disposal": "medicine",
    "forget a dose": "medicine",
    "dietary": "medicine",
    "interactions with medications": "medicine",
    "interactions with herbs and supplements": "medicine",
    "interactions with foods": "medicine",
    "how effective is it": "medicine",
    "how does it work": "medicine",
    "research": "other",
    "support groups": "other",
}

# LiveQA TYPE -> label; unknown types are "other". PERSON_ORGANIZATION ("what kind of doctor
# should I see") is care; LIFESTYLE_DIET and ALTERNATIVE are ways of managing it (treatment).
LIVEQA_LABELS: dict[str, str] = {
    "INFORMATION": "definition",
    "SYMPTOM": "symptoms",
    "CAUSE": "causes",
    "TREATMENT": "treatment",
    "ALTERNATIVE": "treatment",
    "LIFESTYLE_DIET": "treatment",
    "PREVENTION": "prevention",
    "PROGNOSIS": "outlook",
    "COMPLICATION": "outlook",
    "DIAGNOSIS": "tests",
    "PERSON_ORGANIZATION": "care",
    "SUSCEPTIBILITY": "risk",
    "INHERITANCE": "risk",
    "FREQUENCY": "risk",
    "USAGE": "medicine",
    "SIDE_EFFECT": "medicine",
    "INTERACTION": "medicine",
    "DOSAGE": "medicine",
    "INGREDIENT": "medicine",
    "INDICATION": "medicine",
    "CONTRAINDICATION": "medicine",
    "TAPERING": "medicine",
    "STORAGE_DISPOSAL": "medicine",
    "ACTION": "medicine",
    "EFFECT": "other",
    "ASSOCIATION": "other",
    "OTHER_QUESTION": "other",
}


def shared_data_dir() -> Path:
    return Path(os.environ.get("HEALTHBOT_SHARED_DATA", REPO.parent / "shared" / "data"))


# --------------------------------------------------------------------------- MedQuAD


@dataclass(frozen=True)
class LabelledQuestion:
    doc: str  # "<folder>/<file stem>": the unit of the train/test split
    text: str  # as written
    masked: str  # with the document's focus cut out
    qtype: str
    label: str


def mask_focus(question: str, focus: str) -> str:
    """``question`` without its topic: the focus phrase, else the focus's words one by one."""
    if focus:
        masked = re.sub(re.escape(focus), " ", question, flags=re.I)
        if masked == question:
            words = set(re.findall(r"\w+", focus.lower()))
            masked = " ".join(w for w in re.findall(r"\S+", question) if re.sub(r"\W", "", w.lower()) not in words)
        question = masked
    return " ".join(question.split())


def read_medquad(root: Path) -> list[LabelledQuestion]:
    """Every MedQuAD question (answered or not) with its label, in a fixed order."""
    out = []
    for path in sorted(Path(root).glob("*/*.xml")):
        try:
            doc = ET.parse(path).getroot()
        except ET.ParseError:
            continue
        focus = " ".join((doc.findtext("Focus") or "").split())
        for q in doc.iter("Question"):
            text = " ".join((q.text or "").split())
            qtype = (q.get("qtype") or "").strip().lower()
            if text and qtype:
                label = QTYPE_LABELS.get(qtype, "other")
                out.append(
                    LabelledQuestion(f"{path.parent.name}/{path.stem}", text, mask_focus(text, focus), qtype, label)
                )
    return out


def split_by_document(
    questions: Sequence[LabelledQuestion], seed: int = 0, test_fraction: float = 0.2
) -> tuple[list[LabelledQuestion], list[LabelledQuestion]]:
    docs = sorted({q.doc for q in questions})
    random.Random(seed).shuffle(docs)
    test_docs = set(docs[: round(len(docs) * test_fraction)])
    return [q for q in questions if q.doc not in test_docs], [q for q in questions if q.doc in test_docs]


# --------------------------------------------------------------------------- model


def build_vocab(questions: Sequence[LabelledQuestion], min_docs: int) -> list[str]:
    """N-grams of the masked questions seen in >= ``min_docs`` documents: topic words left over
    by an imperfect mask are specific to few documents and drop out here."""
    docs_of: dict[str, set[str]] = defaultdict(set)
    for q in questions:
        for f in features(q.masked):
            docs_of[f].add(q.doc)
    return sorted(f for f, d in docs_of.items() if len(d) >= min_docs)


def fit(
    questions: Sequence[LabelledQuestion], vocab: Sequence[str], *, l2: float = 1e-3, iters: int = 300, lr: float = 0.05
) -> _Model:
    """Multinomial logistic regression (L2 on weights, not bias) by full-batch Adam.

    Templated questions repeat, so identical (features, label) rows are merged and weighted by
    their count: a few thousand rows instead of ~38,000, and the same optimum.
    """
    import numpy as np

    index = {f: i for i, f in enumerate(vocab)}
    rows: Counter[tuple[tuple[int, ...], int]] = Counter()
    for q in questions:
        key = tuple(sorted(index[f] for f in features(q.masked) if f in index))
        rows[key, LABELS.index(q.label)] += 1
    keys = sorted(rows)
    x = np.zeros((len(keys), len(vocab)), dtype=np.float64)
    y = np.zeros((len(keys), len(LABELS)), dtype=np.float64)
    w = np.array([rows[k] for k in keys], dtype=np.float64)
    for r, (feats, label) in enumerate(keys):
        x[r, list(feats)] = 1.0
        y[r, label] = 1.0
    w /= w.sum()
    params = [np.zeros((len(vocab), len(LABELS))), np.zeros(len(LABELS))]
    moments = [(np.zeros_like(p), np.zeros_like(p)) for p in params]
    for step in range(1, iters + 1):
        logits = x @ params[0] + params[1]
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        err = (p - y) * w[:, None]
        grads = [x.T @ err + l2 * params[0], err.sum(axis=0)]
        for param, grad, (m, v) in zip(params, grads, moments, strict=True):
            m[:] = 0.9 * m + 0.1 * grad
            v[:] = 0.999 * v + 0.001 * grad * grad
            param -= lr * (m / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-8)
    return _Model(LABELS, index, params[0].astype(np.float32), params[1].astype(np.float32))


def save_model(model: _Model, path: Path, *, seed: int = 0, min_docs: int = 10) -> None:
    """An .npz numpy can load, written with fixed timestamps so a rebuild is byte-identical.

    ``split`` records the split seed and ``--min-docs``, so a benchmark can rebuild the held-out half.
    """
    import numpy as np

    arrays = {
        "split": np.array([seed, min_docs], dtype=np.int64),
        "labels": np.array(model.labels),
        "vocab": np.array(sorted(model.vocab, key=model.vocab.__getitem__)),
        "weights": model.weights.astype(np.float16),  # 3 significant digits are plenty for a linear model
        "bias": model.bias.astype(np.float32),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, arr in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, arr, allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, buf.getvalue())


# --------------------------------------------------------------------------- LiveQA and metrics


@dataclass(frozen=True)
class LiveTyped:
    qid: int
    original: str  # SUBJECT + MESSAGE as the consumer sent it
    summary: str  # NLM-Summary
    types: tuple[str, ...]  # the TYPE annotations
    gold: frozenset[str]  # their labels


def read_liveqa(path: Path) -> list[LiveTyped]:
    out: list[LiveTyped] = []
    for q in ET.parse(path).getroot().iter("NLM-QUESTION"):
        orig = q.find("Original-Question")
        subject = " ".join(((orig.findtext("SUBJECT") if orig is not None else "") or "").split())
        message = " ".join(((orig.findtext("MESSAGE") if orig is not None else "") or "").split())
        types = tuple((t.text or "").strip().upper() for t in q.iter("TYPE") if (t.text or "").strip())
        if not types:
            continue
        m = re.search(r"\d+", q.get("qid", ""))
        out.append(
            LiveTyped(
                qid=int(m.group()) if m else len(out),
                original=f"{subject}\n{message}".strip(),
                summary=" ".join((q.findtext("NLM-Summary") or "").split()),
                types=types,
                gold=frozenset(LIVEQA_LABELS.get(t, "other") for t in types),
            )
        )
    return out


@dataclass(frozen=True)
class Interval:
    value: float
    low: float
    high: float
    n: int

    def __str__(self) -> str:
        return f"{self.value:.3f} [{self.low:.3f}, {self.high:.3f}] (n={self.n})"


def accuracy_interval(correct: Sequence[bool], *, seed: int = 0, n_boot: int = 10_000) -> Interval:
    """Accuracy with a percentile bootstrap 95% interval over questions."""
    import numpy as np

    c = np.asarray(correct, dtype=np.float64)
    if not len(c):
        return Interval(float("nan"), float("nan"), float("nan"), 0)
    rng = np.random.default_rng(seed)
    means = c[rng.integers(0, len(c), size=(n_boot, len(c)))].mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return Interval(float(c.mean()), float(lo), float(hi), len(c))


def per_label(gold: Sequence[str], pred: Sequence[str]) -> dict[str, tuple[float, float, int]]:
    """label -> (precision, recall, support)."""
    out = {}
    for label in LABELS:
        tp = sum(g == p == label for g, p in zip(gold, pred, strict=True))
        n_pred = sum(p == label for p in pred)
        support = sum(g == label for g in gold)
        out[label] = (tp / n_pred if n_pred else float("nan"), tp / support if support else float("nan"), support)
    return out


def liveqa_accuracy(items: Sequence[LiveTyped], predict: Callable[[str], str], field: str) -> Interval:
    """Accuracy of ``predict`` on each question's ``field`` ("original" or "summary")."""
    return accuracy_interval([predict(getattr(q, field)) in q.gold for q in items])


def argmax(scores: dict[str, float]) -> str:
    return max(LABELS, key=lambda lb: (scores.get(lb, 0.0), -LABELS.index(lb)))


# --------------------------------------------------------------------------- command


def train(shared: Path, *, seed: int = 0, min_docs: int = 10) -> tuple[_Model, list[LabelledQuestion]]:
    """The model trained on the 80% split, and the 20% held-out questions."""
    questions = read_medquad(shared / "MedQuAD")
    if not questions:
        raise SystemExit(f"no MedQuAD questions under {shared / 'MedQuAD'}")
    train_set, test_set = split_by_document(questions, seed)
    return fit(train_set, build_vocab(train_set, min_docs)), test_set


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m chatbot.question_type train", description=__doc__.splitlines()[0])
    p.add_argument("--shared-data", type=Path, default=shared_data_dir())
    p.add_argument("--out", type=Path, default=MODEL_PATH)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--min-docs", type=int, default=10)
    args = p.parse_args(argv)
    start = time.perf_counter()
    model, held_out = train(args.shared_data, seed=args.seed, min_docs=args.min_docs)
    save_model(model, args.out, seed=args.seed, min_docs=args.min_docs)
    print(f"trained in {time.perf_counter() - start:.1f}s: {len(model.vocab)} features -> {args.out}")
    learned = [argmax(learned_scores(q.text, model)) == q.label for q in held_out]
    combined = [detect(q.text, model).label == q.label for q in held_out]
    print(f"MedQuAD held-out (by document) learned only: {accuracy_interval(learned)}")
    print(f"MedQuAD held-out (by document) rules+learned: {accuracy_interval(combined)}")
    live_path = args.shared_data / "liveqa_med_dev" / "questions.xml"
    if live_path.exists():
        items = read_liveqa(live_path)
        for field in ("original", "summary"):
            acc = liveqa_accuracy(items, lambda text: detect(text, model).label, field)
            print(f"LiveQA dev ({field}) rules+learned: {acc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
