"""Faithfulness: does the passage a sentence cites say what the sentence says?

:func:`judge` decides ``supported | unsupported | contradicted`` for one shown sentence against
one passage. Similarity cannot see a flipped negation, a changed duration or a trigger called a
treatment, so the decision is made of explicit checks, each of which can fail the sentence:

1. the sentence must be a statement, not the patient's question or situation echoed back and
   not in the first person (a yes/no opener is stripped: the statement after it is checked);
   a passage's own words are supported as they stand, and a degenerate generation (a word or
   phrase said twice in a row, a sentence cut off on "the") is not;
2. it is aligned to the passage unit that covers most of its content words (a sentence, two
   neighbouring sentences, or a list item with its lead-in line "See a doctor soon if:");
3. against that unit and the passage: no unconditional claim about the patient; reassurance must
   not replace care advice; numbers with their units and bounds must match ("more than three
   weeks", "48 hours" = "2 days"); what either side negates must not be asserted by the other;
   no word may be replaced by its antonym; the role the passage gives a thing (trigger /
   treatment / cause / prevention) must be kept; no absolute claim where the passage hedges;
4. what is left is "does the passage say this, in other words?": a small logistic model over
   word coverage, words the passage never uses and (when an embedder is there) the embedding
   similarity decides (:mod:`chatbot.faithfulness_model`).

Rules and the model were tuned on the dev side only (``tests/data/faithfulness_dev.jsonl`` and
``faithfulness_train.jsonl``);
``benchmarks/faithfulness.py`` reports the frozen held-out part. The vocabulary is declarative
and lives in :mod:`chatbot.faithfulness_lexicon`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from chatbot import faithfulness_model
from chatbot.faithfulness_lexicon import (
    ABSOLUTE,
    ANSWER_OPENER,
    ANTONYMS,
    CARE_CUE,
    CARE_LEVEL_CUES,
    CLAUSE_BREAK,
    CONDITIONAL,
    GENERIC,
    HEDGES,
    HOURS,
    LOWER_BOUND,
    NEGATION,
    NEGATION_SCOPE,
    REASSURANCE,
    ROLES,
    STOP,
    STRENGTH,
    UNITS,
    UPPER_BOUND,
    USER_CLAIM,
)
from chatbot.faithfulness_text import content, normalize, passage_units, stem, tokens

Verdict = Literal["supported", "unsupported", "contradicted"]

ECHO_SHARE = 0.8  # share of the sentence's content words taken from the question
# A sentence whose words all come from one passage sentence, in its order, says what it says
# (once every rule above has passed it): no model needed.
STRONG_MATCH = 0.9
STRONG_ORDER = 0.6  # "asthma narrows the airways" for "the airways narrow": 2 of 3 in order

# The marks of a degenerate generation: a word or a two-word phrase said twice in a row ("fluids
# fluids", "options include options include"), a four-word phrase said twice, or a sentence that
# stops on a word that needs a continuation ("...clean until the [1].").
_STUTTER = re.compile(r"\b([a-z]+(?: [a-z]+)?) \1\b")
# ("...what it is used for", "...where it comes from" end well: only words that never end one.)
_DANGLING = frozenset({"the", "a", "an", "of", "with", "and", "or", "until", "your", "their", "its"})


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    reason: str  # "ok", "verbatim", "negation", "number 3 week", "echo", "paraphrase p=0.31", ...
    unit: str = ""  # the passage text the sentence was checked against
    coverage: float = 0.0

    @property
    def supported(self) -> bool:
        return self.verdict == "supported"


# ------------------------------------------------------------------ the checks


def _numbers(words: Sequence[str]) -> list[tuple[float, float, str, str]]:
    """(value, hours, unit, bound) per number: (3, 504, "hour", ">") for "more than three
    weeks"; durations also in hours, so that "12 months" is "a year" and "48 hours" "2 days"."""
    out = []
    for i, w in enumerate(words):
        if not w[0].isdigit():
            continue
        try:
            value = float(w)
        except ValueError:
            continue
        # A range's first number takes the range's unit: "seven to ten days".
        ahead = (
            words[i + 3 : i + 5]
            if len(words) > i + 2 and words[i + 1] in ("to", "or", "and") and words[i + 2][0].isdigit()
            else words[i + 1 : i + 3]
        )
        unit = next((UNITS[x] for x in ahead if x in UNITS), "")
        hours = value * HOURS[unit] if unit in HOURS else value
        before = " ".join(words[max(0, i - 3) : i])
        bound = ">" if LOWER_BOUND.search(before) else "<" if UPPER_BOUND.search(before) else ""
        out.append((value, hours, "hour" if unit in HOURS else unit, bound))
    return out


