"""The answer modes, one function each behind :data:`ANSWER_MODES`.

``extractive`` quotes passage sentences (no model); ``hybrid`` lets the model write one
plain-language lead sentence and quotes the passages after it; ``generative`` lets the model
write the whole answer. Each yields the answer's text in pieces; the service guards, grounds
and finishes it. A new mode is one function and one table entry.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from chatbot import prompts
from chatbot.faithfulness import judge_any
from chatbot.faithfulness_lexicon import ANSWER_OPENER
from chatbot.faithfulness_text import normalize
from chatbot.grounding import (
    Evidence,
    PassageSentence,
    attach,
    ground,
    opening_sentences,
    select_sentences,
    strip_citations,
    topic,
)
from chatbot.llm.base import GenerationParams, Generator
from chatbot.planning import (
    ANAPHORIC,
    CARE_THRESHOLD,
    EMERGENCY_LINE,
    TYPE_CUES,
    about_topic,
    for_someone_else,
    names_rare_word,
    planned_lead,
    primary_document,
)
from chatbot.query import mentions_medicine, profile_terms
from chatbot.types import ChatMessage, PatientProfile, Timings

if TYPE_CHECKING:
    from chatbot.dialogue.budget import PromptBudget
    from chatbot.query import Understanding
    from chatbot.question_type import QuestionType
    from knowledge.documents import Hit

log = logging.getLogger("chatbot.dialogue")

LEAD_MAX_TOKENS = 48
LEAD_SOURCES = 3  # the lead sentence needs only the best passages; a shorter prompt is faster
# Hybrid quotes the best passage's opening first, then the sentences closest to the question:
# on the LiveQA dev questions this beat picking every sentence by similarity on ROUGE-L (the
# opening keeps the reference's own overview) at the same embedding similarity; see README.
HYBRID_OPENING_WORDS = 40
HYBRID_PICKED_WORDS = 50
HYBRID_PICKED_SENTENCES = 2
EXTRACTIVE_MAX_WORDS = 90


@dataclass
class AnswerJob:
    """Everything an answer mode needs; ``flags``, ``timings`` and ``generated`` are written to."""

    generator: Generator
    understanding: Understanding
    hits: list[Hit]
    evidence: Evidence
    profile: PatientProfile | None
    history: list[ChatMessage]
    budget: PromptBudget
    qtype: QuestionType
    timings: Timings
    t0: float
    flags: list[str]
    generated: list[str]  # everything the model wrote, shown or not, for the leak check
    unsupported: str = "drop"  # the dialogue's unsupported_sentences setting
    # Set by the service: True once the model's raw text leaks its instructions, so a mode that
    # buffers text before showing it still stops the model at once.
    leaked: Callable[[str], bool] | None = None

    def first_token(self) -> None:
        if self.timings.first_token_s is None:
            self.timings.first_token_s = time.perf_counter() - self.t0

    def count_generated(self) -> None:
        self.timings.tokens_generated = self.budget.count("".join(self.generated)) if self.generated else 0

    def elsewhere(self) -> list[PassageSentence]:
        """Passage sentences only about someone other than the person asked about (adults, for a
        question about a child): never quoted in this answer."""
        population = self.qtype.population
        group = self.profile.group if self.profile else None
        if population is None and group in ("infant", "child", "teen"):
            population = "child"
        if population is None and self.profile is not None and self.profile.pregnant:
            population = "pregnancy"
        primary = primary_document(self.evidence.hits, self.understanding.topic)  # once, not per sentence
        return [
            s for s in self.evidence.sentences if for_someone_else(s.text, population) or self._off_document(s, primary)
        ]

    def _off_document(self, s: PassageSentence, primary: str | None) -> bool:
        """A sentence of another document than the one the question is about, unless the patient
        named that document ("is it the flu?") or the sentence names a rare word of the question
        ("ibuprofen"). Another condition's care threshold is never borrowed: a concussion's "if
        headaches last more than two weeks" is not advice for a three-day headache, nor flu
        self-care ("until the fever has gone") for morning sickness."""
        chunk = self.evidence.hits[s.source - 1].chunk
        if chunk.doc_id == primary:
            return False
        asked = self.understanding.query.standalone
        if names_rare_word(asked, topic(chunk)):  # the patient named that document ("the flu")
            return False
        if EMERGENCY_LINE.match(s.text):
            return False  # when in doubt, escalate: another topic's emergency signs may be shown
        # about that document's own condition ("Concussion symptoms can appear ... headache")
        own = names_rare_word(s.text, topic(chunk))
        return own or bool(CARE_THRESHOLD.match(s.text)) or not names_rare_word(s.text, asked)


def extractive(job: AnswerJob) -> Iterator[str]:
    question = job.budget.question(job.understanding, job.hits, job.profile, lead_only=False)
    boost = profile_terms(job.profile, question)
    # The sentence that answers the question's type comes first (for "should I worry", when to get care).
    elsewhere = job.elsewhere()
    planned = planned_lead(question, job.qtype, job.evidence, job.understanding.topic, avoid=elsewhere)
    first = [planned] if planned is not None else []
    picked = first + select_sentences(
        question,
        job.evidence,
        max_words=EXTRACTIVE_MAX_WORDS,
        boost_terms=boost,
        skip=first + elsewhere,
        exclude=[s.text for s in first],
        sources=_on_topic(job),
    )
    job.first_token()
    picked = without_dangling(picked)
    if picked:  # nothing to quote: the service says the sources do not cover it
        yield prompts.EXTRACTIVE_INTRO + "\n" + quote(picked)


def hybrid(job: AnswerJob) -> Iterator[str]:
    question = job.budget.question(job.understanding, job.hits, job.profile, lead_only=True)
    fitted = job.budget.fit_sources(question, job.hits[:LEAD_SOURCES], job.profile, lead_only=True)
    messages = prompts.build_messages(
        question, [h.chunk for h in fitted], profile=job.profile, canary=job.budget.canary, lead_only=True
    )
    t_gen = time.perf_counter()
    # Only the first sentence is kept, and only if it says something: it is buffered (a second
    # or two) so a lead like "The sources are:" never reaches the user.
    buffer = ""
    for delta in job.generator.stream(messages, GenerationParams(max_new_tokens=LEAD_MAX_TOKENS, stop=("\n",))):
        job.first_token()
        job.generated.append(delta)
        buffer += delta
        cut = first_sentence_end(buffer)
        if cut is not None:
            buffer = buffer[:cut]
            break
    job.timings.generation_s = time.perf_counter() - t_gen
    job.count_generated()
    lead = _checked_lead(job, buffer, question, fitted)
    elsewhere = job.elsewhere()
    planned = None if lead else planned_lead(question, job.qtype, job.evidence, job.understanding.topic, elsewhere)
    boost = profile_terms(job.profile, question)
    opening = [s for s in opening_sentences(job.evidence, HYBRID_OPENING_WORDS) if s not in elsewhere]
    skip = [*opening, *([planned] if planned else []), *elsewhere]
    picked = opening + select_sentences(
        question,
        job.evidence,
        max_words=HYBRID_PICKED_WORDS,
        max_sentences=HYBRID_PICKED_SENTENCES,
        boost_terms=boost,
        exclude=[lead or (planned.text if planned else ""), *(s.text for s in opening)],
        skip=skip,
        sources=_on_topic(job),
    )
    if planned is not None:
        job.flags.append("lead_from_source")
        picked = [s for s in picked if (s.source, s.position) != (planned.source, planned.position)]
        lead = f"{planned.text.rstrip()} [{planned.source}]"
    # The planned lead's own source is quoted first, so the sentence after it in the passage
    # ("It is usually defined as below 70 mg/dL") still follows what "It" stands for.
    first_source = planned.source if planned is not None else 0
    picked.sort(key=lambda s: (s.source != first_source, s.source, s.position))
    picked = without_dangling(picked, after=planned)
    if lead:
        yield lead + ("\n\n" if picked else "")
    if picked:  # never a heading with nothing under it
        yield prompts.HYBRID_SOURCES_INTRO + "\n" + quote(picked)


def _on_topic(job: AnswerJob) -> set[int] | None:
    """The sources that name the question's topic; None (all) when none does or there is none:
    a quote about pneumonia does not belong in an answer about asthma."""
    topic_ = job.understanding.topic
    keep = {n for n, h in enumerate(job.hits, 1) if about_topic(f"{h.chunk.title} {h.chunk.text}", topic_)}
    return keep or None


def without_dangling(picked: list[PassageSentence], after: PassageSentence | None = None) -> list[PassageSentence]:
    """Drop a quoted sentence that opens with a pronoun ("It", "They") unless it comes right
    after an earlier sentence of its own passage: shown after another source's line, "It is
    usually defined as below 70 mg/dL" reads as being about glucagon."""
    out: list[PassageSentence] = []
    before = after
    for s in picked:
        # after an earlier line of its own source ("These can be signs of sepsis" after the list)
        follows = before is not None and before.source == s.source and before.position < s.position
        # a list item whose lead-in was in another chunk starts in lower case: a fragment
        if (ANAPHORIC.match(s.text) and not follows) or _LIST_MARKER.sub("", s.text)[:1].islower():
            continue
        out.append(s)
        before = s
    return out


