"""The dialogue manager: the one service every front end calls for a chat turn.

One turn: safety triage -> (clarifying question?) -> query understanding -> retrieval ->
prompt -> streamed generation -> grounding check -> :class:`~chatbot.types.Reply`.

Design choices:
* Red flags short-circuit: an emergency reply is the fixed emergency guidance only, with no
  retrieval and no generated text after it, so the instruction to get help is unmistakable and
  arrives instantly. Harmful, off-topic and injection messages likewise get their fixed reply.
* Below ``knowledge.min_score`` the bot says its sources don't cover the question and whom to
  ask; nothing is generated.
* ``dialogue.answer_mode``: ``generative`` (the model writes the whole answer), ``hybrid`` (the
  model writes one plain-language lead sentence; the passage sentences closest to the
  question follow, quoted and cited) or ``extractive`` (no model). Hybrid is the default: the
  135M embedded model's own answers are slow and often unsupported, and a hybrid lead that is
  not a supported claim is dropped; ``benchmarks/answers_liveqa.py`` measures the modes
  against the extractive baseline.
* Retrieved passages that contain instructions to the assistant are removed before prompting.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from chatbot import clarify, prompts
from chatbot.errors import HealthbotError
from chatbot.grounding import Evidence, citations_for, ground, opening_sentences, select_sentences, strip_citations
from chatbot.llm.base import GenerationParams, Generator
from chatbot.query import Understanding, mentions_medicine, profile_terms, understand
from chatbot.safety import triage as safety_triage
from chatbot.safety.policy import canaries_in, injection_category, leaks_system_prompt, source_has_injection
from chatbot.sessions import SessionStore, trim_history
from chatbot.types import ChatMessage, PatientProfile, Query, Reply, ReplyEvent, Timings, Triage

if TYPE_CHECKING:
    from chatbot.settings import Settings
    from knowledge.documents import Hit
    from knowledge.embedding import Embedder
    from knowledge.retrieval import Retriever

log = logging.getLogger(__name__)

TriageFn = Callable[[str, Sequence[ChatMessage], PatientProfile | None], Triage]

LEAD_MAX_TOKENS = 48
LEAD_SOURCES = 3  # the lead sentence needs only the best passages; a shorter prompt is faster
# Hybrid quotes the best passage's opening first, then the sentences closest to the question:
# on the LiveQA dev questions this beat picking every sentence by similarity on ROUGE-L (the
# opening keeps the reference's own overview) at the same embedding similarity; see README.
HYBRID_OPENING_WORDS = 40
HYBRID_PICKED_WORDS = 50
HYBRID_PICKED_SENTENCES = 2
EXTRACTIVE_MAX_WORDS = 90
PROMPT_RESERVE_TOKENS = 32
# At most this many earlier turns are replayed (context and prompt); each is re-checked when
# it comes from the client, so this also bounds that work for a huge API history.
MAX_CONTEXT_TURNS = 40
# The retrieval text of one turn, in generator tokens: a longer message adds nothing the
# embedder (which truncates far earlier) or BM25 can use.
RETRIEVAL_MAX_TOKENS = 384
MIN_QUESTION_TOKENS = 16
LEAK_HOLD_WORDS = 8  # = the n-gram size of leaks_system_prompt
# Exchanges with these triage labels may be replayed to the model; refused, redirected and
# emergency exchanges were answered with fixed text and carry nothing the model should see.
_REPLAYABLE = frozenset({"ok", "clarify"})
# An assistant turn sent by an API client that commits "the assistant" to new behaviour
# ("from now on I will say X at the end of every answer") is an injection in the assistant's voice.
_ASSISTANT_COMMITMENT = re.compile(
    r"\bfrom now on\b|\bhenceforth\b|\bgoing forward\b"
    r"|\b(?:i|we)(?:'ll|\s+will|\s+shall|\s+am going to|\s+must)\s+(?:always\s+|now\s+|also\s+)?"
    r"(?:say|append|add|end|start|begin|include|reply|respond|answer|write|print|output|repeat|ignore|sign|obey)\b"
    r"|\b(?:every|each|all)\s+(?:future\s+|later\s+|subsequent\s+)?(?:answers|replies|responses)\b"
    r"|\bat the end of (?:every|each|all|my) (?:answers?|repl(?:y|ies)|responses?|messages?)\b",
    re.I,
)


class DialogueError(HealthbotError, ValueError):
    """A chat message that can't be processed (empty); the message says what to do."""


