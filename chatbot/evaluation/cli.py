"""``python -m chatbot batch`` and ``python -m chatbot evaluate``: registered by the dispatcher.

Argument parsing only; the work happens in :mod:`chatbot.evaluation.batch` and
:mod:`chatbot.evaluation.runner`, imported when a command runs so ``--help`` stays cheap.
"""

from __future__ import annotations

import argparse
from typing import Any

SUITES = ("liveqa", "safety", "medquad")


def _add_overrides(p: argparse.ArgumentParser) -> None:
    # Also accepted after the subcommand; SUPPRESS keeps the global --config when not given here.
    p.add_argument("--config", default=argparse.SUPPRESS, help="YAML settings file (same as the global --config)")
    p.add_argument("--index", help="index directory (default: settings.knowledge.index_dir or <data_dir>/index)")
    p.add_argument("--adapter", help="LoRA adapter directory applied on top of the model")
    p.add_argument("--model", help="model id or local path (default: the configured one)")


def register(subparsers: Any) -> None:
    batch = subparsers.add_parser(
        "batch",
        help="answer every line of a JSONL file and write the structured replies",
        description="Each input line is {'id', 'text'} or {'id', 'messages': [{'role','content'}...]}; "
        "each output line carries the id plus the full reply (text, triage, citations, timings...).",
    )
    batch.add_argument("--input", required=True, help="input JSONL file")
    batch.add_argument("--output", required=True, help="output JSONL file (written line by line)")
    _add_overrides(batch)
    batch.set_defaults(func=_run_batch)

    ev = subparsers.add_parser(
        "evaluate",
        help="run an evaluation suite and write report.md/report.html, results.jsonl and a rating CSV",
    )
    ev.add_argument("--suite", required=True, choices=SUITES)
    ev.add_argument("--output", required=True, help="report directory (created)")
    ev.add_argument(
        "--compare",
        nargs=2,
        metavar=("CONFIG_A", "CONFIG_B"),
        help="two YAML settings files run on the same inputs (instead of --config); differences get paired "
        "bootstrap confidence intervals",
    )
    ev.add_argument("--questions", help="liveqa: LiveQA-format questions XML (default: shared liveqa_med_dev)")
    ev.add_argument(
        "--qrels", help="liveqa: judgements, lines 'n grade answer_id' (default: next to the default questions)"
    )
    ev.add_argument(
        "--judged", help="liveqa: judged answers CSV (AnswerID,Answer); the report says how many the index holds"
    )
    ev.add_argument(
        "--question-field",
        choices=("original", "summary"),
        default="original",
        help="liveqa: ask the consumer's original message (default) or the NLM summary",
    )
    ev.add_argument("--input", help="safety: labelled JSONL (default: tests/data/triage_tuned.jsonl)")
    ev.add_argument("--limit", type=int, help="only the first N questions/messages")
    ev.add_argument("--offset", type=int, default=0, help="skip the first N items (run a long set in shards)")
    ev.add_argument(
        "--merge",
        nargs="+",
        metavar="RESULTS",
        help="write the report from earlier results.jsonl files (e.g. shards) instead of running",
    )
    ev.add_argument("--ratings", help="clinician ratings CSV to join into the report")
    ev.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    ev.add_argument("--bootstrap", type=int, default=2000, help="bootstrap resamples for --compare")
    _add_overrides(ev)
    ev.set_defaults(func=_run_evaluate)


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    from chatbot.evaluation.batch import settings_overrides

    return settings_overrides(index=args.index, adapter=args.adapter, model=args.model)


def _run_batch(args: argparse.Namespace) -> int:
    from chatbot.evaluation.batch import run_batch_cli

    return run_batch_cli(args.input, args.output, config=args.config, overrides=_overrides(args))


def _run_evaluate(args: argparse.Namespace) -> int:
    from chatbot.evaluation.runner import run_evaluate_cli

    return run_evaluate_cli(args, overrides=_overrides(args))


def standalone_parser() -> argparse.ArgumentParser:
    """``batch`` and ``evaluate`` with the dispatcher's global ``--config``, for scripts and
    tests that should not depend on every other subcommand importing."""
    p = argparse.ArgumentParser(prog="python -m chatbot")
    p.add_argument("--config", help="YAML settings file (default: $HEALTHBOT_CONFIG, else built-in defaults)")
    register(p.add_subparsers(dest="command", required=True))
    return p
