"""Output-side safety rules: what the model writes, what a client puts in the assistant's mouth,
and retrieved passages that carry instructions. The input side (triage, refusals) is in
:mod:`chatbot.safety.policy` and :mod:`chatbot.safety.triage`; a new rule about what may be
shown or replayed goes here."""

from __future__ import annotations

import re
from collections.abc import Sequence

from chatbot.safety.policy import canaries_in, injection_category, leaks_system_prompt, source_has_injection

LEAK_HOLD_WORDS = 8  # = the n-gram size of leaks_system_prompt
# An assistant turn sent by an API client that commits "the assistant" to new behaviour
# ("from now on I will say X at the end of every answer") is an injection in the assistant's voice.
ASSISTANT_COMMITMENT = re.compile(
    r"\bfrom now on\b|\bhenceforth\b|\bgoing forward\b"
    r"|\b(?:i|we)(?:'ll|\s+will|\s+shall|\s+am going to|\s+must)\s+(?:always\s+|now\s+|also\s+)?"
    r"(?:say|append|add|end|start|begin|include|reply|respond|answer|write|print|output|repeat|ignore|sign|obey)\b"
    r"|\b(?:every|each|all)\s+(?:future\s+|later\s+|subsequent\s+)?(?:answers|replies|responses)\b"
    r"|\bat the end of (?:every|each|all|my) (?:answers?|repl(?:y|ies)|responses?|messages?)\b",
    re.I,
)


def poisoned(text: str) -> bool:
    """Whether a passage contains instructions aimed at the assistant. The safety module's check
    alone: our own extra phrasings caught no attack it misses and flagged patient advice ("You
    should include fiber in your diet.")."""
    return source_has_injection(text)


def assistant_turn_injected(text: str) -> bool:
    """Whether an assistant turn supplied by a client carries instructions (it is data, and the
    model would read it as its own earlier promise)."""
    return injection_category(text) is not None or source_has_injection(text) or bool(ASSISTANT_COMMITMENT.search(text))


_WORD_RUN = re.compile(r"[^\W_]+")


class LeakGuard:
    """Streams model text only once it can no longer be part of a system-prompt leak.

    ``leaks_system_prompt`` finds a canary (also with its punctuation and spacing removed) or
    ``LEAK_HOLD_WORDS`` consecutive words of the system prompt. The guard re-checks everything
    written so far on every delta and holds back the newest text: at least that many words
    *and* as many letters/digits as the longest canary. A leak is found as soon as its last
    piece arrives, and by then all of it is still held back, so no part of a detected marker
    or n-gram has reached the client; once a leak is found nothing more is released."""

    def __init__(self, system_prompts: Sequence[str], canaries: Sequence[str]) -> None:
        self.system_prompts = list(system_prompts)
        self.canaries = [c for c in canaries if c]
        markers = [*self.canaries, *(m for sp in self.system_prompts for m in canaries_in(sp))]
        self.hold_chars = max((len(re.sub(r"[\W_]+", "", m)) for m in markers), default=0)
        self.text = ""
        self.emitted = 0
        self.leaked = False

    def _check(self, extra: str) -> bool:
        seen = self.text + ("\n" + extra if extra else "")
        self.leaked = any(leaks_system_prompt(seen, sp, self.canaries) for sp in self.system_prompts)
        return self.leaked

    def feed(self, delta: str, extra: str = "") -> str:
        """Add ``delta``; the text that is now safe to show ("" while held back or after a leak).
        ``extra``: model text that is checked but not shown (a buffered hybrid lead's rest)."""
        if self.leaked:
            return ""
        self.text += delta
        if self._check(extra):
            return ""
        chars = 0
        release = self.emitted
        for words, m in enumerate(reversed(list(_WORD_RUN.finditer(self.text, self.emitted))), 1):
            chars += len(m.group())
            if words >= LEAK_HOLD_WORDS and chars >= self.hold_chars:
                release = m.start()
                break
        out = self.text[self.emitted : release]
        self.emitted = max(self.emitted, release)
        return out

    def leaks(self, extra: str) -> bool:
        """Whether what was fed plus ``extra`` (model text not fed yet) leaks; sticky."""
        return self.leaked or self._check(extra)

    def flush(self, extra: str = "") -> str:
        """The held-back rest once the model has finished, unless the whole text leaks."""
        if self.leaked or self._check(extra):
            return ""
        out = self.text[self.emitted :]
        self.emitted = len(self.text)
        return out


__all__ = ["ASSISTANT_COMMITMENT", "LEAK_HOLD_WORDS", "LeakGuard", "assistant_turn_injected", "poisoned"]
