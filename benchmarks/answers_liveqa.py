"""Do answers earn their generation? Answer modes vs the extractive baseline on LiveQA-Med, one run.

    nice -n 10 .venv/bin/python -m benchmarks.answers_liveqa                 # all 51 dev questions
    .venv/bin/python -m benchmarks.answers_liveqa --limit 5 --modes hybrid   # quick look

Every question (subject + message, as the consumer sent it) is retrieved once; the same
passages then feed each answer mode of the full dialogue pipeline (triage, clarifying
question, grounding, profile-free) and the extractive baseline, the first 80 words of the top
retrieved passage. Each answer is scored against the expert reference answers: ROUGE-L F1 and
embedding cosine (the configured sentence-transformers model), best over references. Citation
markers are removed before scoring. The table also gives answer length, grounded fraction and
seconds per question, plus paired-bootstrap 95% intervals of each mode minus the baseline.

The index defaults to the one ``benchmarks/retrieval_liveqa.py`` builds (MedQuAD + judged
answers) and is built the same way when missing; ``--index`` points at any other.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

MODES = ("extractive", "hybrid", "generative")
BASELINE = "baseline"
_CITE = re.compile(r"\s*\[\d+(?:\s*[,;]\s*\d+)*\]")
_BULLET = re.compile(r"(?m)^\s*-\s+")


def scoring_text(answer: str) -> str:
    """The answer's words: citation markers and list bullets carry no content."""
    return " ".join(_BULLET.sub("", _CITE.sub("", answer)).split())


def _args(argv: list[str] | None) -> argparse.Namespace:
    from chatbot.settings import load_settings

    settings = load_settings()
    shared = settings.shared_data
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--config", help="YAML settings file (model, retrieval, dialogue options)")
    p.add_argument("--questions", type=Path, default=shared / "liveqa_med_dev" / "questions.xml")
    p.add_argument("--judged", type=Path, default=shared / "liveqa_med_dev" / "judged_answers.csv")
    p.add_argument("--qrels", type=Path, default=shared / "liveqa_med_dev" / "qrels.txt")
    p.add_argument("--medquad", type=Path, default=shared / "MedQuAD")
    p.add_argument("--index", type=Path, default=settings.data_dir / "bench" / "liveqa-index")
    p.add_argument("--limit", type=int, help="only the first N questions")
    p.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    p.add_argument("--output", type=Path, help="write every answer and its scores as JSONL")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    p.add_argument(
        "--summarize",
        nargs="+",
        type=Path,
        metavar="JSONL",
        help="only print the table from --output files of earlier runs (modes split over several runs are "
        "joined by question; only questions every file answered are counted)",
    )
    return p.parse_args(argv)


def _ensure_index(args: argparse.Namespace) -> None:
    if (args.index / "manifest.json").is_file():
        return
    from benchmarks.retrieval_liveqa import _build_if_needed

    build_args = argparse.Namespace(
        index=args.index,
        rebuild=False,
        medquad=args.medquad,
        judged=args.judged,
        chunk_tokens=128,
        chunk_overlap=16,
        dense_scope="lead",
    )
    _build_if_needed(build_args)


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    if args.summarize:
        return summarize(args.summarize, args.seed)
    from chatbot.dialogue import DialogueService
    from chatbot.evaluation.liveqa import read_questions
    from chatbot.evaluation.metrics import best_rouge_l, first_words
    from chatbot.services import build_generator
    from chatbot.settings import load_settings
    from knowledge.index import open_embedder, open_retriever

    for path in (args.questions,):
        if not path.exists():
            print(f"error: {path} not found (see --help)", file=sys.stderr)
            return 2
    settings = load_settings(args.config, knowledge={"index_dir": str(args.index)})
    _ensure_index(args)
    embedder = open_embedder(settings)
    retriever = open_retriever(args.index, embedder, settings.knowledge)
    generator = build_generator(settings)
    questions = read_questions(args.questions)[: args.limit]
    questions = [q for q in questions if q.references]

    # Retrieval ignores the relevance threshold here so the baseline always has a passage;
    # each mode then applies the threshold itself, as in production.
    open_settings = settings.model_copy(update={"knowledge": settings.knowledge.model_copy(update={"min_score": -1.0})})
    finder = DialogueService(open_settings, generator=generator, retriever=retriever, embedder=embedder)
    services = {
        mode: DialogueService(
            settings.model_copy(update={"dialogue": settings.dialogue.model_copy(update={"answer_mode": mode})}),
            generator=generator,
            retriever=retriever,
            embedder=embedder,
        )
        for mode in args.modes
    }
    names = [BASELINE, *args.modes]
    rows: dict[str, dict[str, list[Any]]] = {
        n: {"rouge": [], "emb": [], "words": [], "grounded": [], "seconds": [], "label": []} for n in names
    }
    out = args.output.open("w", encoding="utf-8") if args.output else None
    started = time.perf_counter()
    for i, q in enumerate(questions, 1):
        text = q.original
        t0 = time.perf_counter()
        _query, hits = finder.retrieve(text)
        retrieval_s = time.perf_counter() - t0
        answers: dict[str, tuple[str, float | None, float, str]] = {
            BASELINE: (first_words(hits[0].chunk.text) if hits else "", None, retrieval_s, "baseline")
        }
        for mode, svc in services.items():
            t0 = time.perf_counter()
            reply = svc.reply(text, hits=hits)
            answers[mode] = (
                reply.text,
                reply.grounded_fraction,
                retrieval_s + time.perf_counter() - t0,
                reply.triage.label,
            )
            if "no_relevant_source" in reply.flags:
                answers[mode] = (reply.text, None, answers[mode][2], "no_source")
        ref_vecs = embedder.encode(list(q.references))
        ans_texts = [scoring_text(answers[n][0]) for n in names]
        ans_vecs = embedder.encode([t or "-" for t in ans_texts])
        record: dict[str, Any] = {"id": q.id, "question": text, "answers": {}}
        for n, t, vec in zip(names, ans_texts, ans_vecs, strict=True):
            rouge = best_rouge_l(t, q.references) or 0.0
            emb = float((ref_vecs @ vec).max()) if t else 0.0
            answer, grounded, seconds, label = answers[n]
            r = rows[n]
            r["rouge"].append(rouge)
            r["emb"].append(emb)
            r["words"].append(len(t.split()))
            r["grounded"].append(grounded)
            r["seconds"].append(seconds)
            r["label"].append(label)
            record["answers"][n] = {
                "text": answer, "rouge_l": round(rouge, 4), "embedding_sim": round(emb, 4),
                "grounded_fraction": grounded, "seconds": round(seconds, 2), "label": label,
            }  # fmt: skip
        if out:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            out.flush()
        line = "  ".join(f"{n} {rows[n]['rouge'][-1]:.3f}/{rows[n]['emb'][-1]:.3f}" for n in names)
        print(f"[{i}/{len(questions)}] {q.id}: {line}", file=sys.stderr, flush=True)
    if out:
        out.close()

    print_tables(
        rows,
        names,
        default=settings.dialogue.answer_mode,
        header=f"{len(questions)} questions ({args.questions.name}), index {args.index.name}, model {generator.name}, "
        f"{time.perf_counter() - started:.0f} s total",
        seed=args.seed,
    )
    return 0


