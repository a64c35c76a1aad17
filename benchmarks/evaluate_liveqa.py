"""The evaluation harness on all 51 LiveQA-Med dev questions: the example report, one run.

    nice -n 10 .venv/bin/python -m benchmarks.evaluate_liveqa            # -> docs/evaluation/liveqa-dev/
    # or in two shards on a busy machine, then one report from both:
    ... --limit 26 --output /tmp/a & ... --offset 26 --output /tmp/b
    ... --merge /tmp/a/results.jsonl /tmp/b/results.jsonl
    .venv/bin/python -m benchmarks.evaluate_liveqa --limit 5 --output /tmp/liveqa
    .venv/bin/python -m benchmarks.evaluate_liveqa --compare a.yaml b.yaml --output /tmp/cmp

Runs ``python -m chatbot evaluate --suite liveqa`` with the configured model (default: the
embedded SmolLM2-135M on CPU) over the index ``benchmarks/retrieval_liveqa.py`` builds
(MedQuAD + the judged answers, ``<data_dir>/bench/liveqa-index``), so every judged answer
can be retrieved. The competitor is measured side by side in the same run: the extractive
baseline (first 80 words of the top retrieved passage) is scored against the same expert
reference answers. Prints the summary table and the wall time; the report directory gets
report.md/.html, the plots, results.jsonl and the rating CSV.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def _args(argv: list[str] | None) -> argparse.Namespace:
    from chatbot.settings import load_settings

    settings = load_settings()
    shared = settings.shared_data / "liveqa_med_dev"
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--config", help="YAML settings file (model, adapter, dialogue options)")
    p.add_argument("--compare", nargs=2, metavar=("CONFIG_A", "CONFIG_B"), help="two YAML settings files")
    p.add_argument("--index", type=Path, default=settings.data_dir / "bench" / "liveqa-index")
    p.add_argument("--questions", type=Path, default=shared / "questions.xml")
    p.add_argument("--qrels", type=Path, default=shared / "qrels.txt")
    p.add_argument("--judged", type=Path, default=shared / "judged_answers.csv")
    p.add_argument("--output", type=Path, default=REPO / "docs" / "evaluation" / "liveqa-dev")
    p.add_argument("--limit", type=int, help="only the first N questions")
    p.add_argument("--offset", type=int, default=0, help="skip the first N questions (run in shards)")
    p.add_argument("--merge", nargs="+", help="only write the report from earlier results.jsonl files (shards)")
    p.add_argument("--question-field", choices=("original", "summary"), default="original")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    if not args.merge and not (args.index / "manifest.json").is_file():
        print(
            f"no index at {args.index}: build it once with\n"
            "    nice -n 10 .venv/bin/python -m benchmarks.retrieval_liveqa\n"
            "(MedQuAD + judged answers; tens of minutes of CPU, cached embeddings are reused)",
            file=sys.stderr,
        )
        return 2
    from chatbot.errors import HealthbotError
    from chatbot.evaluation.cli import standalone_parser

    cli_args = [] if not args.config else ["--config", args.config]
    cli_args += ["evaluate", "--suite", "liveqa", "--output", str(args.output), "--index", str(args.index)]
    cli_args += ["--questions", str(args.questions), "--qrels", str(args.qrels), "--judged", str(args.judged)]
    cli_args += ["--question-field", args.question_field]
    if args.limit:
        cli_args += ["--limit", str(args.limit)]
    if args.compare:
        cli_args += ["--compare", *args.compare]
    if args.offset:
        cli_args += ["--offset", str(args.offset)]
    if args.merge:
        cli_args += ["--merge", *args.merge]
    ns = standalone_parser().parse_args(cli_args)
    ns.command_line = "python -m benchmarks.evaluate_liveqa " + shlex.join(sys.argv[1:] if argv is None else argv)
    started = time.perf_counter()
    try:
        rc = int(ns.func(ns) or 0)
    except HealthbotError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"\nwall time {time.perf_counter() - started:.0f} s; report in {args.output}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
