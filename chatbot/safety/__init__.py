"""Safety checks run before retrieval and generation: red-flag triage, harmful requests,
off-topic redirects and prompt-injection attempts; plus PII redaction for storage and logs.

:func:`triage` is the one entry point the dialogue manager calls. Order matters: an emergency
beats everything (a suicidal message that also tries an injection still gets crisis guidance;
"I took 30 pills, is that a lethal dose?" gets emergency guidance, not a refusal), then
injection, harmful, off-topic. ``clarify`` is decided by the dialogue manager, never here.
Pure Python regular expressions: no model, well under a millisecond per message.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from chatbot import prompts
from chatbot.safety.categories import guidance_key
from chatbot.safety.learned import LearnedFinding, TriageModel
from chatbot.safety.lexicon import detect_language, normalize
from chatbot.safety.policy import harmful_category, injection_category, off_topic_category
from chatbot.safety.triage import ACUTE, Assessment, assess, doubtful
from chatbot.types import ChatMessage, PatientProfile, Triage

# A short follow-up to an emergency ("what do I do now?", "he's still not breathing right")
# keeps the emergency reply instead of being answered from documents.
# Bounds the work on huge inputs (the dialogue manager already truncates messages); red flags
# and attacks sit near the start or the end of a message, so both are kept.
_SCAN_HEAD = 16_000
_SCAN_TAIL = 4_000

_FOLLOW_UP = re.compile(r"\b(?:what (?:do|should|can) (?:i|we) do|now what|still|worse|again|hurry|help)\b")


def _continues_emergency(message: str, history: Sequence[ChatMessage], profile: PatientProfile | None) -> str | None:
    previous = next((m.content for m in reversed(history) if m.role == "user"), None)
    if previous is None:
        return None
    norm = normalize(message)
    if len(norm.split()) > 15 or not (_FOLLOW_UP.search(norm) or ACUTE.search(norm)):
        return None
    earlier = assess(previous, profile)
    return earlier.category if earlier.emergency else None


def _emergency(found: Assessment, learned: LearnedFinding | None, lang: str, message: str) -> Triage | None:
    """Emergency if the rules or the classifier say so, except where the classifier is all but
    sure there is none in a message that asks about rather than reports one (``overrules_rules``
    and :func:`~chatbot.safety.triage.doubtful`: "what temperature is a fever in a newborn?"). The
    rules' category wins when both fire (it names what matched); the classifier's category
    picks the guidance otherwise."""
    score = None if learned is None else learned.emergency_p
    by_model = learned is not None and learned.level == "emergency"
    if found.emergency and learned is not None and learned.overrules_rules and doubtful(message):
        # A question about an emergency (educational, past, joking), not a report of one, that
        # the classifier is all but sure is none: the rule matched words, not a situation.
        return None
    if found.emergency:
        reason = found.reason + (f"; {learned.reason()}" if learned is not None else "")
        source = "rules+classifier" if by_model else "rules"
        category = guidance_key(found.category, message)
        text = prompts.emergency_message(category, lang)
        return Triage("emergency", category, reason, text, lang, source=source, score=score)
    if learned is not None and by_model:
        category = guidance_key(learned.category, message)
        text = prompts.emergency_message(category, lang)
        return Triage("emergency", category, learned.reason(), text, lang, source="classifier", score=score)
    return None


def triage(
    message: str,
    history: Sequence[ChatMessage] | None = None,
    profile: PatientProfile | None = None,
    *,
    model: TriageModel | None = None,
) -> Triage:
    """Label ``message`` ok | emergency | injection | harmful | off_topic, with the fixed reply text.

    ``model`` is the learned second stage; without it the rules decide alone. An ``ok`` message
    the model thinks needs a clinician today carries ``care="same_day"``.
    """
    if len(message) > _SCAN_HEAD + _SCAN_TAIL:
        message = message[:_SCAN_HEAD] + "\n" + message[-_SCAN_TAIL:]
    lang = detect_language(message)
    found = assess(message, profile)
    learned = model.score(message) if model is not None else None
    emergency = _emergency(found, learned, lang, message)
    if emergency is not None:
        return emergency
    if history:
        category = _continues_emergency(message, history, profile)
        if category is not None:
            reason = f"{category}: follow-up to an emergency message"
            return Triage("emergency", category, reason, prompts.emergency_message(category, lang), lang)
    kind = injection_category(message)
    if kind is not None:
        return Triage("injection", kind, f"injection attempt: {kind}", prompts.injection_message(lang), lang)
    kind = harmful_category(message)
    if kind is not None:
        return Triage("harmful", kind, f"harmful request: {kind}", prompts.refusal_message(kind, lang), lang)
    kind = off_topic_category(message)
    if kind is not None:
        return Triage("off_topic", kind, f"not a health question: {kind}", prompts.off_topic_message(lang), lang)
    if learned is not None:
        care = "same_day" if learned.level == "urgent" else ""
        reason = "; ".join(r for r in (found.reason, learned.reason()) if r)
        return Triage("ok", "", reason, "", lang, care=care, source="classifier", score=learned.emergency_p)
    return Triage("ok", "", found.reason, "", lang)


__all__ = ["triage"]
