"""Emergency categories: the 44 of the triage data (``docs/triage-categories.md``) and the
first-aid guidance each one gets.

The learned stage predicts a data category; the rules name a guidance category directly. The
table below is the one place that says which guidance text (``prompts.EMERGENCY_ADVICE``) fits
which emergency, so a gut bleed never gets "press on the wound". A new category is one row here,
one guidance text in ``chatbot/prompts.py`` and its examples in the training data.
"""

from __future__ import annotations

import re

# data category -> guidance key of ``prompts.EMERGENCY_ADVICE`` (declarative table)
GUIDANCE: dict[str, str] = {
    "cardiac": "chest_pain",
    "cardiac_atypical": "chest_pain",
    "stroke": "stroke",
    "tia": "stroke",
    "pulmonary_embolism": "pulmonary_embolism",
    "aortic_dissection": "aortic_dissection",
    "anaphylaxis": "anaphylaxis",
    "asthma_attack": "breathing",
    "breathing": "breathing",
    "choking": "choking",
    "croup_child": "child_breathing",
    "sepsis": "sepsis",
    "meningitis": "meningitis",
    "dka": "dka",
    "hypoglycaemia": "diabetic",
    "head_injury": "head_injury",
    "seizure": "seizure",
    "gi_bleeding": "gi_bleeding",
    "severe_bleeding": "bleeding",
    "major_trauma": "trauma",
    "ectopic_pregnancy": "ectopic",
    "preeclampsia": "pregnancy",
    "pregnancy_bleeding": "pregnancy",
    "reduced_fetal_movement": "fetal_movement",
    "testicular_torsion": "torsion",
    "ovarian_torsion": "torsion",
    "cauda_equina": "cauda_equina",
    "carbon_monoxide": "carbon_monoxide",
    "heat_stroke": "heat_stroke",
    "hypothermia": "hypothermia",
    "poisoning_child": "poisoning",
    "overdose_adult": "overdose",
    "self_harm_direct": "self_harm",
    "self_harm_indirect": "self_harm",
    "infant_fever": "infant_fever",
    "severe_dehydration": "dehydration",
    "burns": "burns",
    "eye_emergency": "eye",
    "acute_abdomen": "abdominal",
    "unconscious": "unconscious",
    "drowning": "drowning",
    "electrical_injury": "electrical",
    "acute_confusion": "confusion",
    "hypertensive_emergency": "hypertensive",
}
DATA_CATEGORIES = tuple(GUIDANCE)


# guidance key -> (what the message says, the guidance that fits it better, unless the message
# says this): the category says what kind of emergency, the words say where (hand audit v2: a
# nosebleed got "press on the wound"; confusion and an itchy face after starting methadone got
# anaphylaxis first aid). Bleeding from the vagina with no pregnancy named: the maternity
# guidance ("bring your maternity notes") is for someone else; how heavy it is helps the call handler.
PREGNANCY_CUE = re.compile(r"\bpregnan|\bweeks?\b.{0,20}\bgone\b|\bmaternity\b|\bmidwife\b|\bembarazada\b|\bembarazo\b")
PERIOD_CUE = re.compile(r"\bperiods?\b|\bvagina|\bpads?\b|\btampons?\b|\bmenstrua|\bregla\b|\bcompresas?\b")
REFINE: dict[str, tuple[tuple[re.Pattern[str], str, re.Pattern[str] | None], ...]] = {
    "bleeding": ((re.compile(r"\bnose ?bleed|\bnose\b|\bnariz\b"), "nosebleed", None),),
    "pregnancy": ((PERIOD_CUE, "vaginal_bleeding", PREGNANCY_CUE),),
}
OPIOID = re.compile(
    r"\b(?:methadone|heroin|fentanyl|oxycodone|oxycontin|morphine|tramadol|codeine|hydrocodone|opioids?|opiates?|"
    r"percocet|vicodin|buprenorphine|suboxone)\b"
)
# With an opioid named, these are what an overdose looks like: its first aid (naloxone) comes first.
OPIOID_SIGNS = frozenset({"anaphylaxis", "breathing", "confusion", "unconscious"})


def guidance_key(category: str, message: str = "") -> str:
    """The guidance key for a data category or a rule category (rules already use guidance keys),
    refined by what the message says."""
    key = GUIDANCE.get(category, category)
    text = message.lower()
    if key in OPIOID_SIGNS and OPIOID.search(text):
        return "overdose"
    for pattern, refined, unless in REFINE.get(key, ()):
        if pattern.search(text) and not (unless and unless.search(text)):
            return refined
    return key
