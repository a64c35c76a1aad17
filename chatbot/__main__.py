"""``python -m chatbot ask|chat|prepare|batch|evaluate|clinician``.

Each subcommand lives in the module that owns it and registers itself through
``register(subparsers)``; this file only dispatches and turns errors meant for people into
one line (exit status 2) instead of a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from chatbot.errors import HealthbotError

# module -> the subcommands it registers
COMMAND_MODULES = ("chatbot.cli_chat", "chatbot.prepare", "chatbot.evaluation.cli", "chatbot.cli_accounts")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m chatbot", description=__doc__.splitlines()[0])
    parser.add_argument("--config", help="YAML settings file (default: $HEALTHBOT_CONFIG, else built-in defaults)")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except HealthbotError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
