"""Follow-up rewriting, long-message reduction, profile terms, clarifying questions."""

from __future__ import annotations

import pytest

from chatbot import clarify
from chatbot.query import extract_topic, is_followup, profile_terms, reduce_question, understand
from chatbot.types import PatientProfile


@pytest.mark.parametrize(
    ("question", "topic"),
    [
        ("How is the flu treated?", "flu"),
        ("What are the symptoms of asthma?", "asthma"),
        ("Is chickenpox contagious?", "chickenpox"),
        ("what is high blood pressure", "high blood pressure"),
        ("What causes migraines?", "migraines"),
    ],
)
def test_extract_topic(question: str, topic: str) -> None:
    assert extract_topic(question) == topic


@pytest.mark.parametrize(
    ("message", "standalone"),
    [
        ("what about for kids?", "How is the flu treated for kids?"),
        ("What about children?", "How is the flu treated for children?"),
        ("and is it contagious?", "Is the flu contagious?"),
        ("how long does it last?", "How long does the flu last?"),
        ("symptoms?", "Symptoms of the flu?"),
        ("what about ibuprofen?", "How is the flu treated? What about ibuprofen?"),
    ],
)
def test_followups_become_standalone(message: str, standalone: str) -> None:
    u = understand(message, previous="How is the flu treated?", previous_topic="the flu")
    assert u.followup and u.query.standalone == standalone
    assert u.query.original == message


@pytest.mark.parametrize(
    "message",
    ["What causes migraines?", "How do I lower my cholesterol?", "Is chickenpox contagious for adults?"],
)
def test_new_questions_are_not_followups(message: str) -> None:
    assert not is_followup(message)
    u = understand(message, previous="How is the flu treated?", previous_topic="the flu")
    assert u.query.standalone == message


def test_followup_chain_keeps_the_topic() -> None:
    first = understand("What is shingles?")
    second = understand("is it contagious?", previous=first.query.standalone, previous_topic=first.topic)
    third = understand("how long does it last?", previous=second.query.standalone, previous_topic=second.topic)
    assert "shingles" in third.query.standalone


def test_no_previous_turn_means_no_rewrite() -> None:
    u = understand("is it contagious?")
    assert not u.followup and u.query.standalone == "is it contagious?"


def test_long_message_keeps_original_and_reduces_retrieval() -> None:
    message = (
        "Hi there. I am 45 and I have always been healthy, I walk my dog every day and I eat well, "
        "my sister is a nurse but she lives far away and I do not like to bother her with this. "
        "For three weeks I have had a dry cough that gets worse at night. What could cause a cough "
        "that lasts three weeks? Thanks a lot for your help."
    )
    u = understand(message)
    assert u.query.original == message.strip()
    assert len(u.query.retrieval.split()) < len(message.split())
    assert "cough" in u.query.retrieval and "dog" not in u.query.retrieval
    assert reduce_question("What is asthma?") == "What is asthma?"


def test_profile_terms() -> None:
    assert profile_terms(PatientProfile(age=4), "How is a cold treated?") == ["children"]
    assert profile_terms(PatientProfile(pregnant=True), "Is a flu shot safe?") == ["pregnancy"]
    assert profile_terms(PatientProfile(pregnant=True), "Is a flu shot safe in pregnancy?") == []
    meds = PatientProfile(medications=("warfarin",), conditions=("atrial fibrillation",))
    assert profile_terms(meds, "Can I take ibuprofen?") == ["warfarin", "atrial fibrillation"]
    assert profile_terms(meds, "What is a cold?") == []
    assert profile_terms(None, "What is a cold?") == []
    u = understand("How is a cold treated?", profile=PatientProfile(age_group="infant"))
    assert u.query.retrieval == "How is a cold treated? infants babies"


