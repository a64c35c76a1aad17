"""Query understanding without an extra model call: follow-up rewriting, long-message
reduction and profile terms.

* A follow-up ("what about for kids?", "and is it contagious?") is rewritten into a standalone
  question by carrying the previous question or its topic.
* A long consumer message (greetings, story, several sentences) is reduced to its medical
  question for retrieval; the original and the standalone form are kept in :class:`Query`.
* The patient profile adds retrieval terms ("children", "pregnancy") so passages about the
  right population rank higher.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from chatbot.faithfulness_model import salient
from chatbot.types import ChatMessage, PatientProfile, Query
from knowledge.query_reduce import reduce_question as kb_reduce_question
from knowledge.sentences import split_sentences as _split

_WORD = re.compile(r"[A-Za-z][A-Za-z'\-]*|\d+")


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


STOPWORDS = _wordset(
    """a an the and or but if of for to in on at by with from about into over after before is are was were be
    been being am do does did doing have has had having i me my mine we our you your he him his she her they
    them their it its this that these those what which who whom whose when where why how can could should
    would will shall may might must not no yes so too very just also only any some all more most much many
    there here than then as up down out off again once please thanks thank hi hello dear sir madam get got
    let know tell want wondering wonder question ask asking help need really thing things like anything
    something someone everything ok okay well still even now i'm im i've ive i'd i'll it's that's there's
    don't doesn't didn't can't cannot won't isn't aren't wasn't haven't hasn't hadn't shouldn't wouldn't"""
)

# Words that describe an aspect of a topic rather than the topic itself.
ASPECT_WORDS = _wordset(
    """symptom symptoms sign signs cause causes causing caused treatment treatments treat treated treating cure
    cured prevent prevention prevented risk risks complication complications diagnosis diagnose diagnosed
    outlook prognosis contagious infectious dangerous serious common normal safe side effect effects last
    lasts long spread spreads catch test tests tested help dose dosage medicine medicines medication
    medications drug drugs take taking took kids children child adults pregnancy pregnant babies baby
    elderly diet exercise work works worse better fatal deadly go away"""
)

POPULATION_WORDS = _wordset(
    """kids kid children child babies baby infants infant toddlers toddler teens teenagers teenager adults adult
    elderly seniors older women woman men man pregnancy pregnant breastfeeding"""
)

_FOLLOWUP_LEAD = re.compile(
    r"^\s*(?:and|also|so|but|ok(?:ay)?|then|what about|how about|and what about|and how about|what if|and if|"
    r"and for|and in|and during|same for|is that|are those)\b[\s,]*",
    re.I,
)
_WHAT_ABOUT = re.compile(r"^\s*(?:and\s+)?(?:what|how)\s+about\s+(?P<x>.+?)\s*[?.!]*\s*$", re.I)
_PRONOUN = re.compile(r"\b(it|its|it's|this|that|they|them|these|those|he|she)\b", re.I)
_PREPOSITION = re.compile(r"^(?:for|in|with|during|at|on|while|when|if|after|before)\b", re.I)

_TOPIC_PATTERNS = [
    re.compile(
        r"\b(?:symptoms?|signs?|causes?|treatments?|risks?|complications?|prevention|diagnosis|outlook|"
        r"prognosis|side effects?|cure|types?|stages?|dangers?)\s+(?:of|for)\s+(?P<t>[^?.!,;]+)",
        re.I,
    ),
    re.compile(
        r"\b(?:treat|prevent|cure|manage|diagnose|get rid of|relieve|catch|spread|avoid|take|use)\s+"
        r"(?:an?\s+|the\s+|my\s+|a\s+)?(?P<t>[^?.!,;]+)",
        re.I,
    ),
    re.compile(r"\b(?:what|who)\s+(?:is|are|causes)\s+(?:an?\s+|the\s+)?(?P<t>[^?.!,;]+)", re.I),
    re.compile(
        r"\b(?:is|are|does|do|can)\s+(?:an?\s+|the\s+)?(?P<t>[^?.!,;]+?)\s+(?:contagious|serious|dangerous|"
        r"cause|spread|hereditary|genetic|curable|treatable|common)\b",
        re.I,
    ),
    re.compile(r"\b(?:have|has|got|with|about)\s+(?:an?\s+|the\s+)?(?P<t>[^?.!,;]+)", re.I),
]
_TOPIC_STOP = re.compile(
    r"\s+(?:in|for|during|while|when|if|after|before|at|on|because|and|or|but|so|since|with|without|"
    r"treated|cured|prevented|diagnosed|caused|spread|is|are|was|were)\b.*$",
    re.I,
)


