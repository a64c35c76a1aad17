"""Answer planning: which passage sentences answer the kind of question that was asked.

The question type (:mod:`chatbot.question_type`) picks the passage content that answers it:
care-seeking advice for "should I worry / when to see a doctor", symptom lists for symptom
questions, and so on. A passage sentence matches a type by its own words (``TYPE_CUES``) or by
where it stands (a starter topic's section, a MedQuAD answer's ``qtype``). The planned lead is
the best matching passage sentence: it opens the answer when the model's lead is rejected, and
for care questions it always opens it, because "when to get care" is the answer there.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from itertools import pairwise
from typing import TYPE_CHECKING

from chatbot.faithfulness_lexicon import GENERIC
from chatbot.faithfulness_model import salient
from chatbot.faithfulness_text import content, normalize, stem, tokens

if TYPE_CHECKING:
    from chatbot.grounding import Evidence, PassageSentence
    from chatbot.question_type import QuestionType
    from knowledge.documents import Hit

# Passage wording that answers each question type (on normalised text).
TYPE_CUES: dict[str, re.Pattern[str]] = {
    "care": re.compile(
        r"\b(?:see|call|contact|visit|ask|talk to|speak to|get|seek) (?:a |an |your |the |local |urgent |medical )?"
        r"(?:doctor|gp|clinician|nurse|pharmacist|midwife|emergency|medical|health|help|care|provider)"
        r"|\bemergency\b|\bstraight away\b|\bright away\b|\bsame day\b|\burgent|\bbook an appointment\b"
    ),
    "symptoms": re.compile(r"\bsymptoms?\b|\bsigns?\b|\bfeel\w*\b|\binclude\b"),
    "causes": re.compile(r"\bcaus\w*|\bdue to\b|\bbecause\b|\btrigger\w*|\bresult\w* from\b|\bleads? to\b"),
    "treatment": re.compile(r"\btreat\w*|\bmedicine|\btherap\w*|\brelie\w*|\bself-care\b|\bhelps?\b|\bsurgery\b"),
    "prevention": re.compile(r"\bprevent\w*|\bavoid\w*|\breduc\w* (?:the|your) risk|\bvaccin\w*|\bprotect\w*"),
    "outlook": re.compile(
        r"\blasts?\b|\bget better\b|\brecover\w*|\bgo(?:es)? away\b|\boutlook\b|\bweeks?\b|\bdays?\b"
    ),
    "tests": re.compile(r"\btests?\b|\bdiagnos\w*|\bexam\w*|\bscan\b|\bx-ray\b|\bblood test\b"),
    "medicine": re.compile(r"\bdose\b|\bside effects?\b|\btak(?:e|ing)\b|\btablets?\b|\binteract\w*|\bpharmacist\b"),
    "risk": re.compile(r"\brisk\b|\bmore likely\b|\bspread\w*|\bcontagious\b|\binherit\w*|\bgenes?\b"),
}

# Starter topic sections (``## When to seek care``) and MedQuAD qtypes that answer each type.
SECTION_TYPES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"seek care|see a doctor|when to|emergency|warning"), "care"),
    (re.compile(r"symptom|signs"), "symptoms"),
    (re.compile(r"cause|trigger|risk"), "causes"),
    (re.compile(r"treat|self-care|medicine|manag"), "treatment"),
    (re.compile(r"prevent"), "prevention"),
    (re.compile(r"what it is|overview|about"), "definition"),
    (re.compile(r"outlook|prognosis"), "outlook"),
    (re.compile(r"test|diagnos"), "tests"),
)
SYMPTOM_LEAD = re.compile(r"\b(?:symptoms?|signs?)(?: of [\w ,'-]{1,40})? (?:can |may |often |usually )?includes?\b")
RANK_PRIOR = 0.1  # the retriever's ranking: a tie goes to the better passage
TOPIC_BONUS = 0.2  # a passage about what was asked beats a similar sentence about something else
POPULATION_BONUS = 0.15  # "while pregnant": what the source says for that person
POSITION_COST = 0.03  # a section says its main point first
POPULATION_CUES: dict[str, re.Pattern[str]] = {
    "pregnancy": re.compile(r"\bpregnan\w*|\bbreastfeed\w*|\bexpecting\b"),
    "child": re.compile(r"\bchild\w*|\bbab(?:y|ies)\b|\binfants?\b|\btoddlers?\b|\bkids?\b|\bunder \d+\b"),
}

# Sentences about adults only: for a question about a child they answer the wrong person ("Older
# adults may have a serious infection with only a mild fever or none" for a 2-year-old with a
# fever; hand audit v2, P09).
ADULTS_ONLY = re.compile(r"\badults?\b|\belderly\b|\bseniors?\b|\bolder people\b|\bpeople over \d+\b")

# One item of a labelled list ("There are three main causes: allergies...; this type is not
# contagious") is one answer of several: opening with it says the others are not so.
LABELLED = re.compile(r"[^:]{3,80}: ")
ANAPHORIC = re.compile(r"(?:It|They|This|These|That|Those|He|She|Its|Their)\b")


# Medicine advice that does not say it is for pregnancy is not advice for a pregnant person ("Take
# ibuprofen with food or milk" for "Can I take ibuprofen while pregnant?"; hand audit v2, P12).
MEDICINE_ADVICE = re.compile(
    r"\b(?:ibuprofen|aspirin|paracetamol|acetaminophen|naproxen|nsaids?|codeine|antibiotics?|antihistamines?|"
    r"decongestants?|pain ?relievers?|painkillers?|medicines?|medications?|tablets?|doses?)\b"
)


def for_someone_else(text: str, population: str | None) -> bool:
    """Whether a passage sentence is only about people other than the one asked about."""
    t = text.lower()
    if population == "child":
        return bool(ADULTS_ONLY.search(t)) and not POPULATION_CUES["child"].search(t)
    if population == "pregnancy":
        return bool(MEDICINE_ADVICE.search(t)) and not POPULATION_CUES["pregnancy"].search(t)
    return False


def section_type(meta: dict[str, object]) -> str | None:
    """The type a chunk answers, from its starter section or its MedQuAD qtype."""
    qtype = str(meta.get("qtype") or "").lower()
    if qtype:
        from chatbot.question_type_train import QTYPE_LABELS

        return QTYPE_LABELS.get(qtype)
    section = str(meta.get("section") or "").lower()
    return next((label for pattern, label in SECTION_TYPES if pattern.search(section)), None)


def answers_type(sentence: PassageSentence, evidence: Evidence, label: str) -> bool:
    cue = TYPE_CUES.get(label)
    if cue is not None and cue.search(normalize(sentence.text)):
        return True
    return label != "care" and section_type(evidence.hits[sentence.source - 1].chunk.metadata) == label


def lead_units(evidence: Evidence) -> list[PassageSentence]:
    """Passage sentences that can open an answer: whole statements, including a list item with
    its lead-in ("See a doctor soon if the cough lasts more than three weeks."), not a bare item
    of a list under a heading ("- Wheezing") and not a question heading."""
    return [
        s for s in evidence.sentences if not s.text.startswith(("- ", "* ", "\u2022 ")) and not s.text.endswith("?")
    ]


def about_topic(text: str, topic: str | None) -> bool:
    """Whether ``text`` names the question's topic ("eczema" in "Eczema is not contagious")."""
    if not topic:
        return True
    words = [w for w in tokens(topic) if w.isalpha()]
    # The topic's rare words name it ("glaucoma" in "main treatments relieve glaucoma").
    rare = {stem(w) for w in words if len(w) > 3 and salient(w)}
    want = (rare or set(content(words))) - GENERIC
    seen = set(content(tokens(text)))
    # A topic typed as two words names a one-word condition too ("chicken pox": chickenpox).
    joined = {stem(a + b) for a, b in pairwise(words)}
    return not want or bool(want & seen) or bool(joined & seen) or any(_same_root(w, seen) for w in want)


