"""``python -m chatbot ask "question"`` and ``python -m chatbot chat`` (interactive).

Both load settings once, build the :class:`~chatbot.dialogue.DialogueService` from them and
stream the answer to stdout, then list the sources. ``ask --json`` prints the structured
reply instead.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from chatbot.dialogue import DialogueService
    from chatbot.types import PatientProfile, Reply

ANSWER_MODES = ("generative", "hybrid", "extractive")


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--mode", choices=ANSWER_MODES, help="answer mode (default: dialogue.answer_mode)")
    p.add_argument("--index", help="index directory (default: <data_dir>/index)")
    g = p.add_argument_group("patient profile (kept for this run only)")
    g.add_argument("--age", type=int, help="age in years")
    g.add_argument("--age-group", choices=("infant", "child", "teen", "adult", "older_adult"))
    g.add_argument("--sex", choices=("female", "male", "other"))
    g.add_argument("--pregnant", choices=("yes", "no"), help="pregnancy status, if known")
    g.add_argument("--condition", action="append", default=[], help="a chronic condition (repeatable)")
    g.add_argument("--medication", action="append", default=[], help="a current medicine (repeatable)")
    g.add_argument("--allergy", action="append", default=[], help="an allergy (repeatable)")


def register(subparsers: Any) -> None:
    ask = subparsers.add_parser("ask", help="answer one health question, with sources")
    ask.add_argument("question", help="the question (quote it)")
    ask.add_argument("--json", action="store_true", help="print the structured reply as JSON")
    _add_common(ask)
    ask.set_defaults(func=run_ask)

    chat = subparsers.add_parser("chat", help="interactive chat (/reset clears the conversation, /quit or Ctrl-D ends)")
    _add_common(chat)
    chat.set_defaults(func=run_chat)


def profile_from_args(args: argparse.Namespace) -> PatientProfile | None:
    from chatbot.types import PatientProfile

    profile = PatientProfile(
        age=args.age,
        age_group=args.age_group,
        sex=args.sex,
        pregnant=None if args.pregnant is None else args.pregnant == "yes",
        conditions=tuple(args.condition),
        medications=tuple(args.medication),
        allergies=tuple(args.allergy),
    )
    return None if profile.is_empty() else profile


def build_service(args: argparse.Namespace) -> DialogueService:
    from chatbot.dialogue import DialogueService
    from chatbot.errors import HealthbotError
    from chatbot.settings import load_settings

    overrides: dict[str, Any] = {}
    if args.mode:
        overrides["dialogue"] = {"answer_mode": args.mode}
    if args.index:
        overrides["knowledge"] = {"index_dir": args.index}
    settings = load_settings(args.config, **overrides)
    if not settings.index_dir.exists():
        raise HealthbotError(
            f"no knowledge index at {settings.index_dir}: run `python -m chatbot prepare` (or pass --index)"
        )
    return DialogueService.from_settings(settings)


def format_sources(reply: Reply) -> str:
    lines = []
    for c in reply.citations:
        extra = ", ".join(x for x in (c.source, c.license) if x)
        lines.append(f"[{c.n}] {c.title}" + (f" - {c.url}" if c.url else "") + (f" ({extra})" if extra else ""))
    return "Sources:\n" + "\n".join(lines) if lines else ""


_CITATION = re.compile(r"\s*\[(\d+(?:\s*,\s*\d+)*)\]")


def same_reading(streamed: str, final: str) -> bool:
    """Whether the checked text says what was streamed: the same words and the same citations
    in the same order. Grounding often only moves a citation behind the full stop
    ("breathing [1]." -> "breathing. [1]"), and printing the whole answer again for that hides
    the changes that matter."""

    def reading(text: str) -> tuple[str, list[str]]:
        cited = [" ".join(m.replace(",", " ").split()) for m in _CITATION.findall(text)]
        return " ".join(_CITATION.sub("", text).split()), cited

    return reading(streamed) == reading(final)


def stream_turn(
    service: DialogueService,
    message: str,
    *,
    out: TextIO,
    session_id: str | None = None,
    profile: PatientProfile | None = None,
) -> Reply:
    """Print deltas as they arrive; when grounding changed the text, print the final version."""
    streamed: list[str] = []
    final: Reply | None = None
    for event in service.stream(message, session_id=session_id, profile=profile):
        if event.kind == "delta":
            streamed.append(event.text)
            out.write(event.text)
            out.flush()
        elif event.kind == "done":
            final = event.reply
    assert final is not None
    out.write("\n")
    if not same_reading("".join(streamed), final.text):
        out.write("\n--- checked against the sources ---\n" + final.text + "\n")
    sources = format_sources(final)
    if sources:
        out.write("\n" + sources + "\n")
    out.flush()
    return final


def run_ask(args: argparse.Namespace) -> int:
    service = build_service(args)
    profile = profile_from_args(args)
    if args.json:
        reply = service.reply(args.question, profile=profile)
        print(json.dumps(reply.to_dict(), indent=2, ensure_ascii=False))
        return 0
    stream_turn(service, args.question, out=sys.stdout, profile=profile)
    return 0


def run_chat(args: argparse.Namespace, stdin: TextIO | None = None, out: TextIO | None = None) -> int:
    from chatbot.errors import HealthbotError

    stdin = stdin or sys.stdin
    out = out or sys.stdout
    service = build_service(args)
    profile = profile_from_args(args)
    session = "cli"
    interactive = stdin.isatty()
    out.write("healthbot: health information, not a diagnosis. /reset starts over, /quit ends.\n")
    while True:
        if interactive:
            out.write("\nyou> ")
            out.flush()
        line = stdin.readline()
        if not line:  # Ctrl-D
            out.write("\n")
            return 0
        message = line.strip()
        if not message:
            continue
        if message in ("/quit", "/exit"):
            return 0
        if message == "/reset":
            service.reset(session)
            out.write("(conversation cleared)\n")
            continue
        out.write("bot> ")
        try:
            stream_turn(service, message, out=out, session_id=session, profile=profile)
        except HealthbotError as err:
            out.write(f"error: {err}\n")


def build_parser_args(argv: list[str]) -> argparse.Namespace:
    """Parse ``argv`` with the full ``python -m chatbot`` parser (for tests and scripts)."""
    from chatbot.__main__ import build_parser

    return build_parser().parse_args(argv)
