"""Chunker: token budgets hold, sentences are kept whole when they fit, nothing is lost."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from knowledge.chunking import Chunker, ChunkerConfig, embedding_text, split_sentences
from knowledge.documents import Document
from knowledge.embedding import MockEmbedder

COUNT = MockEmbedder(64).count_tokens  # one token per word: easy to reason about


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def test_split_sentences_keeps_abbreviations_and_lines() -> None:
    text = "Take 5 mg daily, e.g. with food. Call Dr. Smith if worse!\n- item one\n- item two"
    assert split_sentences(text) == [
        "Take 5 mg daily, e.g. with food.",
        "Call Dr. Smith if worse!",
        "- item one",
        "- item two",
    ]


def test_chunks_respect_budget_overlap_and_metadata() -> None:
    sentences = [f"Sentence number {i} talks about asthma care." for i in range(40)]
    doc = Document(
        id="d1",
        text=" ".join(sentences),
        title="Asthma",
        question="What is asthma ?",
        url="u",
        source="s",
        license="L",
        metadata={"focus": "Asthma"},
    )
    chunker = Chunker(COUNT, ChunkerConfig(chunk_tokens=40, overlap_tokens=10, max_seq_length=256))
    chunks = chunker.chunk(doc)
    assert len(chunks) > 5
    for i, c in enumerate(chunks):
        assert c.id == f"d1#{i}" and c.position == i and c.doc_id == "d1"
        assert (c.title, c.question, c.url, c.source, c.license) == ("Asthma", "What is asthma ?", "u", "s", "L")
        assert c.metadata["focus"] == "Asthma" and c.metadata["heading"] == "What is asthma ?"
        # heading + chunk fit in the chunk budget (as counted by the embedder's tokenizer)
        assert COUNT(embedding_text(c)) <= 40 + 1
        assert c.text[0].isupper() and c.text.endswith(".")  # whole sentences only
    # consecutive chunks overlap by whole trailing sentences
    assert split_sentences(chunks[0].text)[-1] == split_sentences(chunks[1].text)[0]
    # every sentence appears somewhere
    joined = " ".join(c.text for c in chunks)
    assert all(s in joined for s in sentences)


def test_long_sentence_and_giant_word_are_split_not_truncated() -> None:
    long_sentence = " ".join(f"w{i}" for i in range(300)) + "."
    giant = "x" * 5000
    doc = Document(id="d", text=f"{long_sentence} {giant}", title="T")
    chunker = Chunker(COUNT, ChunkerConfig(chunk_tokens=50, overlap_tokens=0, max_seq_length=64))
    chunks = chunker.chunk(doc)
    assert all(COUNT(embedding_text(c)) <= 50 for c in chunks)
    assert _words(" ".join(c.text for c in chunks))[:300] == [f"w{i}" for i in range(300)]
    assert sum(c.text.count("x") for c in chunks) == 5000


def test_max_seq_length_caps_the_budget() -> None:
    doc = Document(id="d", text=" ".join(["word"] * 500), title="T")
    chunks = Chunker(COUNT, ChunkerConfig(chunk_tokens=400, overlap_tokens=0, max_seq_length=100)).chunk(doc)
    assert all(COUNT(embedding_text(c)) <= 100 - 2 for c in chunks)


def test_sections_become_titled_chunks() -> None:
    doc = Document(
        id="starter-asthma",
        text="",
        title="Asthma",
        metadata={"sections": [["What it is", "A lung condition."], ["Symptoms", "Wheezing."]]},
    )
    chunks = Chunker(COUNT).chunk(doc)
    assert [c.title for c in chunks] == ["Asthma — What it is", "Asthma — Symptoms"]
    assert embedding_text(chunks[1]) == "Asthma — Symptoms\nWheezing."
    assert "sections" not in chunks[0].metadata


def test_bad_config_is_rejected() -> None:
    with pytest.raises(ValueError, match="overlap"):
        ChunkerConfig(chunk_tokens=20, overlap_tokens=20)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.text(alphabet="abcdefghij .!?\n", min_size=0, max_size=80), min_size=1, max_size=30),
    st.integers(min_value=8, max_value=60),
    st.integers(min_value=0, max_value=7),
)
def test_property_budget_and_no_word_lost(parts: list[str], budget: int, overlap: int) -> None:
    text = " ".join(parts)
    doc = Document(id="p", text=text, title="")
    chunks = Chunker(COUNT, ChunkerConfig(chunk_tokens=budget, overlap_tokens=overlap, max_seq_length=512)).chunk(doc)
    for c in chunks:
        assert COUNT(embedding_text(c)) <= budget
    covered = set(_words(" ".join(c.text for c in chunks)))
    assert set(_words(text)) <= covered