def _same_root(word: str, seen: set[str]) -> bool:
    """ "crusty" and "crust", "swollen" and "swelling" are not the same stem but the same word."""
    root = word[: max(5, len(word) - 2)]
    return len(word) >= 5 and any(s.startswith(root) for s in seen)


def primary_document(hits: Sequence[Hit], topic: str | None) -> str | None:
    """The document the question is about: the best passage's that names the topic (else the best)."""
    named = [h for h in hits if about_topic(f"{h.chunk.title} {h.chunk.text}", topic)]
    return (named or list(hits))[0].chunk.doc_id if hits else None


def titled_by(title: str, topic: str | None) -> bool:
    """Whether a document's title is the topic itself ("Shingles" for "shingles"; not "Irritable
    bowel syndrome" for "bowel"): the same content words, up to stemming."""
    if not topic or not title:
        return False
    want = {stem(w) for w in content(tokens(topic))} - GENERIC
    have = {stem(w) for w in content(tokens(title))} - GENERIC
    return bool(want) and want == have


# A care-seeking line with its threshold ("Book an appointment with a doctor if ... last more
# than two weeks"): it belongs to its own document's condition.
CARE_THRESHOLD = re.compile(r"^(?:-\s*)?(?:call|book|see|contact|get|seek|go)\b[^.]*\bif\b", re.I)
EMERGENCY_LINE = re.compile(r"^(?:-\s*)?call (?:your local emergency number|an ambulance|999|911|112)\b", re.I)


