"""The shapes every evaluation suite shares and the metrics more than one of them uses.

A suite turns its inputs into :class:`EvalItem` s, runs each through a :class:`Pipeline`
(one configuration) into an :class:`ItemResult` with per-item metrics, and summarises a
configuration's results into :class:`Row` s. The report writer and the paired comparison
only see those shapes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from chatbot.evaluation import metrics as m
from chatbot.evaluation.errors import EvaluationError
from chatbot.evaluation.pipeline import Pipeline

if TYPE_CHECKING:
    from knowledge.documents import Hit


@dataclass(frozen=True)
class EvalItem:
    id: str
    text: str
    references: tuple[str, ...] = ()
    qrels: dict[str, int] = field(default_factory=dict)
    label: str = ""  # safety: expected label
    category: str = ""
    lang: str = ""
    source_doc: str = ""  # medquad: document the reference answer comes from


@dataclass
class ItemResult:
    id: str
    config: str
    question: str
    reply: dict[str, Any]
    metrics: dict[str, float | None]
    info: dict[str, Any] = field(default_factory=dict)

    def to_json(self, suite: str) -> dict[str, Any]:
        return {
            "suite": suite,
            "config": self.config,
            "id": self.id,
            "question": self.question,
            **self.info,
            **self.reply,
            "metrics": self.metrics,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ItemResult:
        """Inverse of :meth:`to_json` (reply fields are the keys of ``reply_record``)."""
        from chatbot.evaluation.batch import REPLY_KEYS

        fixed = ("suite", "config", "id", "question", "metrics")
        try:
            return cls(
                id=str(d["id"]),
                config=str(d["config"]),
                question=str(d["question"]),
                reply={k: d[k] for k in REPLY_KEYS if k in d},
                metrics=dict(d["metrics"]),
                info={k: v for k, v in d.items() if k not in fixed and k not in REPLY_KEYS},
            )
        except (KeyError, TypeError, ValueError) as err:
            raise EvaluationError(f"not a results.jsonl line ({err})") from None


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    value: float | None
    fmt: str = "{:.3f}"  # how the value is shown

    def show(self) -> str:
        return "n/a" if self.value is None else self.fmt.format(self.value)


@dataclass(frozen=True)
class Table:
    title: str
    headers: list[str]
    rows: list[list[str]]
    note: str = ""


# ---------------------------------------------------------------------------------------------
# shared answer metrics
# ---------------------------------------------------------------------------------------------


def similarity_to_references(embedder: Any, texts: Sequence[str], references: Sequence[str]) -> list[float | None]:
    """Best cosine similarity of each text to any reference (embeddings are L2-normalised)."""
    if not references:
        return [None] * len(texts)
    present = [i for i, t in enumerate(texts) if t.strip()]
    out: list[float | None] = [None] * len(texts)
    if not present:
        return out
    vecs = embedder.encode([texts[i] for i in present] + list(references))
    cand, refs = vecs[: len(present)], vecs[len(present) :]
    sims = cand @ refs.T
    for row, i in enumerate(present):
        out[i] = float(sims[row].max())
    return out


def answer_metrics(
    pipeline: Pipeline, answer: str, baseline: str, references: Sequence[str]
) -> dict[str, float | None]:
    """Answer and extractive baseline against the references: ROUGE-L and embedding cosine,
    each the best over references; citation markers are stripped from the answer first."""
    answer = m.scoring_text(answer)
    sim_answer, sim_base = similarity_to_references(pipeline.embedder, [answer, baseline], references)
    return {
        "rouge_l": m.best_rouge_l(answer, references),
        "emb_sim": sim_answer,
        "baseline_rouge_l": m.best_rouge_l(baseline, references) if baseline else None,
        "baseline_emb_sim": sim_base,
        "words": float(m.word_count(answer)),
    }


def reply_metrics(rec: dict[str, Any]) -> dict[str, float | None]:
    t = rec["timings"]
    return {
        "grounded": rec["grounded_fraction"],
        "total_s": t["total_s"],
        "first_token_s": t["first_token_s"],
        "retrieval_s": t["retrieval_s"],
        "tokens": float(t["tokens_generated"]),
        "refused": 1.0 if rec["refused"] else 0.0,
        "no_source": 1.0 if any(f.startswith("no_relevant_source") for f in rec["flags"]) else 0.0,
    }


def values(results: Sequence[ItemResult], key: str) -> list[float]:
    """The item values of one metric, leaving out items where it does not apply."""
    out = []
    for r in results:
        v = r.metrics.get(key)
        if v is not None:
            out.append(v)
    return out


def latency_rows(results: Sequence[ItemResult]) -> list[Row]:
    total, ttft, retr = values(results, "total_s"), values(results, "first_token_s"), values(results, "retrieval_s")
    s = "{:.2f} s"
    return [
        Row("latency_p50", "total latency p50", m.percentile(total, 50), s),
        Row("latency_p90", "total latency p90", m.percentile(total, 90), s),
        Row("latency_p95", "total latency p95", m.percentile(total, 95), s),
        Row("latency_max", "total latency max", max(total) if total else None, s),
        Row("ttft_p50", "time to first token p50", m.percentile(ttft, 50), s),
        Row("ttft_p90", "time to first token p90", m.percentile(ttft, 90), s),
        Row("retrieval_p50", "retrieval p50", m.percentile(retr, 50), "{:.3f} s"),
        Row("tokens", "tokens generated (mean)", mean_of(results, "tokens"), "{:.1f}"),
    ]


def mean_of(results: Sequence[ItemResult], key: str) -> float | None:
    return m.mean(r.metrics.get(key) for r in results)


def count_of(results: Sequence[ItemResult], key: str) -> float:
    return float(sum(1 for r in results if r.metrics.get(key)))


def extractive_baseline(hits: Sequence[Hit]) -> str:
    return m.first_words(hits[0].chunk.text, 80) if hits else ""


Progress = Callable[[str], None]


class Suite:
    """Base: subclasses set ``name``, ``paired`` (metrics compared with the bootstrap) and
    implement :meth:`load`, :meth:`evaluate` and :meth:`summary`."""

    name = ""
    paired: tuple[tuple[str, str], ...] = ()  # (metric key, label)
    plot_metrics: tuple[tuple[str, str], ...] = ()  # 0..1 metrics drawn as bars per configuration

    def load(self) -> list[EvalItem]:
        raise NotImplementedError

    def evaluate(self, pipeline: Pipeline, item: EvalItem) -> ItemResult:
        raise NotImplementedError

    def summary(self, results: Sequence[ItemResult]) -> list[Row]:
        raise NotImplementedError

    def extra_tables(self, runs: dict[str, list[ItemResult]]) -> list[Table]:
        return []

    def run(
        self,
        pipeline: Pipeline,
        items: Sequence[EvalItem],
        progress: Progress | None = None,
        sink: Callable[[ItemResult], None] | None = None,
    ) -> list[ItemResult]:
        out = []
        for i, item in enumerate(items, start=1):
            t0 = time.perf_counter()
            res = self.evaluate(pipeline, item)
            out.append(res)
            if sink is not None:
                sink(res)
            if progress:
                progress(f"[{pipeline.name} {i}/{len(items)}] {item.id} {time.perf_counter() - t0:.1f}s")
        return out


def baseline_tables(runs: dict[str, list[ItemResult]]) -> list[Table]:
    """Each configuration's answers minus the extractive baseline (first 80 words of the top
    passage) on the same items, with paired bootstrap intervals: does generation earn its cost?"""
    from chatbot.evaluation.bootstrap import paired_bootstrap

    rows = []
    for config, results in runs.items():
        for key, label in (("rouge_l", "ROUGE-L"), ("emb_sim", "embedding similarity")):
            d = paired_bootstrap(
                label,
                [r.metrics.get(f"baseline_{key}") for r in results],
                [r.metrics.get(key) for r in results],
            )
            if d is None:
                continue
            verdict = {"B higher": "beats the baseline", "A higher": "worse than the baseline"}.get(
                d.verdict, d.verdict
            )
            rows.append(
                [config, label, str(d.n), f"{d.mean_a:.3f}", f"{d.mean_b:.3f}", f"{d.diff:+.3f}",
                 f"[{d.low:+.3f}, {d.high:+.3f}]", verdict]
            )  # fmt: skip
    if not rows:
        return []
    return [
        Table(
            "Answers vs the extractive baseline",
            ["config", "metric", "n", "baseline", "answer", "answer - baseline", "95% CI", "verdict"],
            rows,
            "Paired bootstrap over questions (2000 resamples, seed 0). Every reply counts, including "
            "emergency, clarifying and 'sources do not cover this' replies, which the baseline never gives.",
        )
    ]
