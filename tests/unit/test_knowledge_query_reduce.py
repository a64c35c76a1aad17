"""Query reduction keeps the asking part of long consumer messages."""

from __future__ import annotations

from knowledge.query_reduce import informative_subject, reduce_question


def test_short_messages_come_back_whole() -> None:
    assert reduce_question("  What   causes gout? ") == "What causes gout?"
    assert reduce_question("are they gluten free", subject="amphetamine salts 20 mg") == (
        "amphetamine salts 20 mg. are they gluten free"
    )


def test_generic_subjects_are_dropped() -> None:
    for s in ("general health", "Customer Service Request", "Consultation", "can't find an answer", ""):
        assert not informative_subject(s)
    assert informative_subject("Noonan syndrome")
    assert reduce_question("How do you catch hepatitis?", subject="general health") == "How do you catch hepatitis?"


def test_long_message_keeps_question_sentences_and_opening() -> None:
    message = (
        "Hello. I take loperamide for chronic diarrhea and have done so for many years now. "
        "Then I stop it for about two days so that I can have a bowel movement, which is hard. "
        "But then the stool is really soft and a few times I almost did not make it to the bathroom in time. "
        "My husband thinks I should just keep taking it every single day without any break at all. "
        "Is there a safer way to use loperamide long term? Thank you very much."
    )
    out = reduce_question(message, subject="Diarrhea")
    assert out.startswith("Diarrhea. ")
    assert "Is there a safer way to use loperamide long term?" in out
    assert "I take loperamide" in out  # the opening names the drug
    assert "Thank you" not in out and "husband" not in out
    assert len(out.split()) <= 48 + 2


def test_huge_input_is_bounded() -> None:
    out = reduce_question("blah " * 100_000 + "What is asthma?")
    assert len(out.split()) <= 48