def _checked_lead(job: AnswerJob, buffer: str, question: str, fitted: Sequence[Hit]) -> str:
    """The model's lead when the faithfulness checker finds it supported by one of the lead's
    sources, else "" (a care question's lead must also say when to get care)."""
    lead = buffer.strip() if usable_lead(buffer) else ""
    verdict = None
    if lead:
        body = strip_citations(lead)
        vectors = job.evidence.encode([body])
        dense = job.evidence.dense(vectors[0] if vectors is not None else None)
        i, verdict = judge_any(
            body,
            [h.chunk.text for h in fitted],
            question=question,
            topics=[topic(h.chunk) for h in fitted],
            similarities=dense[: len(fitted)] if dense is not None else (),
        )
        src = fitted[i].chunk if verdict.supported else None
        if src is None or (job.qtype.label == "care" and not TYPE_CUES["care"].search(normalize(lead))):
            lead = ""  # a claim the sources do not make must not open the answer
        elif not about_topic(f"{body} {src.title}", job.understanding.topic):
            lead = ""  # true of another passage's subject ("Measles is highly contagious" for eczema)
            verdict = replace(verdict, verdict="unsupported", reason="off_topic")
        elif src.doc_id != primary_document(fitted, job.understanding.topic):
            # True of another document's situation: pain relief in pregnancy opening an answer
            # about nausea in pregnancy (hand audit v2, P15); the planned lead comes from the right one.
            lead = ""
            verdict = replace(verdict, verdict="unsupported", reason="other_document")
        else:
            # "Yes"/"No" alone answers nothing a patient can check: the checked statement stays,
            # cited to the source that supports it (the model's own [n] may point elsewhere).
            rest = _OPENER.sub("", body).strip()
            body = rest[:1].upper() + rest[1:] if rest != body and len(rest.split()) >= 4 else body
            lead = attach(body, f" [{i + 1}]")
    if not lead:
        job.flags.append("lead_dropped")
        log.info("hybrid lead dropped (%s): %r", verdict.reason if verdict else "unusable", buffer[:200])
    return lead