@pytest.mark.parametrize(
    ("message", "profile", "kind"),
    [
        ("What should I do about a fever?", None, clarify.FEVER_AGE),
        ("high temperature and chills, what helps?", PatientProfile(sex="male"), clarify.FEVER_AGE),
        ("My 3 year old has a fever", None, None),
        # fever as a feature of a condition: general knowledge, no age needed
        ("Is there always elevated temperature associated with appendicitis?", None, None),
        ("Is fever a symptom of appendicitis?", None, None),
        ("Is a high temperature usually part of the flu? We are worried.", None, clarify.FEVER_AGE),
        ("I have a fever and a sore throat", None, None),
        ("What should I do about a fever?", PatientProfile(age=40), None),
        ("Can I take ibuprofen for a headache?", PatientProfile(sex="female"), clarify.PREGNANCY),
        ("Can I take ibuprofen for a headache?", PatientProfile(sex="female", pregnant=False), None),
        ("Can I take ibuprofen while pregnant?", PatientProfile(sex="female"), None),
        ("Can I take ibuprofen for a headache?", PatientProfile(sex="male"), None),
        ("Can I take ibuprofen for a headache?", PatientProfile(sex="female", age=70), None),
        ("What is asthma?", PatientProfile(sex="female"), None),
    ],
)
def test_clarification_needed(message: str, profile: PatientProfile | None, kind: str | None) -> None:
    got = clarify.needed(message, profile, set())
    assert (got.category if got else None) == kind
    if got:
        assert got.label == "clarify" and got.message.count("?") == 1  # one short question
        assert kind is not None and clarify.needed(message, profile, {kind}) is None  # never asked twice


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("4", PatientProfile(age=4)),
        ("she's 7 years old", PatientProfile(age=7)),
        ("2 months", PatientProfile(age=0, age_group="infant")),
        ("a toddler", PatientProfile(age_group="child")),
        ("it's for me, an adult", PatientProfile(age_group="adult")),
        ("what is the best thermometer to buy for a household?", None),
    ],
)
def test_fever_age_answers(answer: str, expected: PatientProfile | None) -> None:
    assert clarify.apply_answer(clarify.FEVER_AGE, answer, None) == expected


@pytest.mark.parametrize(
    ("answer", "pregnant"),
    [
        ("yes", True),
        ("No, I'm not", False),
        ("not sure", True),
        ("maybe", True),
        ("nope", False),
        ("tell me about aspirin", None),
    ],
)
def test_pregnancy_answers(answer: str, pregnant: bool | None) -> None:
    got = clarify.apply_answer(clarify.PREGNANCY, answer, PatientProfile(sex="female"))
    assert (got.pregnant if got else None) == pregnant


@pytest.mark.parametrize(
    "message",
    [
        "Does my son's fever medicine go off after opening?",
        "Can I keep my daughter's fever syrup in the fridge?",
        "Can I take fever tablets in my hand luggage?",
        "Where do I get a sick note for my kid's fever?",
    ],
)
def test_storage_and_paperwork_questions_get_no_clinical_question(message: str) -> None:
    assert clarify.needed(message, None, set()) is None


def test_a_dose_question_still_asks_the_age() -> None:
    assert clarify.needed("What is the dose of paracetamol for a fever?", None, set()) is not None


@pytest.mark.parametrize(
    ("previous", "message", "topic", "in_standalone"),
    [
        # Hand audit v2: follow-ups that lost their topic (F02, F03, F08, F10).
        (
            "My cough still hasn't gone away after two weeks. When should I see a doctor?",
            "is it contagious?",
            "cough",
            "cough",
        ),
        (
            "I get heartburn every night. What can I do about it?",
            "what foods should I avoid?",
            "heartburn",
            "heartburn",
        ),
        ("What helps with hay fever?", "and for a child?", "hay fever", "hay fever for a child"),
        ("I burned my hand on the stove and it has a blister.", "how long does it take to heal?", None, "heal"),
    ],
)
def test_follow_ups_keep_their_topic(previous: str, message: str, topic: str | None, in_standalone: str) -> None:
    from chatbot.query import extract_topic, understand

    u = understand(message, previous=previous, previous_topic=extract_topic(previous))
    assert u.followup
    if topic is not None:
        assert u.topic == topic
    assert in_standalone in u.query.standalone.lower()


def test_a_new_condition_is_not_a_follow_up() -> None:
    from chatbot.query import understand

    assert not understand("what is eczema?", previous="What is asthma?", previous_topic="asthma").followup


def test_a_follow_up_naming_no_condition_is_carried_and_one_naming_a_condition_is_not() -> None:
    from chatbot.query import understand

    prev = "I burned my hand on the stove and it has a blister. Is this serious?"
    assert understand("how long does it take to heal?", previous=prev).carried
    assert understand("is it contagious?", previous="Is shingles contagious?").carried
    assert not understand("what about shingles?", previous=prev).carried
    assert not understand("how long does it take to heal?").carried  # no earlier turn


def test_contractions_and_pharmacies_are_not_topics() -> None:
    from chatbot.query import understand

    assert understand("I'm 10 weeks pregnant and feel sick all day. What can I do to ease it?").topic != "i'm"
    assert (
        understand("My blood pressure reading was 150/95 at the pharmacy. Is that serious?").topic == "blood pressure"
    )
