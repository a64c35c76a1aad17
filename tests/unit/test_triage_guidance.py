"""Each emergency category gets first-aid text that fits it (a gut bleed is not a wound)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from chatbot import prompts
from chatbot.safety import triage
from chatbot.safety.categories import DATA_CATEGORIES, GUIDANCE, guidance_key

DOC = Path(__file__).resolve().parents[2] / "docs" / "triage-categories.md"


def test_table_matches_the_data_categories_doc() -> None:
    documented = re.findall(r"^\| ([a-z_0-9]+) \|", DOC.read_text(encoding="utf-8"), re.MULTILINE)
    assert [c for c in documented if c != "id"] == list(DATA_CATEGORIES)


@pytest.mark.parametrize("category", DATA_CATEGORIES)
def test_every_category_has_its_own_guidance(category: str) -> None:
    key = guidance_key(category)
    text = prompts.emergency_message(key)
    if key == "self_harm":
        assert text == prompts.CRISIS_MESSAGE
        return
    assert key in prompts.EMERGENCY_ADVICE, f"{category}: no guidance text for {key!r}"
    assert prompts.EMERGENCY_ADVICE_DEFAULT not in text
    assert text.startswith(prompts.EMERGENCY_LEAD)  # what to do now comes first
    assert prompts.emergency_message(key, "es").startswith(prompts.EMERGENCY_LEAD_ES)


def test_guidance_keys_are_few_and_shared_only_where_the_first_aid_is_the_same() -> None:
    shared = {k for k in GUIDANCE.values() if list(GUIDANCE.values()).count(k) > 1}
    assert shared <= {"chest_pain", "stroke", "breathing", "pregnancy", "torsion", "self_harm"}


@pytest.mark.parametrize(
    "message",
    [
        "my dad has been vomiting what looks like coffee grounds",
        "I threw up blood twice this morning",
        "my poop is black and tarry and I feel faint",
    ],
)
def test_bleeding_inside_the_gut_is_not_told_to_press_on_a_wound(message: str) -> None:
    result = triage(message)
    assert result.label == "emergency" and result.category == "gi_bleeding"
    assert "wound" not in result.message
    assert "Don't eat or drink" in result.message


def test_a_wound_still_gets_pressure() -> None:
    result = triage("my cut wont stop bleeding")
    assert result.label == "emergency" and "Press firmly" in result.message


@pytest.mark.parametrize(
    ("message", "key"),
    [
        ("My nose has been bleeding for 15 minutes and won't stop. Should I worry?", "nosebleed"),
        ("There is blood everywhere, I cut my arm on glass and it won't stop bleeding", "bleeding"),
    ],
)
def test_bleeding_guidance_fits_where_the_bleeding_is(message: str, key: str) -> None:
    """Hand audit v2, P05: a nosebleed got "press firmly on the wound"."""
    t = triage(message)
    assert t.label == "emergency"
    assert t.category == key
    assert prompts.EMERGENCY_ADVICE[key] in t.message


def test_an_opioid_with_confusion_gets_overdose_first_aid_not_anaphylaxis() -> None:
    """Hand audit v2, L20: methadone, confusion and an itchy face got the EpiPen text."""
    assert (
        guidance_key("anaphylaxis", "i just started taking methadone and have confusion, my face itches") == "overdose"
    )
    assert guidance_key("anaphylaxis", "my throat is swelling after eating peanuts") == "anaphylaxis"
    assert "naloxone" in prompts.emergency_message(guidance_key("unconscious", "he took heroin and won't wake up"))


def test_heavy_periods_get_bleeding_guidance_not_maternity_notes() -> None:
    """Starter questions: heavy periods raised the pregnancy-bleeding reply ("bring your maternity
    notes") for someone who never said she was pregnant."""
    period = "my periods are so heavy i'm changing pads every hour and feel faint"
    assert guidance_key("pregnancy", period) == "vaginal_bleeding"
    assert guidance_key("pregnancy", "i'm 10 weeks pregnant and bleeding heavily, soaking pads") == "pregnancy"
    assert guidance_key("pregnancy", "severe headache and swollen face at 34 weeks pregnant") == "pregnancy"