def generative(job: AnswerJob) -> Iterator[str]:
    question = job.budget.question(job.understanding, job.hits, job.profile, lead_only=False)
    chunks = [h.chunk for h in job.budget.fit_sources(question, job.hits, job.profile, lead_only=False)]
    canary = job.budget.canary
    fixed = prompts.build_messages(question, chunks, profile=job.profile, canary=canary)
    history = job.budget.history(fixed, job.history)
    messages = prompts.build_messages(question, chunks, profile=job.profile, history=history, canary=canary)
    t_gen = time.perf_counter()

    def deltas() -> Iterator[str]:
        stream = job.generator.stream(messages, GenerationParams())
        try:
            for delta in stream:
                job.first_token()
                job.generated.append(delta)
                if job.leaked is not None and job.leaked("".join(job.generated)):
                    return  # nothing after a leak is checked or shown; the service refuses
                yield delta
        finally:
            stream.close()  # type: ignore[attr-defined]  # a generator: stops the model

    # The patient sees the model's answer a sentence at a time, each checked against the
    # sources first: a sentence the checker rejects never reaches the screen, even for a moment.
    yield from checked_sentences(job, deltas())
    job.timings.generation_s = time.perf_counter() - t_gen
    job.count_generated()


def _next_cut(text: str) -> int | None:
    """Where the first complete unit of ``text`` ends: a sentence (with its citations) or a line."""
    cut = first_sentence_end(text)
    newline = text.find("\n", len(text) - len(text.lstrip()))
    if newline != -1 and (cut is None or newline < cut) and text[:newline].strip():
        return newline
    return cut