def _same(a: float, b: float, duration: bool = False) -> bool:
    """Durations meet within 3% ("4 weeks" and "a month"); any other figure must be the same:
    37 and 38 degrees are a fever's threshold and not one."""
    return abs(a - b) <= (0.03 * max(abs(a), abs(b), 1e-9) if duration else 1e-6)


def _number_check(sentence: list[str], unit_sentences: Sequence[str], passage_sentences: Sequence[str]) -> str | None:
    """A reason when a number, its unit or its bound is not in the sentence's passage unit
    (numbers are read per passage sentence, so a unit is never taken from the next sentence;
    a figure found only elsewhere in the passage is about something else)."""
    p_nums = [n for ps in unit_sentences for n in _numbers(tokens(ps))]
    anywhere = [n for ps in passage_sentences for n in _numbers(tokens(ps))]
    for value, hours, unit, bound in _numbers(sentence):
        same = [
            b
            for v, h, u, b in p_nums
            if (u == unit and _same(h, hours, unit == "hour")) or ((not u or not unit or u != unit) and _same(v, value))
        ]
        if same:
            if bound and all(b and b != bound for b in same):
                return f"contradicted:bound {bound}{value:g} {unit}".rstrip()
            continue
        return f"{'contradicted' if p_nums or anywhere else 'unsupported'}:number {value:g} {unit}".rstrip()
    return None


def _polarity(text: str) -> tuple[set[str], set[str]]:
    """(stems a negation in their clause reaches, stems of clauses with no negation at all):
    "do not help viral infections" negates help/viral/infection; "eczema" in "eczema is not
    contagious" is in neither set, so "you can't catch eczema" does not flip it."""
    negated: set[str] = set()
    plain: set[str] = set()
    for clause in CLAUSE_BREAK.split(text):
        words = tokens(clause)
        hits = [i for i, w in enumerate(words) if w in NEGATION]
        if not hits:
            plain.update(content(words))
        for i in hits:
            negated.update(content(words[i + 1 : i + 1 + NEGATION_SCOPE]))
    return negated, plain


def _negation_flip(text: str, unit: str) -> bool:
    """Whether the sentence asserts, in a clause with no negation, what the unit negates (or
    the other way round). A stem negated on both sides means the same negated claim, however
    the rest is worded."""
    (s_neg, s_plain), (u_neg, u_plain) = _polarity(text), _polarity(normalize(unit))
    if s_neg & u_neg:
        return False
    return bool((s_neg - u_neg) & u_plain or (u_neg - s_neg) & s_plain)


def _care_level(text: str) -> int:
    """The highest level of care ``text`` names (see CARE_LEVEL_CUES; -1: none)."""
    return max((i for i, cue in enumerate(CARE_LEVEL_CUES) if cue.search(text)), default=-1)


def _strength(text: str) -> int:
    """The strongest frequency/certainty word of ``text`` (-1: none)."""
    return max((level for level, pattern in STRENGTH if pattern.search(text)), default=-1)


def _roles(words: Sequence[str]) -> set[str]:
    text = " " + " ".join(words) + " "
    return {role for role, pattern in ROLES.items() if pattern.search(text)}


def _role_swap(words: list[str], s_content: list[str], singles: list[str], about: set[str]) -> str | None:
    """The role the sentence gives a thing that the passage gives another role, e.g. pollen as
    a treatment when every passage sentence naming pollen calls it a trigger."""
    s_roles = _roles(words)
    if not s_roles:
        return None
    things = {w for w in s_content if w not in GENERIC and w not in about and not w[0].isdigit()}
    for thing in things:
        roles_there = [_roles(tokens(u)) for u in singles if thing in content(tokens(u))]
        roles_there = [r for r in roles_there if r]
        if roles_there and not any(r & s_roles for r in roles_there):
            return f"{thing}: {'/'.join(sorted(s_roles))} vs {'/'.join(sorted(roles_there[0]))}"
    return None


def _antonym(sentence: set[str], unit: set[str]) -> str | None:
    for a, b in ANTONYMS:
        for x, y in ((a, b), (b, a)):
            if x in sentence and y in unit and x not in unit and y not in sentence:
                return f"{x}/{y}"
    return None


