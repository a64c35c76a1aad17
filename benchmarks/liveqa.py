"""LiveQA-Med evaluation data and ranking metrics, shared by the retrieval benchmarks."""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree as ET


@dataclass(frozen=True)
class LiveQuestion:
    qid: int  # the n of "TQn"
    subject: str
    message: str
    summary: str

    @property
    def original(self) -> str:
        """The consumer's question as sent: subject line, then message."""
        return f"{self.subject}\n{self.message}".strip()


def split_half(qid: int) -> str:
    """Deterministic halves of a LiveQA file: "A" (tune here) or "B" (held out).

    The dev file holds only odd TQ numbers, so parity would put everything in one half;
    alternate instead: n = 1, 5, 9, ... -> A and n = 3, 7, 11, ... -> B.
    """
    return "A" if (qid // 2) % 2 == 0 else "B"


def read_questions(path: Path) -> list[LiveQuestion]:
    root = ET.parse(path).getroot()
    out = []
    for q in root.iter("NLM-QUESTION"):
        m = re.search(r"(\d+)", q.get("qid", ""))
        if not m:
            continue
        orig = q.find("Original-Question")
        subject = " ".join(((orig.findtext("SUBJECT") if orig is not None else "") or "").split())
        message = " ".join(((orig.findtext("MESSAGE") if orig is not None else "") or "").split())
        summary = " ".join((q.findtext("NLM-Summary") or "").split())
        out.append(LiveQuestion(int(m.group(1)), subject, message, summary))
    return out


def read_qrels(path: Path) -> dict[int, dict[str, int]]:
    """qid -> {answer id: grade 1..4}."""
    out: dict[int, dict[str, int]] = defaultdict(dict)
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        grade = int(parts[1].split("-")[0])
        out[int(parts[0])][parts[2]] = grade
    return dict(out)


def metrics(ranking: list[str], grades: dict[str, int], min_grade: int, k: int = 10) -> dict[str, float]:
    """MAP@k (trec_eval map_cut: divided by all relevant), MRR@k, P@5, nDCG@k (graded gains)."""
    rel = {d for d, g in grades.items() if g >= min_grade}
    top = ranking[:k]
    hits, ap, rr = 0, 0.0, 0.0
    for i, d in enumerate(top, 1):
        if d in rel:
            hits += 1
            ap += hits / i
            if rr == 0.0:
                rr = 1.0 / i
    ap = ap / len(rel) if rel else 0.0
    p5 = sum(1 for d in ranking[:5] if d in rel) / 5
    gain = {d: (g - min_grade + 1) for d, g in grades.items() if g >= min_grade}
    dcg = sum(gain.get(d, 0) / math.log2(i + 1) for i, d in enumerate(top, 1))
    ideal = sorted(gain.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 1) for i, g in enumerate(ideal, 1))
    return {"MAP@10": ap, "MRR@10": rr, "P@5": p5, "nDCG@10": dcg / idcg if idcg else 0.0}


def mean_metrics(
    runs: dict[int, list[str]], qrels: dict[int, dict[str, int]], min_grade: int
) -> tuple[dict[str, float], int]:
    """Mean over questions that have at least one answer at ``min_grade`` (and how many those are)."""
    per = [
        metrics(runs[q], qrels[q], min_grade)
        for q in runs
        if q in qrels and any(g >= min_grade for g in qrels[q].values())
    ]
    if not per:
        return {"MAP@10": 0.0, "MRR@10": 0.0, "P@5": 0.0, "nDCG@10": 0.0}, 0
    return {m: sum(p[m] for p in per) / len(per) for m in per[0]}, len(per)