def checked_sentences(job: AnswerJob, deltas: Iterator[str]) -> Iterator[str]:
    """Model text re-emitted unit by unit, each unit grounded (citations fixed, an unsupported
    or contradicted sentence dropped) before it is yielded; spacing between kept units is kept."""
    question = job.understanding.query.standalone
    buffer, emitted, pending = "", False, ""
    counts: dict[str, int] = {}  # the per-unit grounding flags, summed ("dropped:2")

    def check(piece: str) -> str:
        nonlocal emitted, pending
        body = piece.strip()
        # A withheld unit's paragraph break still separates what comes before and after it.
        lead = piece[: len(piece) - len(piece.lstrip())]
        pending = lead if lead.count("\n") >= pending.count("\n") else pending
        if not body:
            return ""
        grounded = ground(
            body, job.evidence, unsupported="drop" if job.unsupported == "drop" else "flag", question=question
        )
        for flag in filter(None, grounded.flags):
            key, _, n = flag.partition(":")
            counts[key] = counts.get(key, 0) + int(n or 1)
        if not grounded.text.strip():
            return ""
        space = pending if emitted else ""
        emitted, pending = True, ""
        return space + grounded.text.strip()

    for delta in deltas:
        buffer += delta
        while (cut := _next_cut(buffer)) is not None:
            piece, buffer = buffer[:cut], buffer[cut:]
            shown = check(piece)
            if shown:
                yield shown
    leaked = job.leaked is not None and job.leaked("".join(job.generated))
    shown = "" if leaked else check(buffer)
    if shown:
        yield shown
    job.flags.extend(f"{key}:{n}" for key, n in counts.items())


ANSWER_MODES: dict[str, Callable[[AnswerJob], Iterator[str]]] = {
    "extractive": extractive,
    "hybrid": hybrid,
    "generative": generative,
}
# Modes whose text the model wrote: streamed through the leak guard.
MODEL_MODES = frozenset({"hybrid", "generative"})


def whom_to_ask(question: str, profile: PatientProfile | None) -> str:
    p = profile or PatientProfile()
    if p.pregnant or re.search(r"\bpregnan", question, re.I):
        return prompts.WHOM_TO_ASK_PREGNANCY
    if mentions_medicine(question):
        return prompts.WHOM_TO_ASK_MEDICINE
    if p.group in ("infant", "child"):
        return prompts.WHOM_TO_ASK_CHILD
    if re.search(r"\b(?:baby|child|kid|toddler|son|daughter|infant)s?\b", question, re.I):
        return prompts.WHOM_TO_ASK_CHILD
    return prompts.WHOM_TO_ASK_DEFAULT


_SENT_END = re.compile(r"[.!?](?:\s*\[\d+(?:\s*,\s*\d+)*\])*(?=\s|$)")


def first_sentence_end(text: str) -> int | None:
    """End offset of the first complete sentence (with any citation after it) once the text
    after it has started, so "e.g." at the very end is not taken as an end."""
    for m in _SENT_END.finditer(text):
        if len(text[: m.start()].split()) >= 4 and len(text) > m.end():
            return m.end()
    return None


_META_LEAD = re.compile(r"^\W*(?:the |these |here are the )?(?:sources?|references?|question)\b|:\s*$", re.I)


def usable_lead(text: str) -> bool:
    """A lead sentence worth showing: a claim of a few words, not talk about the sources, and a
    sentence, not a source's heading ("Hay fever (allergic rhinitis) — Treatment overview")."""
    lead = strip_citations(text).strip()
    heading = "—" in lead or not lead.endswith((".", "!", "?"))
    return len(lead.split()) >= 4 and not _META_LEAD.search(lead) and not heading


_OPENER = re.compile(ANSWER_OPENER.pattern, re.I)
_LIST_MARKER = re.compile(r"^(?:[-*\u2022]\s+)+")


def quote(sentences: Sequence[Any]) -> str:
    # A passage's own list item ("- Follow a written action plan") would show as "- - ...".
    return "\n".join(f"- {_LIST_MARKER.sub('', s.text)} [{s.source}]" for s in sentences)


__all__ = ["ANSWER_MODES", "MODEL_MODES", "AnswerJob", "quote", "whom_to_ask"]
