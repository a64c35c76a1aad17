"""Passage choice on the starter knowledge base with the real MiniLM retriever: the hand audit's
wrong sentences (docs/evaluation/audit-2026-12-v2.md) that came from choosing the wrong passage.

No language model: extractive answers, so each turn is a retrieval and a sentence choice. One
index build for the module (about half a minute on 2 cores)."""

from __future__ import annotations

import re

import pytest

from chatbot.dialogue import DialogueService
from chatbot.llm.mock import MockGenerator
from chatbot.settings import load_settings
from chatbot.types import Reply

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> DialogueService:
    from knowledge import index as kindex
    from knowledge.sources import load_sources

    s = load_settings(data_dir=tmp_path_factory.mktemp("audit") / "data", dialogue={"answer_mode": "extractive"})
    docs, _ = load_sources(["starter"])
    kindex.build_index(
        docs, s.index_dir, kindex.open_embedder(s), config=kindex.chunker_config(s.knowledge, s.embedding)
    )
    retriever = kindex.load_retriever(s)
    return DialogueService(s, generator=MockGenerator(), retriever=retriever, embedder=retriever.embedder)  # type: ignore[attr-defined]


def docs(reply: Reply) -> set[str]:
    return {c.doc_id for c in reply.citations}


def test_a_follow_up_stays_with_the_document_it_follows(service: DialogueService) -> None:
    """F03: "how long does it take to heal?" after a burn quoted sprain self-care."""
    service.reply("I burned my hand on the stove and it has a blister. Is this serious?", session_id="burn")
    reply = service.reply("how long does it take to heal?", session_id="burn")
    assert docs(reply) == {"starter-minor-burns"}, reply.text
    assert "two weeks" in reply.text


def test_a_follow_up_does_not_drift_to_another_condition(service: DialogueService) -> None:
    """F02: "is it contagious?" after a cough quoted measles as if the cough were measles."""
    service.reply("My cough still hasn't gone away after two weeks. When should I see a doctor?", session_id="c")
    reply = service.reply("is it contagious?", session_id="c")
    assert "measles" not in reply.text.lower(), reply.text
    assert docs(reply) <= {"starter-cough-and-bronchitis"}, reply.text


def test_a_follow_up_naming_a_condition_is_a_new_topic(service: DialogueService) -> None:
    service.reply("Is shingles contagious?", session_id="s")
    reply = service.reply("how long does it last?", session_id="s")
    assert "starter-shingles" in docs(reply), reply.text
    reply = service.reply("what about chickenpox?", session_id="s")
    assert "starter-chickenpox" in docs(reply), reply.text


def test_a_passage_that_does_not_repeat_the_word_stays_on_topic(service: DialogueService) -> None:
    """P04: the sprains "When to seek care" passage never says "ankle"; it was filtered out and
    the reply said the sources do not cover a twisted ankle."""
    reply = service.reply("I twisted my ankle and it's really swollen. Do I need to see a doctor?")
    assert "no_relevant_source" not in reply.flags, reply.text
    assert "starter-sprains-and-strains" in docs(reply), reply.text


def test_a_blood_pressure_reading_is_about_blood_pressure(service: DialogueService) -> None:
    reply = service.reply("My blood pressure reading was 150/95 at the pharmacy. Is that serious?")
    assert "no_relevant_source" not in reply.flags, reply.text
    assert any("blood-pressure" in d for d in docs(reply)), reply.text


def test_a_question_about_a_child_quotes_nothing_only_about_adults(service: DialogueService) -> None:
    """P09: "Older adults may have a serious infection with only a mild fever" for a 2-year-old."""
    reply = service.reply("My 2 year old has a fever of 39C. Should I take him to the doctor?")
    assert not re.search(r"\b(?:older )?adults\b", reply.text, re.I), reply.text
    assert "starter-fever-in-children" in docs(reply)


def test_no_list_item_is_quoted_without_its_lead_in(service: DialogueService) -> None:
    """P01: "- you have a weak immune system or have had cancer, and a new headache" was quoted
    alone: the chunk boundary had carried it over without "Contact a doctor urgently ... if:"."""
    reply = service.reply("I've had a headache for three days now. Should I be worried?")
    bare = [line for line in reply.text.splitlines() if re.match(r"- [a-z]", line)]
    assert not bare, reply.text


def test_another_documents_advice_is_not_borrowed(service: DialogueService) -> None:
    """Hand audit v3: P15 quoted flu self-care ("stay home until the fever has gone") for morning
    sickness, P01 a concussion's "if headaches last more than two weeks" for a three-day headache."""
    reply = service.reply("I'm 10 weeks pregnant and feel sick all day. What can I do to ease it?")
    assert "fever has gone" not in reply.text, reply.text
    assert "starter-nausea-in-pregnancy" in docs(reply), reply.text
    reply = service.reply("I've had a headache for three days now. Should I be worried?")
    assert "two weeks" not in reply.text, reply.text
    assert "Call your local emergency number now if" in reply.text  # its own emergency signs stay


def test_advice_for_a_condition_the_patient_did_not_name_does_not_open(service: DialogueService) -> None:
    """Hand audit v3, L07: "Book an appointment ... if you have psoriasis and painful joints" opened an
    answer to someone describing swollen, stiff hands who never mentioned psoriasis."""
    reply = service.reply("My hands and ankles swell and are sore and stiff. Could it be arthritis?")
    first = next(line for line in reply.text.splitlines() if line.strip() and not line.endswith(":"))
    assert "if you have psoriasis" not in first, reply.text
