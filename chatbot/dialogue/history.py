"""Earlier turns: what they imply for this one (follow-ups, clarifying questions) and which of
them may be replayed to the model."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from chatbot import clarify, prompts
from chatbot.query import understand
from chatbot.safety.output import assistant_turn_injected
from chatbot.safety.policy import injection_category
from chatbot.types import ChatMessage, PatientProfile, Triage

TriageFn = Callable[[str, Sequence[ChatMessage], PatientProfile | None], Triage]

# At most this many earlier turns are replayed (context and prompt); each is re-checked when
# it comes from the client, so this also bounds that work for a huge API history.
MAX_CONTEXT_TURNS = 40
# Exchanges with these triage labels may be replayed to the model; refused, redirected and
# emergency exchanges were answered with fixed text and carry nothing the model should see.
REPLAYABLE = frozenset({"ok", "clarify"})


@dataclass
class Context:
    """What earlier turns imply for this one."""

    previous: str | None = None  # previous standalone question
    topic: str | None = None
    asked: set[str] = field(default_factory=set)
    pending: tuple[str, str] | None = None  # (clarification kind, standalone question)
    profile: PatientProfile | None = None


_CLARIFY_KINDS = {
    " ".join(prompts.CLARIFY_FEVER_AGE.split()): clarify.FEVER_AGE,
    " ".join(prompts.CLARIFY_PREGNANCY.split()): clarify.PREGNANCY,
}


def conversation_context(turns: Sequence[ChatMessage], profile: PatientProfile | None) -> Context:
    """Replay earlier turns: follow-up chain, clarifying questions asked and answered."""
    ctx = Context(profile=profile)
    for msg in turns:
        if msg.role == "assistant":
            kind = _CLARIFY_KINDS.get(" ".join(msg.content.split()))
            if kind and ctx.previous:
                ctx.asked.add(kind)
                ctx.pending = (kind, ctx.previous)
            continue
        if msg.role != "user":
            continue
        if ctx.pending is not None:
            kind, _question = ctx.pending
            ctx.pending = None
            updated = clarify.apply_answer(kind, msg.content, ctx.profile)
            if updated is not None:
                ctx.profile = updated
                continue  # an answer, not a new question: the topic stays
        u = understand(msg.content, previous=ctx.previous, previous_topic=ctx.topic)
        ctx.previous, ctx.topic = u.query.standalone, u.topic
    return ctx


def replayable(turns: list[ChatMessage], labels: list[str] | None, triage: TriageFn) -> list[ChatMessage]:
    """The recent turns that may be replayed: exchanges triaged ``ok``/``clarify``. Session
    turns carry their stored label; a client's history (``labels`` None) is checked here like a
    new message (user turns: injection check + triage; assistant turns are data: injection
    patterns, instructions or commitments to new behaviour drop them). A dropped turn takes the
    rest of its exchange with it, so the model never sees a question without its answer or an
    answer to a question it can't see."""
    start = max(0, len(turns) - MAX_CONTEXT_TURNS)
    kept: list[ChatMessage] = []
    user_ok = False
    for i in range(start, len(turns)):
        msg = turns[i]
        if msg.role == "user":
            if kept and kept[-1].role == "user":
                kept.pop()  # a question without an answer: keep user/assistant turns alternating
            if labels is not None:
                user_ok = i < len(labels) and labels[i] in REPLAYABLE
            else:
                user_ok = injection_category(msg.content) is None and triage(msg.content, [], None).label in REPLAYABLE
            if user_ok:
                kept.append(msg)
        elif msg.role == "assistant":
            if labels is not None:
                ok = user_ok and i < len(labels) and labels[i] in REPLAYABLE
            else:
                ok = user_ok and not assistant_turn_injected(msg.content)
            if ok:
                kept.append(msg)
            elif user_ok and kept and kept[-1].role == "user":
                kept.pop()  # the question whose answer was dropped
            user_ok = False  # any further assistant turn of this exchange is dropped
        # other roles (a client's "system" turn) are never replayed
    if kept and kept[-1].role == "user":
        kept.pop()
    return kept


__all__ = ["MAX_CONTEXT_TURNS", "Context", "TriageFn", "conversation_context", "replayable"]
