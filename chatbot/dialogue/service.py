"""The dialogue service: the one port every front end calls for a chat turn.

One turn: safety triage -> (clarifying question?) -> query understanding -> retrieval ->
answer mode (prompt, streamed generation) -> output guard -> grounding check ->
:class:`~chatbot.types.Reply`. This module orchestrates; each step lives in its own module:
:mod:`.history` (earlier turns), :mod:`.budget` (token budgets), :mod:`.answers` (the modes),
:mod:`chatbot.safety.output` (leak guard, poisoned passages, injected assistant turns).

Design choices:
* Red flags short-circuit: an emergency reply is the fixed emergency guidance only, with no
  retrieval and no generated text after it, so the instruction to get help is unmistakable and
  arrives instantly. Harmful, off-topic and injection messages likewise get their fixed reply.
* Below ``knowledge.min_score`` the bot says its sources don't cover the question and whom to
  ask; nothing is generated.
* ``dialogue.answer_mode``: see :mod:`.answers`. Hybrid is the default: the 135M embedded
  model's own answers are slow and often unsupported, and a hybrid lead that is not a
  supported claim is dropped; ``benchmarks/answers_liveqa.py`` measures the modes.
* Retrieved passages that contain instructions to the assistant are removed before prompting.
"""

from __future__ import annotations

import time
from collections.abc import Generator as Coroutine
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol, Unpack

from chatbot import clarify, prompts
from chatbot.dialogue.answers import ANSWER_MODES, MODEL_MODES, AnswerJob, whom_to_ask
from chatbot.dialogue.budget import PromptBudget
from chatbot.dialogue.history import TriageFn, conversation_context, replayable
from chatbot.dialogue.passages import PassageFinder
from chatbot.dialogue.turn import Turn, TurnOptions, TurnState
from chatbot.errors import HealthbotError
from chatbot.grounding import Evidence, citations_for, ground
from chatbot.llm.base import Generator
from chatbot.query import mentions_medicine, understand
from chatbot.question_type import detect as detect_question_type
from chatbot.safety import triage as safety_triage
from chatbot.safety.output import LeakGuard
from chatbot.sessions import SessionStore, trim_history
from chatbot.types import ChatMessage, PatientProfile, Query, Reply, ReplyEvent, Triage

if TYPE_CHECKING:
    from chatbot.settings import Settings
    from knowledge.documents import Hit
    from knowledge.embedding import Embedder
    from knowledge.retrieval import Retriever


class DialogueError(HealthbotError, ValueError):
    """A chat message that can't be processed (empty); the message says what to do."""