# "...if you have psoriasis and painful joints": the condition the advice is for.
_IF_YOU_HAVE = re.compile(r"\bif (?:you|they|someone|a person) (?:have|has|are|is|had) (?:a |an )?([a-z]+)", re.I)


def unstated_condition(text: str, question: str) -> bool:
    """Advice for a condition the patient did not name ("Book an appointment if you have
    psoriasis and painful joints" for a question about hand pain, hand audit v3, L07): it
    does not open an answer. Emergency lines are exempt: when in doubt, escalate."""
    if EMERGENCY_LINE.match(text):
        return False
    said = set(content(tokens(question)))
    return any(
        stem(w) not in said and not _same_root(stem(w), said) and bool(_rare([w]))
        for w in _IF_YOU_HAVE.findall(text.lower())
    )


def _rare(words: list[str]) -> set[str]:
    return {stem(w) for w in words if w.isalpha() and len(w) > 3 and salient(w)} - GENERIC


def names_rare_word(text: str, source: str) -> bool:
    """Whether ``text`` names a rare word of ``source``, up to stemming or a shared root:
    "ibuprofen" of the question in "avoid NSAIDs such as ibuprofen"; "influenza" of a title
    "Influenza (flu)" in "is it influenza?" (not "Heart failure" for a heart attack, nor
    "Concussion" for a headache)."""
    want = _rare(tokens(source))
    seen = set(content(tokens(text)))
    return bool(want & seen) or any(_same_root(w, seen) for w in want)


def on_topic(title: str, text: str, topic: str | None, question: str) -> bool:
    """Whether a passage is about what was asked: it names the question's topic, or its title
    names a rare word of the question ("ibuprofen for asthma": the asthma passage is about it too)."""
    if about_topic(f"{title} {text}", topic):
        return True
    return bool(_rare(tokens(question)) & set(content(tokens(title))))


def planned_lead(
    question: str,
    qtype: QuestionType,
    evidence: Evidence,
    topic: str | None = None,
    avoid: Collection[PassageSentence] = (),
) -> PassageSentence | None:
    """The passage sentence that best answers ``question`` as the type asks.

    Among the type's sentences (for a care question, only those), by similarity to the question
    plus preferences for the question's topic (its passage names it), the population asked about
    (pregnancy, children), the retriever's ranking and a passage's earlier sentences."""
    # An opening must stand alone: "It causes a cough that can last three weeks" names nothing.
    units = [
        u
        for u in lead_units(evidence)
        if 4 <= len(u.text.split()) <= 45
        and u not in avoid
        and not ANAPHORIC.match(u.text)
        and not LABELLED.match(u.text)
        and not unstated_condition(u.text, question)
    ]
    if qtype.label in ("definition", "other"):
        # An overview passage opens with its definition: a source's first sentence.
        matching = [u for u in units if u.position == 0]
    elif qtype.label == "symptoms":
        # Symptoms are a list; a lone sentence of the section ("A sudden worsening is called an
        # asthma attack.") answers nothing, so only a sentence that names them opens the answer.
        matching = [u for u in units if SYMPTOM_LEAD.search(normalize(u.text))]
        if not matching:
            return None
    else:
        matching = [u for u in units if answers_type(u, evidence, qtype.label)]
    if matching:
        units = matching
    elif qtype.label == "care" or not units:
        return None  # no care advice in the sources: nothing may pretend to be it
    # The best passage's document is what the question is about: its sentence opens the answer
    # when it has one ("no bowel movement in 4 days": constipation's care advice, not a line about
    # diarrhoea after travel from the gastroenteritis topic; hand audit v2, P24).
    # A sentence from another document answers another situation (pain relief in pregnancy for
    # nausea in pregnancy, hand audit v2, P15): with none from this one, no sentence opens.
    top = primary_document(evidence.hits, topic)
    units = [u for u in units if evidence.hits[u.source - 1].chunk.doc_id == top]
    if not units:
        return None
    population = POPULATION_CUES.get(qtype.population or "")
    scores = evidence.similarity(question, units)

    def score(i: int) -> float:
        u = units[i]
        chunk = evidence.hits[u.source - 1].chunk
        on_topic = about_topic(f"{chunk.title} {chunk.text}", topic)
        for_them = population is not None and bool(population.search(u.text.lower()))
        return (
            scores[i]
            + TOPIC_BONUS * on_topic
            + POPULATION_BONUS * for_them
            + RANK_PRIOR / u.source
            - POSITION_COST * min(u.position, 10)
        )

    return units[max(range(len(units)), key=score)]


__all__ = [
    "TYPE_CUES",
    "about_topic",
    "answers_type",
    "for_someone_else",
    "lead_units",
    "on_topic",
    "planned_lead",
    "primary_document",
    "section_type",
    "titled_by",
]
