"""The MedQuAD suite: held-out questions of the fine-tuning split with their concise gold
answers; answer quality against the references and the extractive baseline, and the rank of
the reference's own source document."""

from __future__ import annotations

from collections.abc import Sequence

from chatbot.evaluation import metrics as m
from chatbot.evaluation.batch import reply_record
from chatbot.evaluation.errors import EvaluationError
from chatbot.evaluation.pipeline import Pipeline
from chatbot.evaluation.suites.base import (
    EvalItem,
    ItemResult,
    Row,
    Suite,
    Table,
    answer_metrics,
    baseline_tables,
    count_of,
    extractive_baseline,
    latency_rows,
    mean_of,
    reply_metrics,
)


class MedQuADSuite(Suite):
    name = "medquad"
    paired = (
        ("rouge_l", "ROUGE-L"),
        ("emb_sim", "embedding similarity"),
        ("source_rr10", "RR@10 of the source document"),
        ("grounded", "grounded fraction"),
        ("words", "answer words"),
        ("total_s", "total latency (s)"),
    )
    plot_metrics = (
        ("rouge_l", "ROUGE-L"),
        ("baseline_rouge_l", "ROUGE-L baseline"),
        ("emb_sim", "emb. sim."),
        ("baseline_emb_sim", "emb. sim. baseline"),
        ("source_rr10", "source RR@10"),
        ("grounded", "grounded"),
    )

    def __init__(self, items: list[EvalItem], *, limit: int | None = None) -> None:
        self.items = items[:limit] if limit is not None else items

    def load(self) -> list[EvalItem]:
        if not self.items:
            raise EvaluationError("the MedQuAD held-out split is empty")
        return self.items

    def evaluate(self, pipeline: Pipeline, item: EvalItem) -> ItemResult:
        pipeline.forget()
        reply = pipeline.service.reply(item.text, session_id=f"eval-{pipeline.name}-{item.id}")
        rec = reply_record(reply)
        ranking, hits = pipeline.ranking(item.text, k=10)
        baseline = extractive_baseline(hits)
        met = answer_metrics(pipeline, rec["text"], baseline, item.references)
        if item.source_doc:
            met["source_rr10"] = m.reciprocal_rank(ranking, {item.source_doc: 4}, 10)
        met.update(reply_metrics(rec))
        info = {"ranking": ranking, "baseline": baseline, "reference": item.references[0] if item.references else ""}
        return ItemResult(item.id, pipeline.name, item.text, rec, met, info)

    def extra_tables(self, runs: dict[str, list[ItemResult]]) -> list[Table]:
        return baseline_tables(runs)

    def summary(self, results: Sequence[ItemResult]) -> list[Row]:
        n = "{:.0f}"
        return [
            Row("n", "questions", float(len(results)), n),
            Row("rouge_l", "ROUGE-L vs reference (answer)", mean_of(results, "rouge_l")),
            Row("baseline_rouge_l", "ROUGE-L vs reference (extractive baseline)", mean_of(results, "baseline_rouge_l")),
            Row("emb_sim", "embedding similarity (answer)", mean_of(results, "emb_sim")),
            Row("baseline_emb_sim", "embedding similarity (extractive baseline)", mean_of(results, "baseline_emb_sim")),
            Row("source_rr10", "MRR@10 of the reference's own document", mean_of(results, "source_rr10")),
            Row("grounded", "grounded fraction (mean)", mean_of(results, "grounded")),
            Row("words", "answer length (words, mean)", mean_of(results, "words"), "{:.1f}"),
            Row("refused", "refused / triaged away", count_of(results, "refused"), n),
            *latency_rows(results),
        ]