def _about_user(text: str, unit: str) -> bool:
    """An unconditional claim about the patient ("You have asthma.") that the unit does not make."""
    for m in USER_CLAIM.finditer(text):
        clause = re.split(r"[,;:]", text[: m.start()])[-1]
        if not CONDITIONAL.search(clause) and m.group(0) not in unit:
            return True
    return False


def _statement_check(sentence: str, text: str, s_content: list[str], question: str) -> Judgement | None:
    """Checks that need no passage: questions, echoes, the first person."""
    if sentence.rstrip(" .)\"'").endswith("?"):
        return Judgement("unsupported", "question")
    if question and len(s_content) >= 3:
        q = set(content(tokens(question)))
        if sum(1 for w in s_content if w in q) / len(s_content) >= ECHO_SHARE:
            return Judgement("unsupported", "echo")
    if re.search(r"^(?:i|my|me)\b|\b(?:i am|i have|i had|i was|my)\b", text):
        return Judgement("unsupported", "first_person")
    return None


def _garbled(text: str) -> bool:
    """A stutter or a sentence cut off mid-phrase (quoted passage text never gets here)."""
    words = re.findall(r"[a-z]+", text)
    if not words or words[-1] in _DANGLING or _STUTTER.search(" ".join(words)):
        return True
    grams = [tuple(words[i : i + 4]) for i in range(len(words) - 3)]
    return len(grams) != len(set(grams))


def _cover(s_content: list[str], unit: str, about: set[str]) -> float:
    """Share of the sentence's words (numbers aside: the number rule checks them) in ``unit``."""
    words = [w for w in s_content if not w[0].isdigit()] or s_content
    have = set(content(tokens(unit))) | about
    return sum(1 for w in words if w in have) / len(words) if words else 0.0


def _order(sentence: list[str], unit: list[str]) -> float:
    """Longest common subsequence of the shared words, over the shared words: 1.0 when the
    sentence keeps the passage's order (paraphrases mostly do; swapped roles and word salad don't)."""
    shared = [w for w in sentence if w in set(unit)]
    if not shared:
        return 0.0
    prev = [0] * (len(unit) + 1)
    for a in shared:
        cur = [0] * (len(unit) + 1)
        for j, b in enumerate(unit, 1):
            cur[j] = prev[j - 1] + 1 if a == b else max(prev[j], cur[j - 1])
        prev = cur
    return prev[-1] / len(shared)


def judge(
    sentence: str, passage: str, *, question: str = "", similarity: float | None = None, topic: str = ""
) -> Judgement:
    """The verdict on ``sentence`` (as shown, citations allowed) against ``passage``.
    ``topic``: what the passage is about (its title: a passage says "lower it" of "high blood
    pressure"); ``similarity``: the embedding cosine of the sentence and its closest passage
    sentence, when an embedder is there."""
    decided = _decide(sentence, passage, question, similarity, topic)
    if isinstance(decided, Judgement):
        return decided
    p = faithfulness_model.probability(decided)
    reason = f"p={p:.2f}" + (f" new:{','.join(decided.new[:3])}" if decided.new else "")
    if p < faithfulness_model.threshold(similarity is not None):
        return Judgement("unsupported", "paraphrase " + reason, decided.unit, round(decided.coverage, 3))
    return Judgement("supported", "ok " + reason, decided.unit, round(decided.coverage, 3))


def paraphrase_features(
    sentence: str, passage: str, *, question: str = "", similarity: float | None = None, topic: str = ""
) -> faithfulness_model.Features | None:
    """What the paraphrase model decides on for ``sentence``; None when a rule decides (training)."""
    decided = _decide(sentence, passage, question, similarity, topic)
    return None if isinstance(decided, Judgement) else decided


def _decide(
    sentence: str, passage: str, question: str, similarity: float | None, topic: str
) -> Judgement | faithfulness_model.Features:
    plain = normalize(sentence)
    text = ANSWER_OPENER.sub("", plain).strip()
    words = tokens(text)
    s_content = content(words)
    # After "yes"/"no" the statement answers the question, however many of its words it reuses.
    early = _statement_check(sentence, text, s_content, question if text == plain else "")
    if early is not None:
        return early
    if len(s_content) < 2:
        return Judgement("unsupported", "no_claim")
    if len(text) > 12 and text.rstrip(".!") in normalize(passage):
        return Judgement("supported", "verbatim", text, 1.0)
    if _garbled(text):
        return Judgement("unsupported", "garbled")
    singles, pairs = passage_units(passage)
    about = set(content(tokens(topic)))
    scored = [(_cover(s_content, u, about), -len(u), u) for u in (singles + pairs or [passage])]
    cover, _, unit = max(scored)
    core = max((x for x in scored if x[2] in singles), default=scored[0])[2] if singles else unit
    return _aligned_checks(text, words, s_content, (unit, core, cover, about), (passage, singles), similarity)


