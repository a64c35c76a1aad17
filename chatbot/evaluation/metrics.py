"""Evaluation metrics, pure functions over plain Python values (no heavy imports).

Ranking metrics take a ranked list of document ids and a ``{doc_id: grade}`` dict of
judgements; unjudged documents count as not relevant. Grades follow LiveQA-Med
(1 Incorrect, 2 Related, 3 Incomplete, 4 Excellent); ``min_grade`` picks the relevance cut.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence

_TOKEN = re.compile(r"[a-z0-9]+")
_CITE = re.compile(r"\s*\[\d+(?:\s*[,;]\s*\d+)*\]")
_BULLET = re.compile(r"(?m)^\s*[-*]\s+")


def tokenize(text: str) -> list[str]:
    """Lower-cased alphanumeric tokens: the tokenization every text metric here uses."""
    return _TOKEN.findall(text.lower())


def scoring_text(answer: str) -> str:
    """An answer's words for scoring: citation markers ("[1]", "[1, 2]") and list bullets
    carry no content and would count as matches or misses against reference answers."""
    return " ".join(_BULLET.sub("", _CITE.sub("", answer)).split())


def _relevant(qrels: Mapping[str, int], min_grade: int) -> set[str]:
    return {d for d, g in qrels.items() if g >= min_grade}


def precision_at_k(ranked: Sequence[str], qrels: Mapping[str, int], k: int, min_grade: int = 3) -> float:
    """Relevant documents among the first ``k`` ranks, divided by ``k`` (missing ranks count as misses)."""
    if k <= 0:
        raise ValueError("k must be positive")
    rel = _relevant(qrels, min_grade)
    return sum(1 for d in ranked[:k] if d in rel) / k


def average_precision(ranked: Sequence[str], qrels: Mapping[str, int], k: int = 10, min_grade: int = 3) -> float | None:
    """AP@k as trec_eval's ``map_cut``: precision at each relevant rank within ``k``, summed and
    divided by the number of relevant documents ``R`` (so retrieval numbers compare with the
    project's retrieval benchmark and published LiveQA-Med results).

    ``None`` when the question has no relevant document at all (callers leave it out of the
    mean rather than counting a zero nobody could beat).
    """
    rel = _relevant(qrels, min_grade)
    if not rel:
        return None
    hits = 0
    total = 0.0
    for i, d in enumerate(ranked[:k], start=1):
        if d in rel:
            hits += 1
            total += hits / i
    return total / len(rel)


def reciprocal_rank(ranked: Sequence[str], qrels: Mapping[str, int], k: int = 10, min_grade: int = 3) -> float | None:
    """1/rank of the first relevant document within ``k`` (0 if none); ``None`` without relevant documents."""
    rel = _relevant(qrels, min_grade)
    if not rel:
        return None
    for i, d in enumerate(ranked[:k], start=1):
        if d in rel:
            return 1.0 / i
    return 0.0


def ndcg_at_k(ranked: Sequence[str], qrels: Mapping[str, int], k: int = 10, min_grade: int = 3) -> float | None:
    """nDCG@k with graded gains ``grade - min_grade + 1`` for relevant documents (grade>=3:
    Incomplete 1, Excellent 2) and a log2 discount; the ideal ranking uses every judged
    relevant document. ``None`` without relevant documents."""
    gains = {d: g - min_grade + 1 for d, g in qrels.items() if g >= min_grade}
    ideal = sorted(gains.values(), reverse=True)[:k]
    if not ideal:
        return None
    dcg = sum(gains.get(d, 0) / math.log2(i + 1) for i, d in enumerate(ranked[:k], start=1))
    idcg = sum(g / math.log2(i + 1) for i, g in enumerate(ideal, start=1))
    return dcg / idcg


def dedupe(ids: Iterable[str]) -> list[str]:
    """Document ranking from a chunk ranking: first occurrence of each id, order kept."""
    seen: set[str] = set()
    out = []
    for d in ids:
        if d not in seen:
            seen.add(d)
            out.append(d)
    return out


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence (two-row dynamic programme)."""
    if len(a) < len(b):
        a, b = b, a
    if not b:
        return 0
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b, start=1):
            cur.append(prev[j - 1] + 1 if x == y else max(prev[j], cur[j - 1]))
        prev = cur
    return prev[-1]


def rouge_l(candidate: str, reference: str, beta: float = 1.0) -> float:
    """ROUGE-L F-measure of ``candidate`` against one ``reference`` (LCS over lower-cased tokens)."""
    c, r = tokenize(candidate), tokenize(reference)
    if not c or not r:
        return 0.0
    lcs = lcs_length(c, r)
    if lcs == 0:
        return 0.0
    p, rec = lcs / len(c), lcs / len(r)
    b2 = beta * beta
    return (1 + b2) * p * rec / (rec + b2 * p)


def best_rouge_l(candidate: str, references: Sequence[str]) -> float | None:
    """Best ROUGE-L over several references; ``None`` without references."""
    if not references:
        return None
    return max(rouge_l(candidate, r) for r in references)


def first_words(text: str, n: int = 80) -> str:
    """The extractive baseline: the first ``n`` whitespace-separated words of a passage."""
    return " ".join(text.split()[:n])


def word_count(text: str) -> int:
    return len(text.split())


def citation_precision(cited: Sequence[str], qrels: Mapping[str, int], min_grade: int = 3) -> float | None:
    """Share of cited documents judged relevant; ``None`` when nothing was cited."""
    docs = dedupe(cited)
    if not docs:
        return None
    rel = _relevant(qrels, min_grade)
    return sum(1 for d in docs if d in rel) / len(docs)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) with linear interpolation between order statistics."""
    if not values:
        return None
    if not 0 <= q <= 100:
        raise ValueError("q must be within 0..100")
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100
    lo = math.floor(pos)
    hi = math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def mean(values: Iterable[float | None]) -> float | None:
    """Mean of the values that are not ``None``; ``None`` if there are none."""
    xs = [v for v in values if v is not None]
    return sum(xs) / len(xs) if xs else None
