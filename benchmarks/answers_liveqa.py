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

The faithfulness checker's columns come from each reply's ``checks`` and flags: sentences shown
(checked sentences that appear in the reply), the share of shown sentences it does not judge
supported (0 when ``dialogue.unsupported_sentences`` is ``drop``, the default), sentences dropped
per answer ("dropped:N"), and for hybrid answers whether the opening sentence is the model's
checked lead, a source sentence that replaced it ("lead_from_source") or neither.

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
    from chatbot.evaluation.liveqa import read_questions
    from chatbot.services import build_generator
    from chatbot.settings import load_settings
    from knowledge.index import open_embedder, open_retriever

    if not args.questions.exists():
        print(f"error: {args.questions} not found (see --help)", file=sys.stderr)
        return 2
    settings = load_settings(args.config, knowledge={"index_dir": str(args.index)})
    _ensure_index(args)
    embedder = open_embedder(settings)
    retriever = open_retriever(args.index, embedder, settings.knowledge)
    generator = build_generator(settings)
    questions = [q for q in read_questions(args.questions)[: args.limit] if q.references]
    finder, services = _services(settings, args.modes, generator, retriever, embedder)
    names = [BASELINE, *args.modes]
    rows = _empty_rows(names)
    out = args.output.open("w", encoding="utf-8") if args.output else None
    started = time.perf_counter()
    for i, q in enumerate(questions, 1):
        answers = _answer(q.original, finder, services)
        record: dict[str, Any] = {
            "id": q.id,
            "question": q.original,
            "answers": _scored(answers, q.references, embedder),
        }
        for n in names:
            _add(rows[n], record["answers"][n])
        if out:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            out.flush()
        a = record["answers"]
        line = "  ".join(f"{n} {a[n]['rouge_l']:.3f}/{a[n]['embedding_sim']:.3f}" for n in names)
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


def _services(
    settings: Any, modes: list[str], generator: Any, retriever: Any, embedder: Any
) -> tuple[Any, dict[str, Any]]:
    """The service that retrieves for every mode, and one dialogue service per answer mode."""
    from chatbot.dialogue import DialogueService

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
        for mode in modes
    }
    return finder, services


