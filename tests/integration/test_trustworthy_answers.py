"""The answers of issue 14, on the real embedded model (shipped adapter, and the base model as the
workbench's "base" configuration) over the starter knowledge base: each opens with a correct
lead or the passage sentence that answers the question, and none echoes or reverses its source.

One index build, two model loads, six short generations (hybrid leads of at most 48 tokens)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from chatbot.dialogue import DialogueService
from chatbot.grounding import strip_citations
from chatbot.settings import Settings, load_settings
from chatbot.types import Reply

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
COUGH = "I have had a dry cough for three weeks, should I worry?"
REASSURANCE = re.compile(r"\b(?:not|no need to|don't|do not) (?:need to )?worry\b|\bnothing to worry\b", re.I)


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    from knowledge import index as kindex
    from knowledge.sources import load_sources

    tmp = tmp_path_factory.mktemp("trust")
    s = load_settings(data_dir=tmp / "data")  # the shipped defaults: hybrid, starter topics, adapter
    docs, _ = load_sources(["starter"])
    kindex.build_index(
        docs, s.index_dir, kindex.open_embedder(s), config=kindex.chunker_config(s.knowledge, s.embedding)
    )
    return s


def _service(settings: Settings, **llm: object) -> DialogueService:
    from chatbot.services import build_generator
    from knowledge import index as kindex

    s = settings.model_copy(update={"llm": settings.llm.model_copy(update=llm)}) if llm else settings
    # The converted model is cached in the project's data dir, shared with `make run`.
    s_models = s.model_copy(update={"data_dir": REPO / "data"})
    retriever = kindex.load_retriever(s)
    return DialogueService(s, generator=build_generator(s_models), retriever=retriever, embedder=retriever.embedder)  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def service(settings: Settings) -> DialogueService:
    return _service(settings)


def lead(reply: Reply) -> str:
    return strip_citations(reply.text.split("\n\n", 1)[0])


def assert_trustworthy(reply: Reply, question: str) -> None:
    """Nothing shown is unsupported; nothing echoes the question or reverses care advice."""
    shown = [c for c in reply.checks if c["text"] and strip_citations(c["text"]) in strip_citations(reply.text)]
    assert all(c["verdict"] == "supported" for c in shown), reply.checks
    assert not lead(reply).rstrip().endswith("?"), reply.text
    assert strip_citations(question).rstrip("?").lower() not in reply.text.lower()
    assert not REASSURANCE.search(reply.text), reply.text
    assert reply.citations and re.search(r"\[\d+\]", reply.text), reply.text


def test_should_i_worry_opens_with_when_to_get_care(service: DialogueService) -> None:
    reply = service.reply(COUGH, session_id="cough")
    assert_trustworthy(reply, COUGH)
    # The starter topics' care levels: "Book an appointment with a doctor if the cough lasts ..."
    assert re.search(r"\b(?:see|book an appointment with|contact) a doctor\b.*\bthree weeks\b", lead(reply), re.I), (
        reply.text
    )


def test_follow_up_does_not_reverse_the_source(service: DialogueService) -> None:
    service.reply(COUGH, session_id="night")
    reply = service.reply("what about at night?", session_id="night")
    assert_trustworthy(reply, "what about at night?")
    assert not re.match(r"^\W*(?:the answer is )?(?:yes|no)\b", lead(reply), re.I), reply.text


def test_definition_keeps_a_trigger_a_trigger(service: DialogueService) -> None:
    reply = service.reply("What is asthma?")
    assert_trustworthy(reply, "What is asthma?")
    assert "airways" in lead(reply) and not re.search(r"controlled by .*pollen", reply.text, re.I), reply.text


def test_yes_no_question_gets_the_sources_statement_on_topic(service: DialogueService) -> None:
    reply = service.reply("Is eczema contagious?")
    assert_trustworthy(reply, "Is eczema contagious?")
    assert re.search(r"\beczema\b.*\bnot contagious\b", lead(reply), re.I), reply.text


def test_base_model_configuration_does_not_reassure(settings: Settings) -> None:
    base = _service(settings, adapter=None)
    reply = base.reply(COUGH)
    assert_trustworthy(reply, COUGH)
    assert re.search(r"\b(?:see|book an appointment with|contact) a doctor\b", lead(reply), re.I), reply.text
