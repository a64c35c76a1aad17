"""The faithfulness checker: each failure class of issue 14 fails, faithful wording passes."""

from __future__ import annotations

import pytest

from chatbot.faithfulness import judge, judge_any, passage_units

COUGH = (
    "Acute bronchitis causes a cough that can last up to three weeks.\n"
    "A cough that lasts more than eight weeks in adults is called chronic.\n"
    "See a doctor soon if:\n"
    "- the cough lasts more than three weeks\n"
    "- you cough up blood, even a small amount\n"
    "Most coughs get better on their own, and antibiotics do not help viral infections."
)
ASTHMA = (
    "Asthma is a long-term condition of the airways. It cannot be cured, but most people can control it well.\n"
    "Common triggers include colds and flu, pollen, dust mites, pet dander and tobacco smoke."
)
PRESSURE = (
    "Very high blood pressure may sometimes cause headaches or nosebleeds. Less salt and regular activity lower it."
)


def verdict(sentence: str, passage: str, question: str = "") -> str:
    return judge(sentence, passage, question=question).verdict


@pytest.mark.parametrize(
    ("sentence", "passage", "question", "expected"),
    [
        # the issue's own examples
        (
            "I have had a dry cough for three weeks, should I worry [1]?",
            COUGH,
            "dry cough three weeks, worry?",
            "unsupported",
        ),
        (
            "The answer is no, you should not worry at night if your cough lasts three weeks [1].",
            COUGH,
            "",
            "contradicted",
        ),
        ("Yes, you should not worry about a dry cough for three weeks [1].", COUGH, "", "contradicted"),
        ("Asthma can be controlled by breathing in pollen [1].", ASTHMA, "What is asthma?", "contradicted"),
        # negation and polarity
        ("Antibiotics help viral infections [1].", COUGH, "", "contradicted"),
        ("Asthma can be cured [1].", ASTHMA, "", "contradicted"),
        # numbers, durations, bounds
        ("See a doctor if the cough lasts more than two weeks [1].", COUGH, "", "contradicted"),
        ("See a doctor if the cough lasts less than three weeks [1].", COUGH, "", "contradicted"),
        ("A cough lasting more than eight months is chronic [1].", COUGH, "", "contradicted"),
        # roles, hedges, claims about the user, echo
        ("Pollen can treat asthma [1].", ASTHMA, "", "contradicted"),
        ("High blood pressure usually causes headaches [1].", PRESSURE, "", "unsupported"),
        ("You have asthma [1].", ASTHMA, "", "unsupported"),
        ("Asthma is always caused by pets [1].", ASTHMA, "", "contradicted"),
    ],
)
def test_bad_sentences_fail(sentence: str, passage: str, question: str, expected: str) -> None:
    assert verdict(sentence, passage, question) == expected


@pytest.mark.parametrize(
    ("sentence", "passage"),
    [
        ("See a doctor soon if the cough lasts more than three weeks [1].", COUGH),
        ("Antibiotics do not help viral infections [1].", COUGH),
        ("Asthma cannot be cured, but most people can control it well [1].", ASTHMA),
        ("Pollen and dust mites can trigger asthma [1].", ASTHMA),
        ("No, asthma can't be cured, but most people control it well [1].", ASTHMA),
        ("Asthma is a long-term condition of the airways [1].", ASTHMA),
    ],
)
def test_faithful_sentences_pass(sentence: str, passage: str) -> None:
    # The product passes the passage's title as its topic ("it" in the passage is asthma).
    assert judge(sentence, passage, topic="Asthma" if passage is ASTHMA else "Cough").verdict == "supported"


def test_durations_compare_in_one_unit() -> None:
    passage = (
        "Stay off work until 48 hours after the last episode. Menopause is confirmed after 12 months without a period."
    )
    assert verdict("Stay off work until 2 days after the last episode [1].", passage) == "supported"
    assert verdict("Stay off work until 12 hours after the last episode [1].", passage) == "contradicted"
    assert judge("Menopause is confirmed after a year without a period [1].", passage).verdict != "contradicted"


def test_list_items_are_judged_with_their_lead_in() -> None:
    singles, _pairs = passage_units(COUGH)
    assert "See a doctor soon if the cough lasts more than three weeks" in singles
    # an item whose lead-in was lost (flattened text) gets no owner
    flat, _ = passage_units("Call 999 if: - severe pain - chest pain See a doctor if: - a mild rash")
    assert not any(s.startswith("Call 999 if a mild rash") for s in flat)


def test_topic_stands_in_for_a_pronoun() -> None:
    assert judge(
        "Less salt and regular activity lower high blood pressure [1].", PRESSURE, topic="High blood pressure"
    ).supported


def test_judge_any_prefers_the_supporting_passage() -> None:
    i, j = judge_any("Antibiotics do not help viral infections.", [ASTHMA, COUGH])
    assert (i, j.verdict) == (1, "supported")


@pytest.mark.parametrize(
    "sentence",
    [
        "Treatment focuses on replacing fluids fluids replacing focuses on [1].",  # a word twice in a row
        "Depression is treatable. Options include options include [1].",  # a phrase twice in a row
        "a blocked or runny nose and a blocked or runny nose and sneezing [1].",  # a four-word phrase again
        "Change the dressing if it gets wet and keep the wound clean until the [1].",  # cut off mid-phrase
    ],
)
def test_degenerate_generations_are_rejected(sentence: str) -> None:
    passage = (
        "Treatment focuses on replacing fluids. Depression is treatable. Options include talking therapies. "
        "Symptoms include a blocked or runny nose and sneezing. Change the dressing if it gets wet or dirty, "
        "and keep the wound clean until it heals."
    )
    j = judge(sentence, passage)
    assert (j.verdict, j.reason) == ("unsupported", "garbled")


def test_one_as_a_pronoun_is_no_figure_but_a_changed_figure_still_fails() -> None:
    stone = "A small stone may pass on its own, causing little or no pain. Drink 2 to 3 litres of fluid a day."
    assert "number" not in judge("A small one may come out on its own, with little or no pain [1].", stone).reason
    assert verdict("Drink 4 litres of fluid a day [1].", stone) == "contradicted"
    fever = "A fever is a temperature of about 38°C (100.4°F) or higher."
    # 37 is within 3% of 38, but a threshold is not a duration: it must be the same figure.
    assert verdict("A fever is a temperature of about 37°C or higher [1].", fever) == "contradicted"
    colds = "Most colds get better within about a week to ten days."
    # a range's first number takes the range's unit: "seven to ten days" is "a week to ten days"
    assert "number" not in judge("Most colds clear up in about seven to ten days [1].", colds).reason


def test_a_lower_care_level_than_the_source_is_not_supported() -> None:
    """Starter questions: "You should see a doctor if ... spreading to the throat" for the source's
    "Contact a doctor urgently, the same day, if ... thrush seems to spread down into the throat"."""
    passage = "Contact a doctor urgently, the same day, if:\n- thrush seems to spread down into the throat"
    j = judge("You should see a doctor if your thrush is spreading to the throat [1].", passage)
    assert (j.verdict, j.reason) == ("unsupported", "care_downgraded")
    assert (
        verdict("Contact a doctor the same day if thrush seems to spread into the throat [1].", passage) == "supported"
    )
