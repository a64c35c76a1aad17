"""``python -m chatbot evaluate``: build the suite, run each configuration, write the report."""

from __future__ import annotations

import argparse
import gc
import json
import shlex
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chatbot.evaluation.bootstrap import PairedDiff, paired_bootstrap
from chatbot.evaluation.errors import EvaluationError
from chatbot.evaluation.suites import (
    EvalItem,
    ItemResult,
    LiveQASuite,
    MedQuADSuite,
    Row,
    SafetySuite,
    Suite,
    canary,
)

if TYPE_CHECKING:
    from chatbot.evaluation.pipeline import Pipeline
    from chatbot.settings import Settings

REPO = Path(__file__).resolve().parent.parent.parent
DEFAULT_SAFETY_SET = REPO / "tests" / "data" / "triage_tuned.jsonl"


@dataclass
class Config:
    name: str
    settings: Settings
    source: str  # the YAML file, or "defaults"


@dataclass
class Outcome:
    suite: Suite
    items: list[EvalItem]
    runs: dict[str, list[ItemResult]]
    summaries: dict[str, list[Row]]
    diffs: list[PairedDiff]
    written: list[Path]


def load_configs(config: str | None, compare: list[str] | None, overrides: dict[str, Any]) -> list[Config]:
    from chatbot.settings import load_settings

    if not compare:
        return [
            Config(Path(config).stem if config else "default", load_settings(config, **overrides), config or "defaults")
        ]
    a, b = compare
    na, nb = Path(a).stem, Path(b).stem
    if na == nb:
        na, nb = f"A-{na}", f"B-{nb}"
    return [Config(na, load_settings(a, **overrides), a), Config(nb, load_settings(b, **overrides), b)]


def medquad_items(settings: Settings, limit: int | None) -> list[EvalItem]:
    """Questions of the fine-tuning module's held-out test split (split by topic, deterministic),
    spread over topics by a stable hash order; references are the concise gold answers the
    fine-tuning targets use."""
    import hashlib

    try:
        from finetune.config import DataConfig
        from finetune.data import concise_answer, load_documents, split_of, topic_key
    except ImportError as err:
        raise EvaluationError(f"the medquad suite needs the fine-tuning module's data split ({err})") from None
    cfg = DataConfig()
    source = Path(cfg.source) if cfg.source else settings.shared_data / "MedQuAD"
    docs = [d for d in load_documents(source) if split_of(topic_key(d), cfg.validation_share, cfg.test_share) == "test"]
    docs.sort(key=lambda d: hashlib.sha256(d.id.encode()).hexdigest())
    items = []
    for d in docs:
        ref = " ".join(concise_answer(d.text, cfg.max_target_sentences, cfg.max_target_words))
        if not ref or not d.question:
            continue
        items.append(EvalItem(id=d.id, text=d.question, references=(ref,), source_doc=d.id))
        if limit is not None and len(items) >= limit:
            break
    return items


def make_suite(args: argparse.Namespace, settings: Settings) -> Suite:
    limit = args.limit
    if limit is not None and limit < 1:
        raise EvaluationError("--limit must be at least 1")
    if args.suite == "liveqa":
        base = settings.shared_data / "liveqa_med_dev"
        questions = Path(args.questions) if args.questions else base / "questions.xml"
        qrels = Path(args.qrels) if args.qrels else (base / "qrels.txt" if not args.questions else None)
        if qrels is not None and not qrels.is_file():
            raise EvaluationError(f"qrels file not found: {qrels}")
        return LiveQASuite(questions, qrels, limit=limit, field=getattr(args, "question_field", "original"))
    if args.suite == "safety":
        return SafetySuite(Path(args.input) if args.input else DEFAULT_SAFETY_SET, limit=limit)
    if args.suite == "medquad":
        return MedQuADSuite(medquad_items(settings, limit if limit is not None else 50))
    raise EvaluationError(f"unknown suite {args.suite!r}; use liveqa, safety or medquad")