def words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def content_words(text: str) -> list[str]:
    return [w for w in words(text) if w not in STOPWORDS and len(w) > 1]


def extract_topic(question: str) -> str | None:
    """The condition or medicine a question is about, e.g. "the flu" from "How is the flu treated?"."""
    text = question.strip()
    for pattern in _TOPIC_PATTERNS:
        m = pattern.search(text)
        if not m:
            continue
        topic = _TOPIC_STOP.sub("", m.group("t")).strip(" ?.!,;:'\"")
        cw = [w for w in content_words(topic) if w not in ASPECT_WORDS]
        if cw and not _PRONOUN.fullmatch(topic):
            return topic
    cw = [w for w in content_words(text) if w not in ASPECT_WORDS]
    # No "X is/of ..." pattern: the rare words name the condition ("My cough still hasn't gone
    # away after two weeks" is about "cough", not "cough hasn't gone two").
    rare = [w for w in cw if salient(w) and not w.endswith("nt") and not w[0].isdigit()]
    picked = rare[:3] or cw[:1]
    return " ".join(picked) if picked else None


def is_followup(message: str) -> bool:
    """Short messages that lean on an earlier turn: a follow-up lead, a pronoun without a
    topic of their own, or only aspect words ("symptoms?", "is it contagious?")."""
    ws = words(message)
    if not ws or len(ws) > 14:
        return False
    own = [w for w in content_words(message) if w not in ASPECT_WORDS]
    if _WHAT_ABOUT.match(message):
        return True
    if _FOLLOWUP_LEAD.match(message) and len(ws) <= 8:
        return True
    if _PRONOUN.search(message) and len(own) <= 1:
        return True
    # A short question naming no condition of its own leans on the earlier one: "how long does
    # it take to heal?", "what foods should I avoid?" (hand audit v2, F03 and F10).
    if len(ws) <= 8 and not names_condition(message):
        return True
    return not own


def rewrite_followup(message: str, previous: str, topic: str | None) -> str:
    """Standalone form of ``message`` given the previous standalone question and its topic."""
    prev = previous.strip().rstrip("?.! ")
    m = _WHAT_ABOUT.match(message)
    if m:
        x = m.group("x").strip()
        xw = set(words(x))
        if _PREPOSITION.match(x):
            return f"{prev} {x}?"
        if xw & POPULATION_WORDS:
            return f"{prev} for {x}?"
        return f"{prev}? What about {x}?"
    body = _FOLLOWUP_LEAD.sub("", message).strip() or message.strip()
    if _PREPOSITION.match(body):  # "and for a child?" -> "What helps with hay fever for a child?"
        return f"{prev} {body.rstrip('?.! ')}?"
    if topic:
        replaced, n = _PRONOUN.subn(topic, body, count=1)
        if n:
            return _capitalise(replaced)
        own = [w for w in content_words(body) if w not in ASPECT_WORDS]
        if not own:
            return _capitalise(f"{body.rstrip('?.! ')} of {topic}?")
    return f"{prev}? {_capitalise(body)}"


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def split_sentences(text: str) -> list[str]:
    """Stripped, non-empty sentences of ``text``: each line, heading and list item is a unit,
    abbreviations, decimals and list numbers do not end a sentence, and a citation written
    after the full stop stays with its sentence (see ``knowledge.sentences``)."""
    return _split(text)


def reduce_question(message: str) -> str:
    """The medical question inside a long consumer message (greetings, story and sign-off
    dropped); short messages come back whitespace-normalised. The knowledge base's reducer is
    used so that retrieval and dialogue agree on what the question is."""
    return kb_reduce_question(message).strip() or " ".join(message.split())


