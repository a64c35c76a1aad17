"""One short clarifying question when a safe answer depends on context the bot doesn't have,
and reading the user's answer back into the profile.

Asked when (a) a fever question gives no age (babies, children and adults are handled very
differently), or (b) a medicine question comes from someone who may be pregnant (profile sex
female, pregnancy unknown, message silent about it). Each kind is asked at most once per
session; if the user ignores it, the bot answers with general cautions.
"""

from __future__ import annotations

import re
from dataclasses import replace

from chatbot import prompts
from chatbot.query import mentions_medicine, words
from chatbot.types import PatientProfile, Triage

# "hay fever" is an allergy, not a temperature to manage.
FEVER = re.compile(r"\b(?<!hay )(?:fever|feverish|temperature|high temp|pyrexia|fiebre|calentura)\b", re.I)
_AGE_IN_TEXT = re.compile(
    r"\b\d{1,3}\s*(?:-|\s)?\s*(?:years?|yrs?|y/?o|months?|mos?|weeks?|wks?|days?)\b(?:\s*-?\s*old)?"
    r"|\b(?:i am|i'm|im|aged?)\s+\d{1,3}\b",
    re.I,
)
_AGE_WORDS = re.compile(
    r"\b(?:baby|babies|infant|newborn|toddler|child|children|kid|kids|son|daughter|teen|teenager|boy|girl|"
    r"adult|grown[- ]up|elderly|grandmother|grandfather|grandma|grandpa|my (?:mum|mom|dad|father|mother|"
    r"husband|wife|partner)|myself|i have|i've got|i got|i am running|i'm running)\b",
    re.I,
)
# A question about fever as a feature of some condition ("is there always a temperature with
# appendicitis?") is general knowledge, not a person's fever to manage: no age is needed.
_GENERAL_FEVER = re.compile(
    r"\b(?:associated with|symptoms? of|signs? of|caused by|always|usually|typical(?:ly)?|common(?:ly)?|"
    r"normal (?:for|in|with)|part of)\b",
    re.I,
)
_PERSONAL = re.compile(r"\b(?:i|i'm|im|me|my|we|our|us|he|she|his|her|him|they|their|them|you|your)\b", re.I)
_PREGNANCY_WORDS = re.compile(r"\b(?:pregnan\w*|expecting|trimester|breastfeed\w*|nursing|embarazad\w*)\b", re.I)

FEVER_AGE = "fever_age"
PREGNANCY = "pregnancy"


def needed(message: str, profile: PatientProfile | None, asked: set[str]) -> Triage | None:
    """The clarifying question to ask before answering ``message``, or None."""
    p = profile or PatientProfile()
    if _LOGISTICS.search(message):
        return None  # storage, expiry, paperwork: no clinical detail changes the answer
    general = _GENERAL_FEVER.search(message) is not None and _PERSONAL.search(message) is None
    if FEVER_AGE not in asked and FEVER.search(message) and not general:
        has_age = p.age is not None or p.age_group is not None
        if not has_age and not _AGE_IN_TEXT.search(message) and not _AGE_WORDS.search(message):
            return Triage("clarify", FEVER_AGE, "fever question without an age", prompts.CLARIFY_FEVER_AGE)
    if (
        PREGNANCY not in asked
        and p.sex == "female"
        and p.pregnant is None
        and (p.age is None or 12 <= p.age <= 55)
        and p.age_group not in ("infant", "child", "older_adult")
        and mentions_medicine(message)
        and not _PREGNANCY_WORDS.search(message)
    ):
        return Triage("clarify", PREGNANCY, "medicine question, pregnancy unknown", prompts.CLARIFY_PREGNANCY)
    return None


# Questions about keeping, carrying or paperwork for a medicine, not about taking it: asking a
# patient's age or pregnancy first would be a clinical question nobody asked (issue 17: a
# pharmacy storage question was asked the patient's age).
_LOGISTICS = re.compile(
    r"\b(?:stor(?:e|ed|ing|age)|keep (?:it|them|the|my|his|her)\b.{0,30}\b(?:fridge|car|cool|cold|warm|room temperature)|"
    r"fridge|refrigerat\w*|room temperature|go(?:es)? off|gone off|expir\w*|use[- ]by|best before|shelf life|"
    r"after opening|once opened|dispos\w*|throw (?:it|them) away|pack(?:ing|aging)|hand luggage|carry[- ]on|"
    r"sick note|fit note|insurance|refill|repeat prescription|prescription (?:form|charge|cost)|pharmacy opening)\b",
    re.I,
)
_NUM_AGE = re.compile(r"\b(\d{1,3})\s*(?:-|\s)?\s*(years?|yrs?|y/?o|months?|mos?|weeks?|wks?|days?)?\b", re.I)
_GROUP_WORDS: dict[str, str] = {
    "newborn": "infant",
    "baby": "infant",
    "infant": "infant",
    "toddler": "child",
    "child": "child",
    "kid": "child",
    "teen": "teen",
    "teenager": "teen",
    "adult": "adult",
    "grown": "adult",
    "elderly": "older_adult",
    "senior": "older_adult",
    "older": "older_adult",
}
_UNSURE = re.compile(
    r"^\s*(?:maybe|possibly|perhaps|not sure|unsure|could be|might be|i (?:do not|don'?t) know|don'?t know)\b", re.I
)
_NO = re.compile(r"^\s*(?:no|nope|nah|not|i'?m not|i am not|definitely not|negative)\b", re.I)
_YES = re.compile(r"^\s*(?:yes|yeah|yep|yup|si|sí|i am|i'm|im|correct|pregnant|i think so)\b", re.I)


def apply_answer(kind: str, answer: str, profile: PatientProfile | None) -> PatientProfile | None:
    """The profile updated with the user's answer, or None when the message isn't an answer."""
    p = profile or PatientProfile()
    if kind == FEVER_AGE:
        m = _NUM_AGE.search(answer)
        if m and len(words(answer)) <= 12:
            value = int(m.group(1))
            unit = (m.group(2) or "years").lower()
            if unit.startswith(("m", "w", "d")):
                months = value if unit.startswith("m") else 0
                return replace(p, age=0, age_group="infant" if months < 12 else "child")
            if value <= 120:
                return replace(p, age=value, age_group=None)
        for w in words(answer):
            key = w.rstrip("s") if w.rstrip("s") in _GROUP_WORDS else w
            if key in _GROUP_WORDS and len(words(answer)) <= 12:
                return replace(p, age_group=_GROUP_WORDS[key])  # type: ignore[arg-type]
        if re.search(r"\b(?:me|myself|i am|i'm)\b", answer, re.I) and len(words(answer)) <= 6:
            return replace(p, age_group="adult")
        return None
    if kind == PREGNANCY:
        # "Maybe" or "not sure" counts as possibly pregnant: the cautious answer.
        if _UNSURE.match(answer):
            return replace(p, pregnant=True)
        if _NO.match(answer):
            return replace(p, pregnant=False)
        if _YES.match(answer):
            return replace(p, pregnant=True)
        return None
    return None