def summarize(paths: list[Path], seed: int) -> int:
    """The tables of earlier runs' JSONL files, one table per file (each mode is paired with the
    baseline of its own run), over the questions every file answered."""
    from chatbot.settings import load_settings

    runs: list[dict[str, dict[str, Any]]] = []
    order: list[str] = []
    for path in paths:
        recs: dict[str, dict[str, Any]] = {}
        for line in path.read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            recs[rec["id"]] = rec["answers"]
            if rec["id"] not in order:
                order.append(rec["id"])
        runs.append(recs)
    common = [q for q in order if all(q in r for r in runs)]
    default = load_settings().dialogue.answer_mode
    for path, recs in zip(paths, runs, strict=True):
        names = [BASELINE, *[m for m in MODES if common and m in recs[common[0]]]]
        rows: dict[str, dict[str, list[Any]]] = {
            n: {"rouge": [], "emb": [], "words": [], "grounded": [], "seconds": [], "label": []} for n in names
        }
        for q in common:
            for n in names:
                a = recs[q][n]
                r = rows[n]
                r["rouge"].append(a["rouge_l"])
                r["emb"].append(a["embedding_sim"])
                r["words"].append(len(scoring_text(a["text"]).split()))
                r["grounded"].append(a["grounded_fraction"])
                r["seconds"].append(a["seconds"])
                r["label"].append(a["label"])
        print_tables(rows, names, default=default, header=f"{len(common)} questions, run {path.name}", seed=seed)
    return 0


def print_tables(
    rows: dict[str, dict[str, list[Any]]], names: list[str], *, default: str, header: str, seed: int
) -> None:
    from chatbot.evaluation.bootstrap import paired_bootstrap

    def mean(xs: list[Any]) -> str:
        vals = [x for x in xs if x is not None]
        return f"{statistics.fmean(vals):.3f}" if vals else "-"

    print(f"\nLiveQA-Med answers vs expert references: {header}\n")
    print(
        "| answer | ROUGE-L F1 (best ref) | embedding cosine (best ref) | words | grounded fraction | s / question | replies |"
    )
    print("|---|---|---|---|---|---|---|")
    for n in names:
        r = rows[n]
        label = "extractive baseline: first 80 words of top passage" if n == BASELINE else n
        if n == default:
            label += " (default)"
        counts: dict[str, int] = {}
        for lab in r["label"]:
            counts[lab] = counts.get(lab, 0) + 1
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        print(f"| {label} | {mean(r['rouge'])} | {mean(r['emb'])} | {mean(r['words'])} | {mean(r['grounded'])} | "
              f"{mean(r['seconds'])} | {kinds} |")  # fmt: skip
    print("\nPaired bootstrap (2000 resamples, 95%): mode minus baseline")
    print("| mode | metric | difference | interval | verdict |")
    print("|---|---|---|---|---|")
    for mode in names[1:]:
        for metric, key in (("ROUGE-L", "rouge"), ("embedding", "emb")):
            d = paired_bootstrap(metric, rows[BASELINE][key], rows[mode][key], seed=seed)
            if d is None:
                continue
            verdict = {"B higher": "beats baseline", "A higher": "worse than baseline"}.get(d.verdict, d.verdict)
            print(f"| {mode} | {metric} | {d.diff:+.3f} | [{d.low:+.3f}, {d.high:+.3f}] | {verdict} |")


if __name__ == "__main__":
    sys.exit(main())