def _short(path: Path | str) -> str:
    """A path relative to the working directory when inside it (reports get committed)."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def describe(cfg: Config) -> str:
    s = cfg.settings
    llm = s.llm
    model = llm.model + (f" ({llm.gguf_file})" if llm.gguf_file else "")
    parts = [
        f"llm {llm.mode}:{model}",
        f"adapter {llm.adapter or 'none'}",
        f"quantization {llm.quantization}",
        f"max_new_tokens {llm.max_new_tokens}",
        f"answer_mode {s.dialogue.answer_mode}",
        f"index {_short(s.index_dir)}",
        f"embedder {s.embedding.mode}:{s.embedding.model}",
        f"top_k {s.knowledge.top_k}",
    ]
    return f"config **{cfg.name}** ({_short(cfg.source) if cfg.source != 'defaults' else cfg.source}): " + ", ".join(
        parts
    )


def coverage_note(suite: Suite, items: list[EvalItem], pipeline: Pipeline, judged: Path | None) -> str | None:
    """How many judged relevant answers the index (and the judged CSV) hold: retrieval numbers
    mean little if the relevant answers were never indexed."""
    if suite.name != "liveqa":
        return None
    relevant = {d for it in items for d, g in it.qrels.items() if g >= 3}
    if not relevant:
        return None
    inner = getattr(pipeline.retriever, "inner", None)
    docs = getattr(inner, "docs", None)
    parts = [f"{len(relevant)} judged answers with grade>=3 for these questions"]
    if isinstance(docs, list):
        ids = {d.get("id") for d in docs if isinstance(d, dict)}
        parts.append(f"{len(relevant & ids)} of them in the index ({len(ids)} documents)")
    if judged is not None:
        from chatbot.evaluation.liveqa import read_judged_texts

        texts = read_judged_texts(judged)
        parts.append(f"{len(relevant & set(texts))} in {judged.name}")
    return "; ".join(parts)


def compare_runs(suite: Suite, runs: dict[str, list[ItemResult]], *, resamples: int, seed: int) -> list[PairedDiff]:
    a, b = list(runs.values())
    b_by = {r.id: r for r in b}
    pairs = [(r, b_by[r.id]) for r in a if r.id in b_by]
    out = []
    for key, label in suite.paired:
        d = paired_bootstrap(
            label,
            [x.metrics.get(key) for x, _ in pairs],
            [y.metrics.get(key) for _, y in pairs],
            resamples=resamples,
            seed=seed,
        )
        if d is not None:
            out.append(d)
    return out


def evaluate(
    suite: Suite,
    configs: list[Config],
    output: Path,
    *,
    build: Any = None,
    judged: Path | None = None,
    ratings_path: Path | None = None,
    resamples: int = 2000,
    seed: int = 0,
    command: str = "",
    progress: Any = None,
    offset: int = 0,
    merge: list[Path] | None = None,
) -> Outcome:
    """Run ``suite`` for each configuration and write the report into ``output``.

    ``build(settings, name, system_canary)`` makes a :class:`Pipeline` (tests pass fakes).
    ``offset`` skips the first items (shards of a long run); ``merge`` builds the report from
    earlier ``results.jsonl`` files instead of running anything. While running, each finished
    item is appended to ``results.partial.jsonl`` so an interrupted run keeps its answers.
    """
    from chatbot.evaluation.report import read_ratings, write_report

    if build is None:
        build = _build_pipeline
    ratings = read_ratings(ratings_path) if ratings_path is not None else None
    started = time.perf_counter()
    if merge:
        items: list[EvalItem] = []
        runs = _merged_runs(suite, merge)
        notes = ["results merged from " + ", ".join(p.name for p in merge)]
    else:
        items = _items_after(suite, offset)
        runs, notes = _run_configs(suite, configs, items, output, build=build, judged=judged, progress=progress)
    summaries = {name: suite.summary(rs) for name, rs in runs.items()}
    diffs = compare_runs(suite, runs, resamples=resamples, seed=seed) if len(runs) == 2 else []
    context = _report_context(suite, configs, runs, notes, merged=bool(merge), started=started, command=command)
    written = write_report(
        output,
        suite=suite,
        runs=runs,
        summaries=summaries,
        context=context,
        diffs=diffs,
        compare=(configs[0].name, configs[1].name) if len(configs) == 2 else None,
        resamples=resamples,
        seed=seed,
        ratings=ratings,
    )
    if not merge:
        (output / "results.partial.jsonl").unlink(missing_ok=True)  # results.jsonl now holds it all
    return Outcome(suite, items, runs, summaries, diffs, written)


def _build_pipeline(settings: Settings, name: str, system_canary: str | None) -> Pipeline:
    from chatbot.evaluation.pipeline import build_pipeline

    return build_pipeline(settings, name=name, system_canary=system_canary)


def _merged_runs(suite: Suite, merge: list[Path]) -> dict[str, list[ItemResult]]:
    """Earlier results of ``suite``, grouped by configuration in the order they were read."""
    runs: dict[str, list[ItemResult]] = {}
    for path in merge:
        for res in read_results(path, suite.name):
            runs.setdefault(res.config, []).append(res)
    return runs


def _items_after(suite: Suite, offset: int) -> list[EvalItem]:
    if offset < 0:
        raise EvaluationError("--offset must not be negative")
    items = suite.load()[offset:]
    if not items:
        raise EvaluationError(f"no items left after skipping the first {offset}")
    return items


def _run_configs(
    suite: Suite,
    configs: list[Config],
    items: list[EvalItem],
    output: Path,
    *,
    build: Any,
    judged: Path | None,
    progress: Any,
) -> tuple[dict[str, list[ItemResult]], list[str]]:
    """Each configuration's results on ``items`` and the coverage notes, one pipeline at a time
    (freed before the next is built: two models need not fit in memory together)."""
    runs: dict[str, list[ItemResult]] = {}
    notes: list[str] = []
    output.mkdir(parents=True, exist_ok=True)
    partial = output / "results.partial.jsonl"
    with partial.open("w", encoding="utf-8") as fh:

        def sink(res: ItemResult) -> None:
            fh.write(json.dumps(res.to_json(suite.name), ensure_ascii=False) + "\n")
            fh.flush()

        for cfg in configs:
            pipeline = build(cfg.settings, cfg.name, canary("system") if suite.name == "safety" else None)
            note = coverage_note(suite, items, pipeline, judged)
            if note:
                notes.append(f"{cfg.name}: {note}")
            runs[cfg.name] = suite.run(pipeline, items, progress, sink)
            del pipeline
            gc.collect()
    return runs, notes


def _report_context(
    suite: Suite,
    configs: list[Config],
    runs: dict[str, list[ItemResult]],
    notes: list[str],
    *,
    merged: bool,
    started: float,
    command: str,
) -> list[str]:
    """The report's "how this was made" lines: suite and sizes, when, each configuration, notes."""
    context = [
        f"suite **{suite.name}**, items per configuration: "
        + ", ".join(f"{name} {len(rs)}" for name, rs in runs.items())
        + (
            f"; report written {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')} from earlier results"
            if merged
            else f"; run {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')} in {time.perf_counter() - started:.0f} s"
        ),
        *[describe(c) for c in configs],
        *notes,
    ]
    if command:
        context.append(f"command: `{command}`")
    return context


