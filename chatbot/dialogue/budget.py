"""Token budgets of one turn: the question, the retrieval text, the sources and the history
must fit ``llm.max_prompt_tokens`` whatever the patient types."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from chatbot import prompts
from chatbot.sessions import trim_history
from chatbot.types import ChatMessage, PatientProfile, Query

if TYPE_CHECKING:
    from chatbot.query import Understanding
    from knowledge.documents import Hit

PROMPT_RESERVE_TOKENS = 32
# The retrieval text of one turn, in generator tokens: a longer message adds nothing the
# embedder (which truncates far earlier) or BM25 can use.
RETRIEVAL_MAX_TOKENS = 384
MIN_QUESTION_TOKENS = 16
# A standalone question longer than this is a whole story; its reduced question is prompted.
MAX_PROMPT_QUESTION_CHARS = 600


class PromptBudget:
    """Counts with the generator's tokenizer and cuts texts to fit the prompt."""

    def __init__(self, count: Callable[[str], int], max_prompt_tokens: int, canary: str | None) -> None:
        self.count = count
        self.limit = max_prompt_tokens - PROMPT_RESERVE_TOKENS
        self.canary = canary

    def clip(self, text: str, budget: int) -> str:
        """The longest prefix of ``text`` (cut at a space where there is one) within ``budget`` tokens."""
        if self.count(text) <= budget:
            return text
        lo, hi = 0, len(text)
        while lo < hi:  # binary search on the character length: count_tokens is all we have
            mid = (lo + hi + 1) // 2
            if self.count(text[:mid]) <= budget:
                lo = mid
            else:
                hi = mid - 1
        cut = text[:lo]
        space = cut.rfind(" ")
        if space > lo // 2:
            cut = cut[:space]
        return cut.rstrip()

    def bounded(self, u: Understanding, flags: list[str]) -> Understanding:
        """``u`` with the retrieval text and the question cut to token budgets, so no message
        within ``dialogue.max_message_chars`` (say, 8,000 characters without a sentence break)
        can overflow ``llm.max_prompt_tokens``."""
        system = self.count(prompts.system_prompt(canary=self.canary))
        # Half of what the system prompt leaves is for the question, the rest for the sources.
        q_budget = max(MIN_QUESTION_TOKENS, (self.limit - system) // 2)
        question = self.clip(u.reduced, q_budget)
        standalone = u.query.standalone
        if question != u.reduced or self.count(standalone) > q_budget:
            standalone = self.clip(standalone, q_budget)
        retrieval = self.clip(u.query.retrieval, RETRIEVAL_MAX_TOKENS)
        if (question, standalone, retrieval) == (u.reduced, u.query.standalone, u.query.retrieval):
            return u
        flags.append("question_shortened")
        query = Query(u.query.original, standalone, retrieval)
        return replace(u, query=query, reduced=question)

    def question(self, u: Understanding, hits: list[Hit], profile: PatientProfile | None, lead_only: bool) -> str:
        """The question as prompted: room for it next to the system prompt and the first source
        (the sources are then fitted around it)."""
        question = u.query.standalone if len(u.query.standalone) <= MAX_PROMPT_QUESTION_CHARS else u.reduced
        system = self.count(prompts.system_prompt(canary=self.canary, lead_only=lead_only))
        first = self.count(prompts.user_turn("", [h.chunk for h in hits[:1]], profile))
        return self.clip(question, max(MIN_QUESTION_TOKENS, self.limit - system - first - 8))

    def fit_sources(self, question: str, hits: list[Hit], profile: PatientProfile | None, lead_only: bool) -> list[Hit]:
        """Drop the lowest-ranked sources until system + sources + question fit the prompt."""
        kept = list(hits)
        system = prompts.system_prompt(canary=self.canary, lead_only=lead_only)
        while len(kept) > 1:
            turn = prompts.user_turn(question, [h.chunk for h in kept], profile)
            if self.count(system) + self.count(turn) <= self.limit:
                break
            kept.pop()
        return kept

    def history(self, fixed: list[ChatMessage], history: list[ChatMessage]) -> list[ChatMessage]:
        """The most recent turns of ``history`` that fit next to the ``fixed`` messages."""
        room = self.limit - sum(self.count(m.content) + 4 for m in fixed)
        return trim_history(history, max(0, room), self.count)


__all__ = ["RETRIEVAL_MAX_TOKENS", "PromptBudget"]
