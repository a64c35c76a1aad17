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


def test_a_label_lead_in_keeps_its_colon_and_a_condition_runs_on() -> None:
    from chatbot.faithfulness_text import join_lead_in

    assert join_lead_in("See a doctor soon if:", "the cough lasts") == "See a doctor soon if the cough lasts"
    assert join_lead_in("There are three main causes:", "allergies") == "There are three main causes: allergies"
    assert join_lead_in("Body symptoms:", "fast heartbeat") == "Body symptoms: fast heartbeat"


def test_the_best_passages_document_opens_the_answer() -> None:
    """Hand audit v2, P24: constipation's care advice, not gastroenteritis's, for no bowel movement."""
    constipation = Chunk(
        "constipation#2",
        "constipation",
        "Book an appointment with a doctor if:\n- your bowel habits change and stay changed",
        title="Constipation — When to seek care",
        metadata={"section": "When to seek care"},
    )
    gastro = Chunk(
        "gastro#2",
        "gastro",
        "Book an appointment with a doctor if:\n- diarrhoea after travel is not settling and bowel movements stay loose",
        title="Gastroenteritis — When to seek care",
        metadata={"section": "When to seek care"},
    )
    question = "I haven't had a bowel movement in 4 days. Should I be worried?"
    lead = planned_lead(question, detect(question), evidence(constipation, gastro), topic="bowel")
    assert lead is not None and lead.source == 1


def test_an_opening_never_starts_with_a_bare_pronoun() -> None:
    bronchitis = Chunk("b#1", "b", "It causes a cough that can last three weeks or more.", title="Bronchitis")
    question = "How long does a cough last?"
    lead = planned_lead(question, detect(question), evidence(bronchitis))
    assert lead is None or not lead.text.startswith("It ")


def test_topic_words_match_their_other_forms_and_titles_must_be_the_topic() -> None:
    from chatbot.planning import about_topic, for_someone_else, titled_by

    assert about_topic("sticky discharge that can crust on the lashes", "crusty")
    assert not about_topic("Measles spreads through the air", "crusty")
    assert titled_by("Shingles", "shingles") and not titled_by("Irritable bowel syndrome", "bowel")
    assert for_someone_else("Older adults may have a serious infection with only a mild fever", "child")
    assert not for_someone_else("It can be more serious in babies, teenagers and adults", "child")
    assert not for_someone_else("Older adults may have a serious infection", None)
    assert for_someone_else("Take ibuprofen with food or milk if it upsets your stomach", "pregnancy")
    assert not for_someone_else("In pregnancy, paracetamol is usually the first choice", "pregnancy")


def test_one_item_of_a_labelled_list_does_not_open_the_answer() -> None:
    """Hand audit, F06: "There are three main causes: allergies...; this type is not contagious"
    opened "is it contagious?" as if pink eye were not."""
    eye = Chunk(
        "eye#0",
        "eye",
        "Conjunctivitis is inflammation of the eye.\nThere are three main causes:\n- viruses, which spread easily\n"
        "- allergies, such as to pollen; this type is not contagious",
        title="Conjunctivitis",
    )
    question = "Is conjunctivitis contagious?"
    lead = planned_lead(question, detect(question), evidence(eye), topic="conjunctivitis")
    assert lead is None or "three main causes" not in lead.text


def test_a_pronoun_line_follows_its_own_passage_and_fragments_are_dropped() -> None:
    from chatbot.dialogue.answers import without_dangling
    from chatbot.grounding import PassageSentence

    lead = PassageSentence(2, 0, "Hypoglycemia means the blood sugar is too low.")
    it = PassageSentence(2, 1, "It is usually defined as below 70 mg/dL.")
    other = PassageSentence(1, 3, "Glucagon can be given by anyone who has been shown how.")
    fragment = PassageSentence(1, 5, "- a fast or irregular heartbeat, or dizziness")
    assert without_dangling([it, other], after=lead) == [it, other]
    assert without_dangling([other, it], after=lead) == [other]  # "It" would read as glucagon
    assert without_dangling([other, fragment]) == [other]


def test_unstated_condition() -> None:
    from chatbot.planning import unstated_condition

    advice = "Book an appointment with a doctor if you have psoriasis and painful or swollen joints."
    assert unstated_condition(advice, "My hands swell and are stiff. Could it be arthritis?")
    assert not unstated_condition(advice, "I have psoriasis and my knees hurt")
    assert not unstated_condition("Call your local emergency number now if you have anaphylaxis.", "rash")
