"""The LiveQA medical suite: TREC LiveQA 2017 consumer questions with graded judged answers;
retrieval (MAP, MRR, nDCG, P@5 over the judged answers), answer quality against the reference
answers and the extractive baseline, grounding and latency."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from chatbot.evaluation import metrics as m
from chatbot.evaluation.batch import reply_record
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


class LiveQASuite(Suite):
    name = "liveqa"
    paired = (
        ("ap10", "AP@10"),
        ("rr10", "RR@10"),
        ("ndcg10", "nDCG@10"),
        ("p5", "P@5"),
        ("rouge_l", "ROUGE-L"),
        ("emb_sim", "embedding similarity"),
        ("grounded", "grounded fraction"),
        ("cit_prec", "citation precision"),
        ("words", "answer words"),
        ("total_s", "total latency (s)"),
    )
    plot_metrics = (
        ("ap10", "MAP@10"),
        ("rr10", "MRR@10"),
        ("ndcg10", "nDCG@10"),
        ("p5", "P@5"),
        ("rouge_l", "ROUGE-L"),
        ("baseline_rouge_l", "ROUGE-L baseline"),
        ("emb_sim", "emb. sim."),
        ("baseline_emb_sim", "emb. sim. baseline"),
        ("grounded", "grounded"),
        ("cit_prec", "citation prec."),
    )

    def __init__(
        self,
        questions: Path,
        qrels: Path | None = None,
        *,
        limit: int | None = None,
        field: str = "original",
    ) -> None:
        self.questions_path = questions
        self.qrels_path = qrels
        self.limit = limit
        self.field = field

    def load(self) -> list[EvalItem]:
        from chatbot.evaluation.liveqa import attach_qrels, read_qrels, read_questions

        qs = read_questions(self.questions_path)
        if self.qrels_path is not None:
            qs = attach_qrels(qs, read_qrels(self.qrels_path))
        if self.limit is not None:
            qs = qs[: self.limit]
        return [
            EvalItem(
                id=q.id,
                text=q.text("summary" if self.field == "summary" else "original"),
                references=q.references,
                qrels=q.qrels,
            )
            for q in qs
        ]

    def evaluate(self, pipeline: Pipeline, item: EvalItem) -> ItemResult:
        pipeline.forget()
        reply = pipeline.service.reply(item.text, session_id=f"eval-{pipeline.name}-{item.id}")
        rec = reply_record(reply)
        # Rank with the search the service really made, so retrieval numbers describe the bot.
        ranking, hits = pipeline.ranking(item.text, k=10)
        baseline = extractive_baseline(hits)
        met: dict[str, float | None] = {}
        q = item.qrels
        if q:
            met.update(
                ap10=m.average_precision(ranking, q, 10),
                rr10=m.reciprocal_rank(ranking, q, 10),
                ndcg10=m.ndcg_at_k(ranking, q, 10),
                p5=m.precision_at_k(ranking, q, 5) if any(g >= 3 for g in q.values()) else None,
                ap10_g2=m.average_precision(ranking, q, 10, min_grade=2),
                rr10_g2=m.reciprocal_rank(ranking, q, 10, min_grade=2),
                p5_g2=m.precision_at_k(ranking, q, 5, min_grade=2) if any(g >= 2 for g in q.values()) else None,
                cit_prec=m.citation_precision([c["doc_id"] for c in rec["citations"]], q),
            )
        met.update(answer_metrics(pipeline, rec["text"], baseline, item.references))
        met.update(reply_metrics(rec))
        info = {"ranking": ranking, "baseline": baseline, "reference": item.references[0] if item.references else ""}
        return ItemResult(item.id, pipeline.name, item.text, rec, met, info)

    def extra_tables(self, runs: dict[str, list[ItemResult]]) -> list[Table]:
        return baseline_tables(runs)

    def summary(self, results: Sequence[ItemResult]) -> list[Row]:
        judged = [r for r in results if r.metrics.get("ap10") is not None]
        n = "{:.0f}"
        return [
            Row("n", "questions", float(len(results)), n),
            Row("n_judged", "questions with a grade>=3 judged answer", float(len(judged)), n),
            Row("ap10", "MAP@10 (grade>=3)", mean_of(results, "ap10")),
            Row("rr10", "MRR@10 (grade>=3)", mean_of(results, "rr10")),
            Row("ndcg10", "nDCG@10 (grade>=3, graded gains)", mean_of(results, "ndcg10")),
            Row("p5", "P@5 (grade>=3)", mean_of(results, "p5")),
            Row("ap10_g2", "MAP@10 (grade>=2)", mean_of(results, "ap10_g2")),
            Row("rr10_g2", "MRR@10 (grade>=2)", mean_of(results, "rr10_g2")),
            Row("p5_g2", "P@5 (grade>=2)", mean_of(results, "p5_g2")),
            Row("rouge_l", "ROUGE-L vs reference (answer)", mean_of(results, "rouge_l")),
            Row("baseline_rouge_l", "ROUGE-L vs reference (extractive baseline)", mean_of(results, "baseline_rouge_l")),
            Row("emb_sim", "embedding similarity (answer)", mean_of(results, "emb_sim")),
            Row("baseline_emb_sim", "embedding similarity (extractive baseline)", mean_of(results, "baseline_emb_sim")),
            Row("grounded", "grounded fraction (mean)", mean_of(results, "grounded")),
            Row("cit_prec", "citation precision (grade>=3)", mean_of(results, "cit_prec")),
            Row("words", "answer length (words, mean)", mean_of(results, "words"), "{:.1f}"),
            Row("refused", "refused / triaged away", count_of(results, "refused"), n),
            Row("no_source", "answers flagged 'no relevant source'", count_of(results, "no_source"), n),
            *latency_rows(results),
        ]