def _aligned_checks(
    text: str,
    words: list[str],
    s_content: list[str],
    aligned: tuple[str, str, float, set[str]],
    source: tuple[str, list[str]],
    similarity: float | None,
) -> Judgement | faithfulness_model.Features:
    """A rule's verdict, or the features the paraphrase model decides on when no rule fires."""
    unit, core, cover, about = aligned
    passage, singles = source
    u_text, p_words = normalize(unit), tokens(passage)

    def verdict(v: Verdict, reason: str) -> Judgement:
        return Judgement(v, reason, unit, round(cover, 3))

    if _about_user(text, u_text):
        return verdict("unsupported", "claim_about_user")
    if REASSURANCE.search(text) and not REASSURANCE.search(u_text):
        care = CARE_CUE.search(normalize(passage))
        return verdict("contradicted" if care else "unsupported", "advice_reversed" if care else "reassurance")
    if 0 <= _care_level(text) < _care_level(u_text):
        return verdict("unsupported", "care_downgraded")
    number = _number_check(words, [u for u in singles if u in unit], singles)
    if number is not None:
        kind, reason = number.split(":", 1)
        return verdict("contradicted" if kind == "contradicted" else "unsupported", reason)
    # Against the whole unit, so a merge of two passage sentences is checked against both; a
    # negated neighbour that shares a word rejects a true sentence now and then (the safe side).
    if _negation_flip(text, unit):
        return verdict("contradicted", "negation")
    swapped = _antonym(set(words), set(tokens(core)))
    if swapped is not None:
        return verdict("contradicted", f"antonym:{swapped}")
    swapped_role = _role_swap(words, s_content, singles, about)
    if swapped_role is not None:
        return verdict("contradicted", f"role:{swapped_role}")
    if ABSOLUTE.search(text) and not ABSOLUTE.search(u_text) and HEDGES.search(u_text):
        return verdict("unsupported", "overclaim")
    if _strength(text) > _strength(normalize(core)) >= 0:
        return verdict("unsupported", "overclaim")
    p_content = set(content(p_words)) | about
    core_cover = _cover(s_content, core, about)
    order = _order(s_content, content(tokens(core)))
    claim = [w for w in s_content if w not in GENERIC and not w[0].isdigit()] or s_content  # "makes": no claim
    strong = _cover(claim, core, about) >= STRONG_MATCH and all(w in p_content for w in claim)
    if strong and order >= STRONG_ORDER:
        return verdict("supported", "close_paraphrase")  # one passage sentence, its words, its order
    new_words = {stem(w): w for w in words if w not in STOP and w not in UNITS and len(w) > 2}
    new = [w for w in dict.fromkeys(s_content) if w not in p_content and w not in GENERIC and not w[0].isdigit()]
    return faithfulness_model.Features(
        coverage=cover,
        core_coverage=core_cover,
        order=order,
        new_terms=len(new),
        salient_new=sum(1 for w in new if faithfulness_model.salient(new_words.get(w, w))),
        new_share=len(new) / len(set(s_content)),
        length=len(s_content),
        similarity=similarity,
        new=tuple(new),
        unit=unit,
    )


def judge_any(
    sentence: str,
    passages: Sequence[str],
    *,
    question: str = "",
    topics: Sequence[str] = (),
    similarities: Sequence[float | None] = (),
) -> tuple[int, Judgement]:
    """The best verdict over several passages (index, judgement): supported beats unsupported
    beats contradicted, then higher coverage. ``topics[i]``/``similarities[i]`` go with passage i."""
    rank = {"supported": 2, "unsupported": 1, "contradicted": 0}
    best: tuple[int, Judgement] | None = None
    for i, p in enumerate(passages):
        topic = topics[i] if i < len(topics) else ""
        sim = similarities[i] if i < len(similarities) else None
        j = judge(sentence, p, question=question, topic=topic, similarity=sim)
        if best is None or (rank[j.verdict], j.coverage) > (rank[best[1].verdict], best[1].coverage):
            best = (i, j)
    return best if best is not None else (-1, Judgement("unsupported", "no_passage"))


__all__ = ["Judgement", "Verdict", "judge", "judge_any", "normalize", "passage_units", "tokens"]