class ChatService(Protocol):
    """The port the front ends (UI, API, CLI, batch) call: :class:`DialogueService` implements it."""

    def stream(self, turn: Turn | str, /, **options: Unpack[TurnOptions]) -> Iterator[ReplyEvent]: ...

    def reply(self, turn: Turn | str, /, **options: Unpack[TurnOptions]) -> Reply: ...

    def reset(self, session_id: str) -> None: ...


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
        self.budget = PromptBudget(
            lambda text: self.generator.count_tokens(text), settings.llm.max_prompt_tokens, canary
        )
        self.passages = PassageFinder(settings, retriever, self.budget)

    @classmethod
    def from_settings(cls, settings: Settings) -> DialogueService:
        """Real backends from settings; the index must exist (``python -m chatbot prepare``)."""
        from chatbot.services import build_generator, build_triage
        from knowledge.embedding import build_embedder
        from knowledge.index import load_retriever

        retriever = load_retriever(settings)
        # The retriever already loaded the embedder its index was built with; share it.
        embedder = getattr(retriever, "embedder", None) or build_embedder(settings.embedding)
        return cls(
            settings,
            generator=build_generator(settings),
            retriever=retriever,
            embedder=embedder,
            triage=build_triage(settings, embedder),
        )

    # ------------------------------------------------------------------ the port

    def reply(self, turn: Turn | str, /, **options: Unpack[TurnOptions]) -> Reply:
        final: Reply | None = None
        for event in self.stream(turn, **options):
            if event.kind == "done":
                final = event.reply
        assert final is not None  # stream always ends with "done"
        return final

    def retrieve(self, turn: Turn | str, /, **options: Unpack[TurnOptions]) -> tuple[Query, list[Hit]]:
        """The query and the passages a turn would use (no triage, no generation), so two
        configurations can be compared over the same passages."""
        state = self._start(Turn.of(turn, **options))
        ctx = conversation_context(state.prompt_history, state.profile)
        u = understand(state.message, previous=ctx.previous, previous_topic=ctx.topic, profile=ctx.profile)
        return u.query, self.passages.search(self.budget.bounded(u, []))[0]

    def reset(self, session_id: str) -> None:
        self.sessions.reset(session_id)

    def stream(self, turn: Turn | str, /, **options: Unpack[TurnOptions]) -> Iterator[ReplyEvent]:
        """Events of one turn, in order: triage, sources, delta*, done."""
        state = self._start(Turn.of(turn, **options))
        tri, fixed = self._gate(state)
        if fixed is not None:
            yield from self._fixed_reply(state, fixed)
            return
        t1 = time.perf_counter()
        assert state.understanding is not None
        found, hits, search_flags = self.passages.find(state.understanding, state.previous, state.turn.hits)
        state.flags.extend(search_flags)
        state.timings.retrieval_s = time.perf_counter() - t1
        yield ReplyEvent("triage", triage=tri)
        yield ReplyEvent("sources", citations=tuple(citations_for(hits)))
        note = _care_note(tri)
        if note:  # needs a clinician today: said first, before any quoted text
            yield ReplyEvent("delta", text=note)
        if not hits:
            state.flags.append("no_relevant_source")
            if self.retriever is None:
                state.flags.append("no_index")
            text = prompts.no_source_message(self._whom(state))
            yield ReplyEvent("delta", text=text)
            # What the retriever found stays on record (the flags say it was about something else).
            reply = Reply(text=text, triage=tri, flags=state.flags, timings=state.timings, retrieved=_retrieved(found))
            yield self._finish(state, reply)
            return
        evidence = Evidence(hits, self.embedder)
        generated: list[str] = []
        parts: list[str] = []
        job = self._job(state, hits, evidence, generated)
        guarded = yield from self._guarded(job, parts, generated)
        if not guarded:
            state.flags.append("system_prompt_leak")
            text = prompts.LEAK_REFUSAL
            reply = Reply(text=text, triage=tri, flags=state.flags, timings=state.timings, retrieved=_retrieved(hits))
        else:
            reply = self._grounded(state, "".join(parts), job, tri)
        yield self._finish(state, reply)

    # ------------------------------------------------------------------ steps

    def _start(self, turn: Turn) -> TurnState:
        """Check the message; load earlier turns and keep the ones that may be replayed."""
        if not isinstance(turn.message, str) or not turn.message.strip():
            raise DialogueError("empty message: type a health question")
        state = TurnState(turn, turn.message.strip(), [])
        limit = self.settings.dialogue.max_message_chars
        if len(state.message) > limit:
            state.message = state.message[:limit]
            state.flags.append("message_truncated")
        labels: list[str] | None = None  # None: a client's history, whose turns we have not checked
        state.profile = turn.profile
        if turn.history is not None:
            state.turns = list(turn.history)
        elif turn.session_id is not None:
            session = self.sessions.snapshot(turn.session_id)
            state.turns, labels = session.turns, session.labels
            state.profile = turn.profile if turn.profile is not None else session.profile
        else:
            labels = []
        # Only exchanges that were answered normally are replayed, to the context and to the model:
        # a refused attack, or words a client put in the assistant's mouth, must not come back.
        state.prompt_history = replayable(state.turns, labels, self._triage)
        return state

    def _gate(self, state: TurnState) -> tuple[Triage, Triage | None]:
        """Triage (and a clarifying question): the turn's triage and, when the reply is fixed
        text (emergency, refusal, redirect, clarifying question), the triage that says so."""
        ctx = conversation_context(state.prompt_history, state.profile)
        state.profile = ctx.profile
        message, answered, effective = state.message, None, state.message
        if ctx.pending is not None:  # a reply to our clarifying question: answer the question it was about
            kind, question = ctx.pending
            updated = clarify.apply_answer(kind, message, ctx.profile)
            if updated is not None:
                state.profile, effective = updated, question
                answered = understand(question, profile=updated)
                state.flags.append(f"clarified:{kind}")
        tri = self._triage(message, state.turns, state.profile)
        if tri.label == "ok" and answered is not None:
            tri = self._triage(effective, state.turns, state.profile)
        state.timings.triage_s = time.perf_counter() - state.t0
        if tri.label != "ok":
            return tri, tri
        u = answered or understand(message, previous=ctx.previous, previous_topic=ctx.topic, profile=state.profile)
        state.previous = ctx.previous if answered is None else None
        state.understanding = self.budget.bounded(u, state.flags)
        trim = self.settings.dialogue.history_token_budget
        state.prompt_history = trim_history(state.prompt_history, trim, self.budget.count)
        if answered is None and self.settings.dialogue.ask_clarifying:
            ask = clarify.needed(state.understanding.query.standalone, state.profile, ctx.asked)
            if ask is not None:
                return tri, ask
        return tri, None

    def _job(self, state: TurnState, hits: list[Hit], evidence: Evidence, generated: list[str]) -> AnswerJob:
        assert state.understanding is not None
        return AnswerJob(
            generator=state.turn.generator or self.generator,
            understanding=state.understanding,
            hits=hits,
            evidence=evidence,
            profile=state.profile,
            history=state.prompt_history,
            budget=self.budget,
            qtype=detect_question_type(state.understanding.query.standalone),
            timings=state.timings,
            t0=state.t0,
            flags=state.flags,
            generated=generated,
            unsupported=self.settings.dialogue.unsupported_sentences,
        )

    def _guarded(self, job: AnswerJob, parts: list[str], generated: list[str]) -> Coroutine[ReplyEvent, None, bool]:
        """Stream the answer mode's text through the leak guard; False when the model leaked
        its instructions (nothing more of the answer is shown, the refusal is)."""
        mode = self.settings.dialogue.answer_mode
        answer = ANSWER_MODES[mode](job)
        if mode not in MODEL_MODES:  # no model text: nothing to hold back
            for delta in answer:
                parts.append(delta)
                yield ReplyEvent("delta", text=delta)
            return True
        guard = LeakGuard(
            [prompts.system_prompt(canary=self.canary, lead_only=lead) for lead in (False, True)],
            [self.canary] if self.canary else [],
        )
        job.leaked = guard.leaks
        try:
            for delta in answer:
                parts.append(delta)
                safe = guard.feed(delta, "".join(generated))
                if guard.leaked:
                    break  # stop generating: nothing more of this answer is shown
                if safe:
                    yield ReplyEvent("delta", text=safe)
        finally:
            answer.close()  # type: ignore[attr-defined]  # a generator; closes the model's stream when we stop early
        rest = "" if guard.leaked else guard.flush("".join(generated))
        if rest:
            yield ReplyEvent("delta", text=rest)
        if guard.leaked:
            # Clients that only read deltas (API event streams) must see the refusal too.
            yield ReplyEvent("delta", text=("\n\n" if guard.emitted else "") + prompts.LEAK_REFUSAL)
            return False
        return True

    def _grounded(self, state: TurnState, raw: str, job: AnswerJob, tri: Triage) -> Reply:
        """The checked answer: unsupported sentences flagged or dropped, profile notes added.
        When no checked claim of the model's is left (only a lead-in such as "follow these
        steps:"), the sources' own sentences answer instead: show less, cite more."""
        d, evidence = self.settings.dialogue, job.evidence
        assert state.understanding is not None
        question = state.understanding.query.standalone
        grounded = ground(raw, evidence, unsupported=d.unsupported_sentences, question=question)
        state.flags.extend(grounded.flags)
        if d.answer_mode != "extractive" and not any(
            s.support is not None and not s.dropped for s in grounded.sentences
        ):
            state.flags.append("answer_from_sources")
            grounded = ground("".join(ANSWER_MODES["extractive"](job)), evidence, unsupported="drop", question=question)
            state.flags.extend(f for f in grounded.flags if f not in state.flags)
        text = grounded.text
        if not any(s.support is not None and not s.dropped for s in grounded.sentences):  # only a lead-in left
            text = prompts.ALL_DROPPED_MESSAGE.format(whom=self._whom(state))
        elif grounded.unsupported and d.unsupported_sentences == "flag":
            text += "\n\n" + prompts.UNSUPPORTED_NOTE.format(n=grounded.unsupported)
        if d.answer_mode != "generative":
            notes = prompts.profile_notes(state.profile, medicine_question=mentions_medicine(question))
            if notes:
                text += "\n\n" + " ".join(notes)
        if state.profile is not None and not state.profile.is_empty():
            state.flags.append("profile_used")
        return Reply(
            text=text,
            citations=citations_for(evidence.hits, grounded.used_sources),
            grounded_fraction=grounded.grounded_fraction,
            triage=tri,
            flags=state.flags,
            timings=state.timings,
            retrieved=_retrieved(evidence.hits),
            checks=[s.record() for s in grounded.sentences],
        )

    def _whom(self, state: TurnState) -> str:
        assert state.understanding is not None
        return whom_to_ask(state.understanding.query.standalone, state.profile)

    def _triage(self, message: str, history: Sequence[ChatMessage], profile: PatientProfile | None) -> Triage:
        return self.triage_fn(message, list(history), profile)

    def _fixed_reply(self, state: TurnState, tri: Triage) -> Iterator[ReplyEvent]:
        text = tri.message or _fallback_message(tri)
        yield ReplyEvent("triage", triage=tri)
        yield ReplyEvent("sources")
        yield ReplyEvent("delta", text=text)
        state.flags.append(tri.label if tri.label != "clarify" else f"clarify:{tri.category}")
        yield self._finish(state, Reply(text=text, triage=tri, flags=state.flags, timings=state.timings))

    def _finish(self, state: TurnState, reply: Reply) -> ReplyEvent:
        reply.query = state.query
        note = _care_note(reply.triage)
        if note:
            reply.text = note + reply.text
            reply.flags.append("same_day_care")
        reply.timings.total_s = time.perf_counter() - state.t0
        if state.session_id is not None:
            self.sessions.update(
                state.session_id,
                turns=[ChatMessage("user", state.message), ChatMessage("assistant", reply.text)],
                profile=state.turn.profile,
                label="leak" if "system_prompt_leak" in reply.flags else reply.triage.label,
            )
        return ReplyEvent("done", text=reply.text, triage=reply.triage, citations=tuple(reply.citations), reply=reply)


def _care_note(tri: Triage) -> str:
    """The same-day note (with its paragraph break) an answered message opens with, or ""."""
    if tri.label == "ok" and tri.care == "same_day":
        return prompts.same_day_note(tri.language) + "\n\n"
    return ""


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


__all__ = ["ChatService", "DialogueError", "DialogueService"]
