"""Question-aware answer planning: the passage sentence that answers the type asked opens the answer."""

from __future__ import annotations

from chatbot.grounding import Evidence
from chatbot.planning import lead_units, planned_lead
from chatbot.question_type import detect
from knowledge.documents import Chunk, Hit
from knowledge.embedding import MockEmbedder

COUGH = Chunk(
    "cough#0",
    "cough",
    "Coughing is the body's way of clearing the airways.\n"
    "A cough that lasts more than eight weeks in adults is called chronic.\n"
    "See a doctor soon if:\n"
    "- the cough lasts more than three weeks\n"
    "- you cough up blood, even a small amount",
    title="Cough and acute bronchitis — When to seek care",
    metadata={"section": "When to seek care"},
)
MEASLES = Chunk("measles#0", "measles", "Measles is highly contagious and spreads through the air.", title="Measles")
ECZEMA = Chunk(
    "eczema#0",
    "eczema",
    "Eczema is a long-term skin condition that makes skin dry and itchy. Eczema is not contagious.",
    title="Eczema",
)


def evidence(*chunks: Chunk) -> Evidence:
    return Evidence([Hit(c, 0.9 - 0.1 * i) for i, c in enumerate(chunks)], MockEmbedder(256))


def test_list_items_are_quoted_with_their_lead_in() -> None:
    texts = [u.text for u in lead_units(evidence(COUGH))]
    assert "See a doctor soon if the cough lasts more than three weeks." in texts
    assert "See a doctor soon if:" not in texts  # a bare lead-in says nothing


def test_should_i_worry_opens_with_when_to_get_care() -> None:
    question = "I have had a dry cough for three weeks, should I worry?"
    lead = planned_lead(question, detect(question), evidence(COUGH))
    assert lead is not None and lead.text == "See a doctor soon if the cough lasts more than three weeks."


def test_care_question_without_care_advice_gets_no_planned_lead() -> None:
    question = "Should I worry about measles?"
    assert planned_lead(question, detect(question), evidence(MEASLES)) is None


def test_topic_beats_a_similar_sentence_about_something_else() -> None:
    question = "Is eczema contagious?"
    lead = planned_lead(question, detect(question), evidence(MEASLES, ECZEMA), topic="eczema")
    assert lead is not None and lead.text == "Eczema is not contagious."


def test_symptom_question_opens_only_with_a_sentence_that_names_the_symptoms() -> None:
    asthma = Chunk(
        "asthma#1",
        "asthma",
        "- Wheezing\n- Shortness of breath\nSymptoms can come and go. A sudden worsening is called an asthma attack.",
        title="Asthma — Symptoms",
        metadata={"section": "Symptoms"},
    )
    question = "What are the symptoms of asthma?"
    assert planned_lead(question, detect(question), evidence(asthma), topic="asthma") is None
    listed = Chunk("flu#1", "flu", "Symptoms of flu include fever, cough and aches.", title="Flu — Symptoms")
    lead = planned_lead("What are the symptoms of flu?", detect("What are the symptoms of flu?"), evidence(listed))
    assert lead is not None and lead.text.startswith("Symptoms of flu include")
