"""Metrics against values computed by hand (comments show the arithmetic)."""

from __future__ import annotations

import math

import pytest

from chatbot.evaluation import metrics as m
from chatbot.evaluation.bootstrap import paired_bootstrap

QRELS = {"a": 4, "c": 3, "e": 2, "x": 3, "z": 1}
RANKED = ["a", "b", "c", "d", "e"]


def test_average_precision_grade3() -> None:
    # relevant {a, c, x}; hits at ranks 1 and 3 -> (1/1 + 2/3) / min(3, 10)
    assert m.average_precision(RANKED, QRELS) == pytest.approx((1 + 2 / 3) / 3)


def test_average_precision_grade2() -> None:
    # relevant {a, c, e, x}; hits at 1, 3, 5 -> (1 + 2/3 + 3/5) / 4
    assert m.average_precision(RANKED, QRELS, min_grade=2) == pytest.approx((1 + 2 / 3 + 3 / 5) / 4)


def test_average_precision_cut_and_denominator() -> None:
    # k=2: only rank 1 counts; trec_eval map_cut divides by all R=3 relevant -> 1/3
    assert m.average_precision(RANKED, QRELS, k=2) == pytest.approx(1 / 3)
    assert m.average_precision(["a", "c"], {"a": 4, "c": 4, "d": 4}, k=2) == pytest.approx(2 / 3)
    assert m.average_precision(["a", "c"], {"a": 4, "c": 4}, k=2) == pytest.approx(1.0)


def test_no_relevant_is_none_not_zero() -> None:
    assert m.average_precision(RANKED, {"a": 2}) is None
    assert m.reciprocal_rank(RANKED, {}) is None
    assert m.ndcg_at_k(RANKED, {"a": 1}) is None


def test_reciprocal_rank() -> None:
    assert m.reciprocal_rank(["b", "c", "a"], QRELS) == pytest.approx(0.5)
    assert m.reciprocal_rank(["b", "d"], QRELS) == 0.0
    # first relevant beyond k counts as a miss
    assert m.reciprocal_rank(["b", "d", "a"], QRELS, k=2) == 0.0


def test_ndcg() -> None:
    # grade>=3 gains: a=2 (Excellent), c=1, x=1 (Incomplete), b unjudged-relevant -> 0
    # DCG@3 = 2/1 + 0/log2(3) + 1/log2(4) = 2.5; IDCG@3 = 2/1 + 1/log2(3) + 1/log2(4)
    got = m.ndcg_at_k(["a", "b", "c"], {"a": 4, "b": 1, "c": 3, "x": 3}, k=3)
    assert got == pytest.approx(2.5 / (2.5 + 1 / math.log2(3)))
    assert got == pytest.approx(0.79849, abs=1e-5)
    assert m.ndcg_at_k(["a", "c", "x"], {"a": 4, "c": 3, "x": 3}, k=3) == pytest.approx(1.0)
    # grade>=2: gains a=3, b=0 (grade 1), c=2, e=1
    got2 = m.ndcg_at_k(["e", "a"], {"a": 4, "b": 1, "c": 3, "e": 2}, k=2, min_grade=2)
    assert got2 == pytest.approx((1 + 3 / math.log2(3)) / (3 + 2 / math.log2(3)))


def test_precision_at_k() -> None:
    # ranks beyond the list count as misses: 2 relevant of 5 slots
    assert m.precision_at_k(["a", "b", "c"], QRELS, 5) == pytest.approx(0.4)
    assert m.precision_at_k(RANKED, QRELS, 5, min_grade=2) == pytest.approx(0.6)
    with pytest.raises(ValueError):
        m.precision_at_k(RANKED, QRELS, 0)


def test_dedupe_keeps_first_rank() -> None:
    assert m.dedupe(["a", "b", "a", "c", "b"]) == ["a", "b", "c"]