@dataclass
class _Context:
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


def conversation_context(turns: Sequence[ChatMessage], profile: PatientProfile | None) -> _Context:
    """Replay earlier turns: follow-up chain, clarifying questions asked and answered."""
    ctx = _Context(profile=profile)
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


def poisoned(text: str) -> bool:
    """Whether a passage contains instructions aimed at the assistant. The safety module's check
    alone: our own extra phrasings caught no attack it misses and flagged patient advice ("You
    should include fiber in your diet.")."""
    return source_has_injection(text)


def whom_to_ask(question: str, profile: PatientProfile | None) -> str:
    p = profile or PatientProfile()
    if p.pregnant or re.search(r"\bpregnan", question, re.I):
        return prompts.WHOM_TO_ASK_PREGNANCY
    if mentions_medicine(question):
        return prompts.WHOM_TO_ASK_MEDICINE
    if p.age_group in ("infant", "child") or (p.age is not None and p.age < 13):
        return prompts.WHOM_TO_ASK_CHILD
    if re.search(r"\b(?:baby|child|kid|toddler|son|daughter|infant)s?\b", question, re.I):
        return prompts.WHOM_TO_ASK_CHILD
    return prompts.WHOM_TO_ASK_DEFAULT


class DialogueService:
    """Chat turns over a generator, a retriever and an embedder, with per-session state."""

    def __init__(
        self,
        settings: Settings,
        *,
        generator: Generator,
        retriever: Retriever | None,
        embedder: Embedder | None = None,
        triage: TriageFn | None = None,
        canary: str | None = None,
    ) -> None:
        self.settings = settings
        self.generator = generator
        self.retriever = retriever
        self.embedder = embedder
        self.triage_fn: TriageFn = triage if triage is not None else safety_triage
        self.canary = canary
        d = settings.dialogue
        self.sessions = SessionStore(d.max_sessions, d.session_ttl_s)

    @classmethod
    def from_settings(cls, settings: Settings) -> DialogueService:
        """Real backends from settings; the index must exist (``python -m chatbot prepare``)."""
        from chatbot.llm import build_generator
        from knowledge.embedding import build_embedder
        from knowledge.index import load_retriever

        retriever = load_retriever(settings)
        # The retriever already loaded the embedder its index was built with; share it.
        embedder = getattr(retriever, "embedder", None) or build_embedder(settings.embedding)
        return cls(settings, generator=build_generator(settings), retriever=retriever, embedder=embedder)

    # ------------------------------------------------------------------ public API

    def reply(
        self,
        message: str,
        *,
        session_id: str | None = None,
        profile: PatientProfile | None = None,
        history: list[ChatMessage] | None = None,
        hits: list[Hit] | None = None,
        generator: Generator | None = None,
    ) -> Reply:
        final: Reply | None = None
        for event in self.stream(
            message, session_id=session_id, profile=profile, history=history, hits=hits, generator=generator
        ):
            if event.kind == "done":
                final = event.reply
        assert final is not None  # stream always ends with "done"
        return final

    def retrieve(
        self,
        message: str,
        *,
        session_id: str | None = None,
        profile: PatientProfile | None = None,
        history: list[ChatMessage] | None = None,
    ) -> tuple[Query, list[Hit]]:
        """The query and the passages a turn would use (no triage, no generation), so two
        configurations can be compared over the same passages."""
        message = self._check_message(message)[0]
        turns, base_profile, labels = self._turns_and_profile(session_id, profile, history)
        ctx = conversation_context(self._replayable(turns, labels), base_profile)
        u = understand(message, previous=ctx.previous, previous_topic=ctx.topic, profile=ctx.profile)
        u = self._bounded(u, [])
        return u.query, self._search(u)[0]

    def reset(self, session_id: str) -> None:
        self.sessions.reset(session_id)

    def stream(
        self,
        message: str,
        *,
        session_id: str | None = None,
        profile: PatientProfile | None = None,
        history: list[ChatMessage] | None = None,
        hits: list[Hit] | None = None,
        generator: Generator | None = None,
    ) -> Iterator[ReplyEvent]:
        """Events of one turn, in order: triage, sources, delta*, done."""
        t0 = time.perf_counter()
        message, flags = self._check_message(message)
        turns, base_profile, labels = self._turns_and_profile(session_id, profile, history)
        if history is not None:
            session_id = None  # the caller owns that conversation; the session store is not touched
        # Only exchanges that were answered normally are replayed, to the context and to the model:
        # a refused attack, or words a client put in the assistant's mouth, must not come back.
        safe_turns = self._replayable(turns, labels)
        ctx = conversation_context(safe_turns, base_profile)
        prompt_history = trim_history(safe_turns, self.settings.dialogue.history_token_budget, self._count)
        timings = Timings()

        # A reply to our clarifying question: answer the question it was about.
        effective = message
        eff_profile = ctx.profile
        answered: Understanding | None = None
        if ctx.pending is not None:
            kind, question = ctx.pending
            updated = clarify.apply_answer(kind, message, ctx.profile)
            if updated is not None:
                eff_profile = updated
                effective = question
                answered = understand(question, profile=eff_profile)
                flags.append(f"clarified:{kind}")

        tri = self._triage(message, turns, eff_profile)
        if tri.label == "ok" and answered is not None:
            tri = self._triage(effective, turns, eff_profile)
        timings.triage_s = time.perf_counter() - t0
        if tri.label != "ok":
            yield from self._fixed_reply(tri, message, session_id, profile, flags, timings, t0)
            return

        u = answered or understand(message, previous=ctx.previous, previous_topic=ctx.topic, profile=eff_profile)
        u = self._bounded(u, flags)
        if answered is None and self.settings.dialogue.ask_clarifying:
            ask = clarify.needed(u.query.standalone, eff_profile, ctx.asked)
            if ask is not None:
                yield from self._fixed_reply(ask, message, session_id, profile, flags, timings, t0, u.query)
                return

        t1 = time.perf_counter()
        hits, search_flags = self._search(u) if hits is None else self._usable(hits)
        flags.extend(search_flags)
        timings.retrieval_s = time.perf_counter() - t1
        yield ReplyEvent("triage", triage=tri)
        sources = tuple(citations_for(hits))
        yield ReplyEvent("sources", citations=sources)

        if not hits:
            flags.append("no_relevant_source")
            if self.retriever is None:
                flags.append("no_index")
            text = prompts.no_source_message(whom_to_ask(u.query.standalone, eff_profile))
            yield ReplyEvent("delta", text=text)
            reply = Reply(text=text, triage=tri, flags=flags, timings=timings, query=u.query)
            yield self._finish(reply, message, session_id, profile, t0)
            return

        gen = generator or self.generator
        mode = self.settings.dialogue.answer_mode
        evidence = Evidence(hits, self.embedder)
        parts: list[str] = []
        generated: list[str] = []  # everything the model wrote, shown or not, for the leak check
        answer = self._answer(mode, gen, u, hits, evidence, eff_profile, prompt_history, timings, t0, flags, generated)
        guard = LeakGuard(
            [prompts.system_prompt(canary=self.canary, lead_only=lead) for lead in (False, True)],
            [self.canary] if self.canary else [],
        )
        leaked = False
        try:
            for delta in answer:
                parts.append(delta)
                if mode == "extractive":  # no model text: nothing to hold back
                    yield ReplyEvent("delta", text=delta)
                    continue
                safe = guard.feed(delta, "".join(generated))
                if guard.leaked:
                    leaked = True
                    break  # stop generating: nothing more of this answer is shown
                if safe:
                    yield ReplyEvent("delta", text=safe)
        finally:
            answer.close()  # type: ignore[attr-defined]  # a generator; closes the model's stream when we stop early
        if not leaked and mode != "extractive":
            rest = guard.flush("".join(generated))
            leaked = guard.leaked
            if rest:
                yield ReplyEvent("delta", text=rest)
        raw = "".join(parts)

        if leaked:
            flags.append("system_prompt_leak")
            # Clients that only read deltas (API event streams) must see the refusal too.
            yield ReplyEvent("delta", text=("\n\n" if guard.emitted else "") + prompts.LEAK_REFUSAL)
            reply = Reply(text=prompts.LEAK_REFUSAL, triage=tri, flags=flags, timings=timings, query=u.query)
            reply.retrieved = self._retrieved(hits)
            yield self._finish(reply, message, session_id, profile, t0)
            return

        grounded = ground(
            raw,
            evidence,
            threshold=self.settings.dialogue.ground_threshold,
            unsupported=self.settings.dialogue.unsupported_sentences,
        )
        flags.extend(grounded.flags)
        text = grounded.text
        if not strip_citations(text).strip():
            text = prompts.ALL_DROPPED_MESSAGE.format(whom=whom_to_ask(u.query.standalone, eff_profile))
        elif grounded.unsupported and self.settings.dialogue.unsupported_sentences == "flag":
            text += "\n\n" + prompts.UNSUPPORTED_NOTE.format(n=grounded.unsupported)
        if mode != "generative":
            notes = prompts.profile_notes(eff_profile, medicine_question=mentions_medicine(u.query.standalone))
            if notes:
                text += "\n\n" + " ".join(notes)
        if eff_profile is not None and not eff_profile.is_empty():
            flags.append("profile_used")
        reply = Reply(
            text=text,
            citations=citations_for(hits, grounded.used_sources),
            grounded_fraction=grounded.grounded_fraction,
            triage=tri,
            flags=flags,
            timings=timings,
            retrieved=self._retrieved(hits),
            query=u.query,
        )
        yield self._finish(reply, message, session_id, profile, t0)

    # ------------------------------------------------------------------ steps

    def _check_message(self, message: str) -> tuple[str, list[str]]:
        if not isinstance(message, str) or not message.strip():
            raise DialogueError("empty message: type a health question")
        flags: list[str] = []
        limit = self.settings.dialogue.max_message_chars
        text = message.strip()
        if len(text) > limit:
            text = text[:limit]
            flags.append("message_truncated")
        return text, flags

    def _turns_and_profile(
        self, session_id: str | None, profile: PatientProfile | None, history: list[ChatMessage] | None
    ) -> tuple[list[ChatMessage], PatientProfile | None, list[str] | None]:
        """Earlier turns, the profile, and the turns' triage labels (None: the client's history,
        whose turns have not been checked by us)."""
        if history is not None:  # the caller owns the conversation (API)
            return list(history), profile, None
        if session_id is None:
            return [], profile, []
        session = self.sessions.snapshot(session_id)
        return session.turns, profile if profile is not None else session.profile, session.labels

    def _replayable(self, turns: list[ChatMessage], labels: list[str] | None) -> list[ChatMessage]:
        """The recent turns that may be replayed: exchanges triaged ``ok``/``clarify``. Session
        turns carry their stored label; a client's history is checked here like a new message
        (user turns: injection check + triage; assistant turns are data: injection patterns,
        instructions or commitments to new behaviour drop them). A dropped turn takes the rest
        of its exchange with it, so the model never sees a question without its answer or an
        answer to a question it can't see (nor a question without its answer)."""
        start = max(0, len(turns) - MAX_CONTEXT_TURNS)
        kept: list[ChatMessage] = []
        user_ok = False
        for i in range(start, len(turns)):
            msg = turns[i]
            if msg.role == "user":
                if kept and kept[-1].role == "user":
                    kept.pop()  # a question without an answer: keep user/assistant turns alternating
                if labels is not None:
                    user_ok = i < len(labels) and labels[i] in _REPLAYABLE
                else:
                    user_ok = (
                        injection_category(msg.content) is None
                        and self._triage(msg.content, [], None).label in _REPLAYABLE
                    )
                if user_ok:
                    kept.append(msg)
            elif msg.role == "assistant":
                if labels is not None:
                    ok = user_ok and i < len(labels) and labels[i] in _REPLAYABLE
                else:
                    ok = user_ok and not _assistant_turn_injected(msg.content)
                if ok:
                    kept.append(msg)
                elif user_ok and kept and kept[-1].role == "user":
                    kept.pop()  # the question whose answer was dropped
                user_ok = False  # any further assistant turn of this exchange is dropped
            # other roles (a client's "system" turn) are never replayed
        if kept and kept[-1].role == "user":
            kept.pop()
        return kept

    def _bounded(self, u: Understanding, flags: list[str]) -> Understanding:
        """``u`` with the retrieval text and the question cut to token budgets, so no message
        within ``dialogue.max_message_chars`` (say, 8,000 characters without a sentence break)
        can overflow ``llm.max_prompt_tokens``."""
        limit = self.settings.llm.max_prompt_tokens - PROMPT_RESERVE_TOKENS
        system = self._count(prompts.system_prompt(canary=self.canary))
        # Half of what the system prompt leaves is for the question, the rest for the sources.
        q_budget = max(MIN_QUESTION_TOKENS, (limit - system) // 2)
        question = self._clip(u.reduced, q_budget)
        standalone = u.query.standalone
        if question != u.reduced or self._count(standalone) > q_budget:
            standalone = self._clip(standalone, q_budget)
        retrieval = self._clip(u.query.retrieval, RETRIEVAL_MAX_TOKENS)
        if (question, standalone, retrieval) == (u.reduced, u.query.standalone, u.query.retrieval):
            return u
        flags.append("question_shortened")
        query = Query(u.query.original, standalone, retrieval)
        return replace(u, query=query, reduced=question)

    def _clip(self, text: str, budget: int) -> str:
        """The longest prefix of ``text`` (cut at a space where there is one) within ``budget`` tokens."""
        if self._count(text) <= budget:
            return text
        lo, hi = 0, len(text)
        while lo < hi:  # binary search on the character length: count_tokens is all we have
            mid = (lo + hi + 1) // 2
            if self._count(text[:mid]) <= budget:
                lo = mid
            else:
                hi = mid - 1
        cut = text[:lo]
        space = cut.rfind(" ")
        if space > lo // 2:
            cut = cut[:space]
        return cut.rstrip()

    def _count(self, text: str) -> int:
        return self.generator.count_tokens(text)

    def _triage(self, message: str, history: Sequence[ChatMessage], profile: PatientProfile | None) -> Triage:
        return self.triage_fn(message, list(history), profile)

    def _usable(self, hits: Sequence[Hit]) -> tuple[list[Hit], list[str]]:
        """Hits above the relevance threshold with poisoned passages removed, and flags."""
        min_score = self.settings.knowledge.min_score
        kept = [h for h in hits if h.score >= min_score]
        clean = [h for h in kept if not poisoned(h.chunk.text)]
        removed = len(kept) - len(clean)
        if removed:
            log.warning("removed %d retrieved passage(s) containing instructions to the assistant", removed)
        return clean[: self.settings.knowledge.top_k], [f"source_injection_removed:{removed}"] if removed else []

    def _search(self, u: Understanding) -> tuple[list[Hit], list[str]]:
        if self.retriever is None:
            return [], []
        # A long message goes in full plus its reduced question; the retriever scores each
        # signal with the better of the two.
        k = self.settings.knowledge.top_k
        if u.reduced != u.query.standalone and u.query.retrieval.startswith(u.reduced):
            terms = u.query.retrieval[len(u.reduced) :]
            text = self._clip(u.query.standalone + terms, RETRIEVAL_MAX_TOKENS)
            hits = self.retriever.search(text, k, question=u.query.retrieval)
        else:
            hits = self.retriever.search(u.query.retrieval, k)
        return self._usable(hits)

    def _fit_sources(
        self, question: str, hits: list[Hit], profile: PatientProfile | None, lead_only: bool
    ) -> list[Hit]:
        """Drop the lowest-ranked sources until system + sources + question fit the prompt."""
        limit = self.settings.llm.max_prompt_tokens - PROMPT_RESERVE_TOKENS
        kept = list(hits)
        system = prompts.system_prompt(canary=self.canary, lead_only=lead_only)
        while len(kept) > 1:
            turn = prompts.user_turn(question, [h.chunk for h in kept], profile)
            if self._count(system) + self._count(turn) <= limit:
                break
            kept.pop()
        return kept

    def _answer(
        self,
        mode: str,
        gen: Generator,
        u: Understanding,
        hits: list[Hit],
        evidence: Evidence,
        profile: PatientProfile | None,
        history: list[ChatMessage],
        timings: Timings,
        t0: float,
        flags: list[str],
        generated: list[str],
    ) -> Iterator[str]:
        question = u.query.standalone if len(u.query.standalone) <= 600 else u.reduced
        question = self._clip(question, max(MIN_QUESTION_TOKENS, self._question_room(u, hits, profile, mode)))
        boost = profile_terms(profile, question)
        if mode == "extractive":
            picked = select_sentences(question, evidence, max_words=EXTRACTIVE_MAX_WORDS, boost_terms=boost)
            timings.first_token_s = time.perf_counter() - t0
            yield prompts.EXTRACTIVE_INTRO + "\n" + _quote(picked)
            return
        lead_only = mode == "hybrid"
        fitted = self._fit_sources(question, hits[:LEAD_SOURCES] if lead_only else hits, profile, lead_only)
        if lead_only:
            messages = prompts.build_messages(
                question, [h.chunk for h in fitted], profile=profile, canary=self.canary, lead_only=True
            )
            params = GenerationParams(max_new_tokens=LEAD_MAX_TOKENS, stop=("\n",))
        else:
            limit = self.settings.llm.max_prompt_tokens - PROMPT_RESERVE_TOKENS
            fixed = prompts.build_messages(question, [h.chunk for h in fitted], profile=profile, canary=self.canary)
            room = limit - sum(self._count(m.content) + 4 for m in fixed)
            hist = trim_history(history, max(0, room), self._count)
            messages = prompts.build_messages(
                question, [h.chunk for h in fitted], profile=profile, history=hist, canary=self.canary
            )
            params = GenerationParams()
        t_gen = time.perf_counter()
        if lead_only:
            # Only the first sentence is kept, and only if it says something: it is buffered
            # (a second or two) so a lead like "The sources are:" never reaches the user.
            buffer = ""
            for delta in gen.stream(messages, params):
                if timings.first_token_s is None:
                    timings.first_token_s = time.perf_counter() - t0
                generated.append(delta)
                buffer += delta
                cut = _first_sentence_end(buffer)
                if cut is not None:
                    buffer = buffer[:cut]
                    break
            lead = buffer.strip() if _usable_lead(buffer) else ""
            if lead and not self._lead_supported(lead, evidence):
                lead = ""  # an unsupported claim must not open the answer, whatever the flag/drop setting
            if not lead:
                flags.append("lead_dropped")
                log.info("hybrid lead dropped: %r", buffer[:200])
            timings.generation_s = time.perf_counter() - t_gen
            timings.tokens_generated = self._count("".join(generated)) if generated else 0
            opening = opening_sentences(evidence, HYBRID_OPENING_WORDS)
            picked = opening + select_sentences(
                question,
                evidence,
                max_words=HYBRID_PICKED_WORDS,
                max_sentences=HYBRID_PICKED_SENTENCES,
                boost_terms=boost,
                exclude=[lead, *(s.text for s in opening)],
                skip=opening,
            )
            picked.sort(key=lambda s: (s.source, s.position))
            if lead:
                yield lead + "\n\n"
            yield prompts.HYBRID_SOURCES_INTRO + "\n" + _quote(picked)
            return
        for delta in gen.stream(messages, params):
            if timings.first_token_s is None:
                timings.first_token_s = time.perf_counter() - t0
            generated.append(delta)
            yield delta
        timings.generation_s = time.perf_counter() - t_gen
        timings.tokens_generated = self._count("".join(generated)) if generated else 0

    def _question_room(self, u: Understanding, hits: list[Hit], profile: PatientProfile | None, mode: str) -> int:
        """Tokens the question may use next to the system prompt and the first source (the
        sources are then fitted around it)."""
        limit = self.settings.llm.max_prompt_tokens - PROMPT_RESERVE_TOKENS
        system = self._count(prompts.system_prompt(canary=self.canary, lead_only=mode == "hybrid"))
        first = self._count(prompts.user_turn("", [h.chunk for h in hits[:1]], profile))
        return limit - system - first - 8

    def _lead_supported(self, lead: str, evidence: Evidence) -> bool:
        body = strip_citations(lead)
        vectors = evidence.encode([body])
        score = evidence.support(body, vectors[0] if vectors is not None else None)[0]
        return bool(evidence.hits) and score >= self.settings.dialogue.ground_threshold

    def _fixed_reply(
        self,
        tri: Triage,
        message: str,
        session_id: str | None,
        profile: PatientProfile | None,
        flags: list[str],
        timings: Timings,
        t0: float,
        query: Query | None = None,
    ) -> Iterator[ReplyEvent]:
        text = tri.message or _fallback_message(tri)
        yield ReplyEvent("triage", triage=tri)
        yield ReplyEvent("sources")
        yield ReplyEvent("delta", text=text)
        flags.append(tri.label if tri.label != "clarify" else f"clarify:{tri.category}")
        reply = Reply(text=text, triage=tri, flags=flags, timings=timings, query=query)
        yield self._finish(reply, message, session_id, profile, t0)

    def _finish(
        self, reply: Reply, message: str, session_id: str | None, profile: PatientProfile | None, t0: float
    ) -> ReplyEvent:
        reply.timings.total_s = time.perf_counter() - t0
        if session_id is not None:
            self.sessions.update(
                session_id,
                turns=[ChatMessage("user", message), ChatMessage("assistant", reply.text)],
                profile=profile,
                label="leak" if "system_prompt_leak" in reply.flags else reply.triage.label,
            )
        return ReplyEvent("done", text=reply.text, triage=reply.triage, citations=tuple(reply.citations), reply=reply)

    @staticmethod
    def _retrieved(hits: Sequence[Hit]) -> list[dict[str, Any]]:
        return [
            {
                "n": n,
                "doc_id": h.chunk.doc_id,
                "chunk_id": h.chunk.id,
                "score": round(float(h.score), 4),
                "title": h.chunk.title,
                "url": h.chunk.url,
                "source": h.chunk.source,
            }
            for n, h in enumerate(hits, 1)
        ]


def _fallback_message(tri: Triage) -> str:
    if tri.label == "clarify":
        return prompts.CLARIFY_FEVER_AGE if tri.category == clarify.FEVER_AGE else prompts.CLARIFY_PREGNANCY
    return prompts.no_source_message(prompts.WHOM_TO_ASK_DEFAULT)


_SENT_END = re.compile(r"[.!?](?:\s*\[\d+(?:\s*,\s*\d+)*\])*(?=\s|$)")


def _first_sentence_end(text: str) -> int | None:
    """End offset of the first complete sentence (with any citation after it) once the text
    after it has started, so "e.g." at the very end is not taken as an end."""
    for m in _SENT_END.finditer(text):
        if len(text[: m.start()].split()) >= 4 and len(text) > m.end():
            return m.end()
    return None


_META_LEAD = re.compile(r"^\W*(?:the |these |here are the )?(?:sources?|references?|question)\b|:\s*$", re.I)


def _usable_lead(text: str) -> bool:
    """A lead sentence worth showing: a claim of a few words, not talk about the sources."""
    lead = strip_citations(text).strip()
    return len(lead.split()) >= 4 and not _META_LEAD.search(lead)


def _assistant_turn_injected(text: str) -> bool:
    """Whether an assistant turn supplied by a client carries instructions (it is data, and the
    model would read it as its own earlier promise)."""
    return (
        injection_category(text) is not None or source_has_injection(text) or bool(_ASSISTANT_COMMITMENT.search(text))
    )


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

    def flush(self, extra: str = "") -> str:
        """The held-back rest once the model has finished, unless the whole text leaks."""
        if self.leaked or self._check(extra):
            return ""
        out = self.text[self.emitted :]
        self.emitted = len(self.text)
        return out


_LIST_MARKER = re.compile(r"^(?:[-*\u2022]\s+)+")


def _quote(sentences: Sequence[Any]) -> str:
    # A passage's own list item ("- Follow a written action plan") would show as "- - ...".
    return "\n".join(f"- {_LIST_MARKER.sub('', s.text)} [{s.source}]" for s in sentences)


__all__ = ["DialogueError", "DialogueService", "LeakGuard", "conversation_context", "poisoned"]