def _answer(text: str, finder: Any, services: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The baseline's and every mode's answer to one question, over the same passages."""
    from chatbot.evaluation.metrics import first_words

    t0 = time.perf_counter()
    _query, hits = finder.retrieve(text)
    retrieval_s = time.perf_counter() - t0
    answers: dict[str, dict[str, Any]] = {
        BASELINE: {
            "text": first_words(hits[0].chunk.text) if hits else "",
            "grounded_fraction": None,
            "seconds": retrieval_s,
            "label": "baseline",
        }
    }
    for mode, svc in services.items():
        t0 = time.perf_counter()
        reply = svc.reply(text, hits=hits)
        no_source = "no_relevant_source" in reply.flags
        generated = reply.timings.generation_s > 0 or any(f.startswith("lead_") for f in reply.flags)
        answers[mode] = {
            "text": reply.text,
            "grounded_fraction": None if no_source else reply.grounded_fraction,
            "seconds": retrieval_s + time.perf_counter() - t0,
            "label": "no_source" if no_source else reply.triage.label,
            **check_stats(reply.text, reply.checks, reply.flags, lead=mode == "hybrid" and generated),
            "flags": list(reply.flags),
            "checks": reply.checks,
        }
    return answers


def check_stats(text: str, checks: list[dict[str, Any]], flags: list[str], *, lead: bool) -> dict[str, Any]:
    """What the faithfulness checker did to one answer. ``shown``: checked sentences that appear
    in the reply; ``flagged``: shown ones not judged supported (0 when unsupported sentences are
    dropped); ``dropped``: the reply's "dropped:N". ``lead`` (a hybrid answer the model wrote a
    lead for): "model" when the model's checked lead opens the reply, "source" when a passage
    sentence replaced it, "none" when neither did; None otherwise."""
    if not checks:
        return {"shown": None, "flagged": None, "dropped": None, "lead": None}
    shown = [c for c in checks if c["text"] and c["text"] in text]
    dropped = sum(int(f.split(":", 1)[1]) for f in flags if f.startswith("dropped:"))
    where = None
    if lead:
        if "lead_from_source" in flags:
            where = "source"
        elif "lead_dropped" not in flags and checks[0] in shown:
            where = "model"
        else:
            where = "none"
    flagged = sum(1 for c in shown if c["verdict"] != "supported")
    return {"shown": len(shown), "flagged": flagged, "dropped": dropped, "lead": where}


def _scored(answers: dict[str, dict[str, Any]], references: Any, embedder: Any) -> dict[str, dict[str, Any]]:
    """Each answer with its ROUGE-L F1 and embedding cosine, best over the references."""
    from chatbot.evaluation.metrics import best_rouge_l

    ref_vecs = embedder.encode(list(references))
    texts = [scoring_text(a["text"]) for a in answers.values()]
    vecs = embedder.encode([t or "-" for t in texts])
    out: dict[str, dict[str, Any]] = {}
    for (name, a), t, vec in zip(answers.items(), texts, vecs, strict=True):
        rouge = best_rouge_l(t, list(references)) or 0.0
        emb = float((ref_vecs @ vec).max()) if t else 0.0
        out[name] = {"rouge_l": round(rouge, 4), "embedding_sim": round(emb, 4), **a, "seconds": round(a["seconds"], 2)}
    return out


ROW_KEYS = ("rouge", "emb", "words", "grounded", "seconds", "label", "shown", "flagged", "dropped", "lead")


def _empty_rows(names: list[str]) -> dict[str, dict[str, list[Any]]]:
    return {n: {k: [] for k in ROW_KEYS} for n in names}


def _add(row: dict[str, list[Any]], a: dict[str, Any]) -> None:
    """One scored answer (a JSONL record's entry) into its mode's columns."""
    row["rouge"].append(a["rouge_l"])
    row["emb"].append(a["embedding_sim"])
    row["words"].append(len(scoring_text(a["text"]).split()))
    row["grounded"].append(a["grounded_fraction"])
    row["seconds"].append(a["seconds"])
    row["label"].append(a["label"])
    for key in ("shown", "flagged", "dropped", "lead"):  # absent from runs before the checker columns
        row[key].append(a.get(key))


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
        rows = _empty_rows(names)
        for q in common:
            for n in names:
                _add(rows[n], recs[q][n])
        print_tables(rows, names, default=default, header=f"{len(common)} questions, run {path.name}", seed=seed)
    return 0


def _mean(xs: list[Any]) -> str:
    vals = [x for x in xs if x is not None]
    return f"{statistics.fmean(vals):.3f}" if vals else "-"


def print_tables(
    rows: dict[str, dict[str, list[Any]]], names: list[str], *, default: str, header: str, seed: int
) -> None:
    print(f"\nLiveQA-Med answers vs expert references: {header}\n")
    print(
        "| answer | ROUGE-L F1 (best ref) | embedding cosine (best ref) | words | grounded fraction | s / question "
        "| shown sentences / answer | share of shown sentences the checker flags | dropped sentences / answer "
        "| replies |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for n in names:
        r = rows[n]
        label = "extractive baseline: first 80 words of top passage" if n == BASELINE else n
        if n == default:
            label += " (default)"
        shown = sum(x for x in r["shown"] if x is not None)
        flagged = sum(x for x in r["flagged"] if x is not None)
        share = f"{flagged / shown:.1%} ({flagged}/{shown})" if shown else "-"
        print(f"| {label} | {_mean(r['rouge'])} | {_mean(r['emb'])} | {_mean(r['words'])} | {_mean(r['grounded'])} | "
              f"{_mean(r['seconds'])} | {_mean(r['shown'])} | {share} | {_mean(r['dropped'])} | "
              f"{_counts(r['label'])} |")  # fmt: skip
    _print_leads(rows, names)
    _print_bootstrap(rows, names, seed)


def _counts(values: list[Any]) -> str:
    counts: dict[str, int] = {}
    for v in values:
        counts[str(v)] = counts.get(str(v), 0) + 1
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))


def _print_leads(rows: dict[str, dict[str, list[Any]]], names: list[str]) -> None:
    """Where each hybrid answer's opening sentence came from, over the answers the model led."""
    led = {n: [x for x in rows[n]["lead"] if x is not None] for n in names}
    led = {n: xs for n, xs in led.items() if xs}
    if not led:
        return
    print("\nShare of answers whose lead came from the model vs from the source (answers the model wrote a lead for)")
    print("| mode | answers the model wrote a lead for | lead from the model (passed the checker) | lead from a source sentence "
          "| no lead |")  # fmt: skip
    print("|---|---|---|---|---|")
    for n, xs in led.items():
        share = {k: f"{xs.count(k)} ({xs.count(k) / len(xs):.0%})" for k in ("model", "source", "none")}
        print(f"| {n} | {len(xs)} | {share['model']} | {share['source']} | {share['none']} |")


def _print_bootstrap(rows: dict[str, dict[str, list[Any]]], names: list[str], seed: int) -> None:
    from chatbot.evaluation.bootstrap import paired_bootstrap

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
