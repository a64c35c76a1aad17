"""``python -m finetune build-data | train | evaluate | merge | stamp`` (options come from the config
dataclasses' help metadata, so the CLI and the configs never drift apart)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from chatbot.errors import HealthbotError
from finetune.config import DataConfig, EvalConfig, FinetuneError, TrainConfig, default_value


def _bool(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _optional(parse: Any) -> Any:
    def convert(text: str) -> Any:
        return None if text.lower() in ("none", "") else parse(text)

    return convert


def _converter(tp: Any) -> Any:
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    optional = typing.get_origin(tp) in (typing.Union, types.UnionType) and len(args) == 1
    base = args[0] if optional else tp
    parse = {bool: _bool, int: int, float: float, str: str}.get(base, str)
    return _optional(parse) if optional else parse


def add_config_options(parser: argparse.ArgumentParser, cls: type) -> None:
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        default = default_value(f)
        parser.add_argument(
            "--" + f.name.replace("_", "-"),
            dest=f.name,
            type=_converter(hints[f.name]),
            default=default,
            help=f"{f.metadata.get('help', '')} (default: {default})",
        )


def config_from(args: argparse.Namespace, cls: type) -> Any:
    return cls(**{f.name: getattr(args, f.name) for f in dataclasses.fields(cls)})


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m finetune", description="Fine-tune LoRA/QLoRA adapters for healthbot."
    )
    parser.add_argument("--config", help="Settings YAML (default: $HEALTHBOT_CONFIG); gives data_dir and model cache.")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)
    add_config_options(
        sub.add_parser("build-data", help="Build the chat-format dataset from MedQuAD or JSONL."), DataConfig
    )
    add_config_options(sub.add_parser("train", help="Train a LoRA (or 4-bit QLoRA) adapter."), TrainConfig)
    add_config_options(sub.add_parser("evaluate", help="Base versus adapter on the held-out test split."), EvalConfig)
    merge = sub.add_parser("merge", help="Merge an adapter into a full-precision base and save the model.")
    merge.add_argument("--adapter", required=True, help="Adapter directory.")
    merge.add_argument("--output", required=True, help="Directory for the merged model (must not exist).")
    merge.add_argument("--base-model", default="", help="Base model (default: the one in the adapter metadata).")
    merge.add_argument("--gguf-file", default=None, help="GGUF file inside base-model.")
    merge.add_argument(
        "--quantization", default="none", help="How the base would be loaded; only 'none' can be merged."
    )
    stamp = sub.add_parser(
        "stamp",
        help="Record the sha256 of an adapter's files in its metadata (for an adapter you trust: "
        "older adapters, or files you changed on purpose). Loaders refuse adapters whose files differ.",
    )
    stamp.add_argument("--adapter", required=True, help="Adapter directory (with healthbot_adapter.json).")
    return parser


def run(argv: Sequence[str] | None = None) -> int:
    from chatbot.settings import load_settings

    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    settings = load_settings(args.config)
    if args.command == "build-data":
        from finetune.data import build_dataset

        cfg = config_from(args, DataConfig)
        source = Path(cfg.source).expanduser() if cfg.source else settings.shared_data / "MedQuAD"
        out = Path(cfg.output_dir).expanduser() if cfg.output_dir else settings.data_dir / "finetune" / "dataset"
        manifest = build_dataset(cfg, source, out)
        print(
            json.dumps(
                {k: manifest[k] for k in ("examples", "no_source_examples", "skipped", "manifest_sha256")}, indent=2
            )
        )
        print(f"dataset written to {out}")
    elif args.command == "train":
        from finetune.train import train

        metrics = train(config_from(args, TrainConfig), settings)
        if metrics:
            print(json.dumps({k: v for k, v in metrics.items() if k != "log_history"}, indent=2))
    elif args.command == "evaluate":
        from finetune.evaluate import evaluate

        report = evaluate(config_from(args, EvalConfig), settings)
        print(report["markdown"])
    elif args.command == "merge":
        from finetune.merge import merge_adapter

        out = merge_adapter(
            Path(args.adapter),
            Path(args.output),
            settings,
            base_model=args.base_model or None,
            gguf_file=args.gguf_file,
            quantization=args.quantization,
        )
        print(f"merged model written to {out}")
    elif args.command == "stamp":
        from finetune.metadata import ADAPTER_HASHES, stamp_adapter

        meta = stamp_adapter(Path(args.adapter).expanduser())
        for name, digest in meta[ADAPTER_HASHES].items():
            print(f"{digest}  {name}")
        print(f"hashes recorded in {Path(args.adapter) / 'healthbot_adapter.json'}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return run(argv)
    except HealthbotError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; a rerun of train resumes from the last checkpoint", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())

__all__ = ["FinetuneError", "main"]