def test_rouge_l_hand_values() -> None:
    # LCS "the cat on the mat" = 5 of 6 tokens each way -> F = 5/6
    assert m.rouge_l("The cat sat on the mat.", "the cat is on the mat") == pytest.approx(5 / 6)
    # LCS "a c" = 2; P = 2/4, R = 2/3, F = 2PR/(P+R) = 4/7
    assert m.rouge_l("a b c d", "a c e") == pytest.approx(4 / 7)
    assert m.rouge_l("", "anything") == 0.0
    assert m.rouge_l("x y", "a b") == 0.0
    assert m.rouge_l("Same words here", "same, WORDS here!") == pytest.approx(1.0)


def test_best_rouge_over_references() -> None:
    assert m.best_rouge_l("a b c d", ["x", "a c e", "a b c d"]) == pytest.approx(1.0)
    assert m.best_rouge_l("a b", []) is None


def test_lcs_symmetric() -> None:
    a, b = m.tokenize("a b c b d a b"), m.tokenize("b d c a b a")
    assert m.lcs_length(a, b) == m.lcs_length(b, a) == 4


def test_scoring_text_drops_citations_and_bullets() -> None:
    text = "Asthma narrows the airways [1].\nWhat the sources say:\n- Inhalers help [1, 2].\n* Avoid smoke [3]"
    assert m.scoring_text(text) == "Asthma narrows the airways. What the sources say: Inhalers help. Avoid smoke"


def test_first_words_and_count() -> None:
    text = " ".join(f"w{i}" for i in range(100))
    assert m.word_count(m.first_words(text)) == 80
    assert m.first_words("short  text") == "short text"


def test_citation_precision() -> None:
    # cited a (relevant), b (unjudged), a again (deduplicated) -> 1/2
    assert m.citation_precision(["a", "b", "a"], QRELS) == pytest.approx(0.5)
    assert m.citation_precision([], QRELS) is None


def test_percentile_and_mean() -> None:
    assert m.percentile([4, 1, 3, 2], 50) == pytest.approx(2.5)
    assert m.percentile([1, 2, 3, 4], 90) == pytest.approx(3.7)
    assert m.percentile([5], 95) == 5
    assert m.percentile([], 50) is None
    assert m.mean([1.0, None, 3.0]) == pytest.approx(2.0)
    assert m.mean([None]) is None


def test_bootstrap_is_deterministic_with_seed() -> None:
    a = [0.1, 0.5, 0.3, 0.9, 0.2, 0.4, 0.6]
    b = [0.2, 0.4, 0.5, 0.9, 0.3, 0.6, 0.6]
    r1 = paired_bootstrap("rouge", a, b, seed=7, resamples=500)
    r2 = paired_bootstrap("rouge", a, b, seed=7, resamples=500)
    r3 = paired_bootstrap("rouge", a, b, seed=8, resamples=500)
    assert r1 == r2
    assert r1 is not None and r3 is not None
    assert (r1.low, r1.high) != (r3.low, r3.high)
    assert r1.diff == pytest.approx(sum(b) / 7 - sum(a) / 7)
    assert r1.low <= r1.diff <= r1.high


def test_bootstrap_constant_shift_and_missing_pairs() -> None:
    a = [0.1, 0.2, None, 0.4]
    b = [1.1, 1.2, 5.0, 1.4]
    r = paired_bootstrap("x", a, b, resamples=200)
    assert r is not None
    assert r.n == 3  # the pair with a missing value is left out
    assert r.low == pytest.approx(1.0) and r.high == pytest.approx(1.0)
    assert r.verdict == "B higher" and r.p_not_better == 0.0
    same = paired_bootstrap("x", [0.3, 0.3], [0.3, 0.3], resamples=50)
    assert same is not None and same.verdict == "no clear difference"
    assert paired_bootstrap("x", [None], [1.0]) is None
    with pytest.raises(ValueError):
        paired_bootstrap("x", [1.0], [1.0, 2.0])