MEDICINE_WORDS = _wordset(
    """medicine medicines medication medications drug drugs pill pills tablet tablets capsule capsules dose
    dosage doses prescription antibiotic antibiotics painkiller painkillers ibuprofen paracetamol
    acetaminophen aspirin naproxen codeine tramadol amoxicillin penicillin antihistamine antihistamines
    cetirizine loratadine diphenhydramine decongestant pseudoephedrine metformin insulin statin statins
    warfarin omeprazole antidepressant antidepressants sertraline fluoxetine vitamin vitamins supplement
    supplements herbal inhaler cream ointment syrup take taking interact interaction interactions"""
)


def mentions_medicine(text: str) -> bool:
    return bool(set(words(text)) & MEDICINE_WORDS)


def profile_terms(profile: PatientProfile | None, question: str) -> list[str]:
    """Retrieval terms that steer passages toward the person's situation."""
    if profile is None or profile.is_empty():
        return []
    present = set(words(question))
    terms: list[str] = []
    group = profile.group
    by_group = {
        "infant": ["infants", "babies"],
        "child": ["children"],
        "teen": ["teenagers"],
        "older_adult": ["older adults"],
    }
    terms += by_group.get(group or "", [])
    if profile.pregnant:
        terms.append("pregnancy")
    if mentions_medicine(question):
        terms += list(profile.medications[:3])
        if profile.conditions:
            terms += list(profile.conditions[:2])
    return [t for t in terms if not set(words(t)) <= present]


@dataclass(frozen=True)
class Understanding:
    query: Query
    topic: str | None
    reduced: str  # the medical question of a long message (== standalone for short ones)
    followup: bool
    # A follow-up that names no condition of its own ("is it contagious?", "and for a child?")
    # is about what the previous turn was answered from, not about whatever else it retrieves.
    carried: bool = False


_BP_READING = re.compile(r"\b(?:[7-9]\d|1\d\d|2[0-4]\d)\s?/\s?(?:[4-9]\d|1[0-4]\d)\b(?!\s?(?:mg|ml|%))")


def understand(
    message: str,
    *,
    previous: str | None = None,
    previous_topic: str | None = None,
    profile: PatientProfile | None = None,
) -> Understanding:
    """Rewrite, reduce and tailor ``message`` given the previous standalone question."""
    original = message.strip()
    followup = bool(previous) and is_followup(original)
    if followup and previous:
        topic = previous_topic or extract_topic(previous)
        standalone = rewrite_followup(original, previous, topic)
    else:
        standalone = original
        topic = None
    reduced = reduce_question(standalone)
    own_topic = extract_topic(reduced)
    if _BP_READING.search(reduced):
        # "my monitor said 185/122": a reading names its topic without the words for it, and
        # "my blood pressure was 150/95 at the pharmacy" is about blood pressure, not the pharmacy.
        own_topic = "blood pressure"
        if "pressure" not in reduced.lower():
            reduced = f"{reduced} (blood pressure reading)"
    if not followup or not topic:
        topic = own_topic  # a follow-up keeps the topic it carried over
    terms = profile_terms(profile, reduced)
    retrieval = reduced + (" " + " ".join(terms) if terms else "")
    carried = followup and not names_condition(original)
    if followup and not carried:  # "what about chickenpox?" after shingles: about chickenpox now
        topic = extract_topic(original) or topic
    return Understanding(Query(original, standalone, retrieval), topic, reduced, followup, carried)


def names_condition(message: str) -> bool:
    """Whether a message names a condition, medicine or body part of its own: a rare word that
    is not an aspect of a topic ("chickenpox" in "what about chickenpox?", none in "is it contagious?").
    Common condition words ("diabetes") are not rare enough: the passage step checks them against
    the retrieved documents' titles (:func:`chatbot.dialogue.passages.names_a_document`)."""
    own = [w for w in content_words(message) if w not in ASPECT_WORDS]
    return any(salient(w) for w in own)


def previous_user_questions(history: Sequence[ChatMessage]) -> list[str]:
    return [m.content for m in history if m.role == "user"]


def standalone_from_history(history: Sequence[ChatMessage]) -> tuple[str | None, str | None]:
    """Previous standalone question and topic reconstructed from explicit history (the API
    sends the whole conversation each time instead of a session id)."""
    previous: str | None = None
    topic: str | None = None
    for q in previous_user_questions(history):
        u = understand(q, previous=previous, previous_topic=topic)
        previous, topic = u.query.standalone, u.topic
    return previous, topic