def read_results(path: Path, suite: str) -> list[ItemResult]:
    """Items of a ``results.jsonl`` (or ``results.partial.jsonl``) written for ``suite``."""
    path = Path(path)
    if not path.is_file():
        raise EvaluationError(f"results file not found: {path}")
    out = []
    for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
        except json.JSONDecodeError as err:
            raise EvaluationError(f"{path}:{line_no}: not valid JSON ({err.msg})") from None
        if not isinstance(d, dict) or d.get("suite") != suite:
            raise EvaluationError(f"{path}:{line_no}: not a result of the {suite} suite")
        try:
            out.append(ItemResult.from_json(d))
        except EvaluationError as err:
            raise EvaluationError(f"{path}:{line_no}: {err}") from None
    return out


def _invocation() -> str:
    """The command line, when this process is ``python -m chatbot`` (not a test or a script)."""
    main = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if main is None or main.name != "__main__.py" or main.parent.name != "chatbot":
        return ""
    return "python -m chatbot " + shlex.join(sys.argv[1:])


def run_evaluate_cli(args: argparse.Namespace, *, overrides: dict[str, Any]) -> int:
    from chatbot.evaluation.report import summary_table

    configs = load_configs(args.config, args.compare, overrides)
    suite = make_suite(args, configs[0].settings)
    if args.bootstrap < 1:
        raise EvaluationError("--bootstrap must be at least 1")
    out = evaluate(
        suite,
        configs,
        Path(args.output),
        judged=Path(args.judged) if args.judged else None,
        ratings_path=Path(args.ratings) if args.ratings else None,
        resamples=args.bootstrap,
        seed=args.seed,
        command=getattr(args, "command_line", None) or _invocation(),
        offset=args.offset or 0,
        merge=[Path(p) for p in args.merge] if args.merge else None,
        progress=lambda msg: print(msg, file=sys.stderr, flush=True),
    )
    table = summary_table(out.summaries)
    print("| " + " | ".join(table.headers) + " |")
    for row in table.rows:
        print("| " + " | ".join(row) + " |")
    for d in out.diffs:
        print(f"{d.metric}: B-A {d.diff:+.3f} [{d.low:+.3f}, {d.high:+.3f}] {d.verdict}")
    print(f"report: {Path(args.output) / 'report.html'}", file=sys.stderr)
    return 0
