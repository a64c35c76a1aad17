"""Property-based fuzzing (hypothesis) of the chunker, the prompt builder and the API's request
models: no exception other than the project's clear errors, no text lost by the chunker, and
retrieved sources always inside their fence however hostile their text, title or URL.
(The API as a whole is fuzzed from its OpenAPI schema with schemathesis in
tests/unit/test_api_fuzz.py.)
"""

from __future__ import annotations

import re
from typing import Any

import pydantic
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatbot import prompts
from chatbot.errors import HealthbotError
from chatbot.types import ChatMessage
from knowledge.chunking import Chunker, ChunkerConfig
from knowledge.documents import Chunk, Document
from knowledge.embedding import MockEmbedder

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)

# Text with the characters that break naive code: fences, brackets, newlines, zero-width and
# control characters, right-to-left marks, emoji, and long runs without spaces.
NASTY = st.lists(
    st.one_of(
        st.characters(codec="utf-8", exclude_categories=["Cs"]),
        st.sampled_from(["`", "```", "[", "]", "[1]", "\n", "\r", "\t", " ", "\u200b", "\u202e", ".", "!", "?", "#"]),
    ),
    max_size=200,
).map("".join)
WORDY = st.lists(
    st.one_of(st.from_regex(r"[A-Za-z]{1,12}[.!?]?", fullmatch=True), st.sampled_from(["\n", "e.g.", "Dr.", "x" * 90])),
    max_size=120,
).map(" ".join)


# ------------------------------------------------------------------------------ chunker


def _is_subsequence(needle: str, haystack: str) -> bool:
    it = iter(haystack)
    return all(ch in it for ch in needle)


def _subwords(text: str) -> int:
    # WordPiece-like: additive over words, long words cost several tokens (what the chunker assumes).
    return sum(-(-len(w) // 4) for w in text.split())


COUNTERS = {"mock_embedder": MockEmbedder(64).count_tokens, "subwords": _subwords}


@pytest.mark.parametrize("counter", sorted(COUNTERS))
@FUZZ
@given(
    text=st.one_of(NASTY, WORDY),
    title=NASTY.map(lambda s: s[:60]),
    chunk_tokens=st.integers(8, 64),
    overlap=st.integers(0, 7),
    sections=st.booleans(),
)
def test_chunker_keeps_every_character_within_budget(
    counter: str, text: str, title: str, chunk_tokens: int, overlap: int, sections: bool
) -> None:
    count = COUNTERS[counter]
    config = ChunkerConfig(chunk_tokens=chunk_tokens, overlap_tokens=overlap, max_seq_length=512)
    meta: dict[str, Any] = {"sections": [["Overview", text], ["", text[::-1]]]} if sections else {}
    doc = Document(id="d", title=title, text=text, metadata=meta)
    chunks = Chunker(count, config).chunk(doc)
    bodies = [t for _, t in meta["sections"]] if sections else [text]
    joined = "".join("".join(c.text.split()) for c in chunks)
    for body in bodies:
        assert _is_subsequence("".join(body.split()), joined), "text was lost"
    for c in chunks:
        head = c.metadata.get("heading", "")
        assert c.text.strip(), "empty chunk"
        used = count(c.text) + (count(head) + 1 if head else 0)
        assert used <= chunk_tokens or count(c.text) <= chunk_tokens, (used, chunk_tokens, c.text[:80])
    assert [c.position for c in chunks] == list(range(len(chunks)))
    assert len({c.id for c in chunks}) == len(chunks)


# ------------------------------------------------------------------------------ prompt builder

_LABEL = re.compile(r"^\[(\d+)\] ")


def _sources_block(turn: str) -> tuple[list[str], str]:
    """The lines between the sources fences, and the text after the closing fence."""
    lines = turn.split("\n")
    start = lines.index(prompts.SOURCES_HEADER)
    assert lines[start + 1] == prompts.SOURCES_FENCE
    end = lines.index(prompts.SOURCES_FENCE, start + 2)
    return lines[start + 2 : end], "\n".join(lines[end + 1 :])


@FUZZ
@given(
    question=NASTY.filter(lambda s: s.strip()),
    sources=st.lists(
        st.tuples(NASTY, NASTY.map(lambda s: s[:80]), NASTY.map(lambda s: s[:80])), min_size=1, max_size=5
    ),
    lead_only=st.booleans(),
)
def test_sources_always_stay_inside_their_fence(
    question: str, sources: list[tuple[str, str, str]], lead_only: bool
) -> None:
    chunks = [Chunk(id=f"d{i}#0", doc_id=f"d{i}", text=t, title=ti, url=u) for i, (t, ti, u) in enumerate(sources)]
    messages = prompts.build_messages(question, chunks, lead_only=lead_only, canary="SYSMARK-0001")
    assert messages[0] == ChatMessage("system", prompts.system_prompt(canary="SYSMARK-0001", lead_only=lead_only))
    assert [m.role for m in messages] == ["system", "user"]
    turn = messages[-1].content
    block, after = _sources_block(turn)
    # Everything a document supplies stays between the fences: the closing fence found is the
    # real one, exactly one label line per source, numbered 1..n in order.
    labels = [int(m.group(1)) for line in block if (m := _LABEL.match(line))]
    assert labels == list(range(1, len(chunks) + 1)), (labels, block[:6])
    assert not any(line.strip().startswith("```") for line in block)
    assert f"{prompts.QUESTION_LABEL} {question.strip()}" in after, "the question comes after the sources"
    assert "SYSMARK-0001" not in turn


# ------------------------------------------------------------------------------ API request models

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**12), 10**12) | st.floats(allow_nan=True) | NASTY,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(NASTY.map(lambda s: s[:12]), children, max_size=4)
    ),
    max_leaves=20,
)
ROLE = st.one_of(st.sampled_from(["system", "developer", "user", "assistant", "tool"]), JSON)
MESSAGE = st.fixed_dictionaries(
    {
        "role": ROLE,
        "content": st.one_of(
            NASTY,
            JSON,
            st.lists(
                st.fixed_dictionaries({"type": st.sampled_from(["text", "image_url"]) | JSON, "text": NASTY | JSON}),
                max_size=3,
            ),
        ),
    },
    optional={"name": JSON},
)
PROFILE = st.fixed_dictionaries(
    {},
    optional={
        "age": st.integers(-5, 200) | JSON,
        "age_group": st.sampled_from(["infant", "child", "teen", "adult", "older_adult"]) | JSON,
        "sex": st.sampled_from(["female", "male", "other"]) | JSON,
        "pregnant": st.booleans() | JSON,
        "conditions": st.lists(NASTY, max_size=25) | JSON,
        "medications": st.lists(NASTY, max_size=25) | JSON,
        "allergies": st.lists(NASTY, max_size=25) | JSON,
    },
)
REQUEST = st.one_of(
    JSON,
    st.fixed_dictionaries(
        {"messages": st.lists(MESSAGE, max_size=4)},
        optional={
            "model": JSON,
            "stream": st.booleans() | JSON,
            "max_tokens": st.integers(-5, 10**6) | JSON,
            "temperature": st.floats(-1, 3) | JSON,
            "profile": PROFILE | JSON,
            "user": JSON,
        },
    ),
)


@FUZZ
@given(body=REQUEST)
def test_chat_request_model_accepts_or_rejects_cleanly(body: Any) -> None:
    from chatbot.api import ChatCompletionRequest

    try:
        req = ChatCompletionRequest.model_validate(body)
    except pydantic.ValidationError:
        return
    assert req.messages
    for m in req.messages:
        assert isinstance(m.text(), str)
    if req.profile is not None:
        profile = req.profile.to_profile()
        assert all(len(x) <= 100 and x.strip() for x in (*profile.conditions, *profile.medications, *profile.allergies))
        assert len(profile.conditions) <= 20 and len(profile.medications) <= 20


RATING_FIELDS = [
    "config",
    "question",
    "answer",
    "consensus",
    "comprehension",
    "retrieval",
    "reasoning",
    "inappropriate_content",
    "missing_content",
    "harm_extent",
    "harm_likelihood",
    "bias",
    "citations_supported",
]


@FUZZ
@given(
    body=st.one_of(
        JSON,
        st.fixed_dictionaries(
            {
                k: st.one_of(NASTY, st.sampled_from(["aligned", "correct", "none", "low", "no", "yes"]), JSON)
                for k in RATING_FIELDS
            },
            optional={
                "comment": NASTY | JSON,
                "grounded_fraction": st.floats(-1, 2) | JSON,
                "flags": st.lists(NASTY, max_size=3) | JSON,
            },
        ),
    )
)
def test_rating_model_accepts_or_rejects_cleanly(body: Any) -> None:
    from chatbot.api import RatingIn
    from chatbot.storage import Rating

    try:
        rating = RatingIn.model_validate(body)
    except pydantic.ValidationError:
        return
    try:
        Rating(rater="dr_ada", **rating.model_dump())
    except HealthbotError as err:
        assert str(err) and "\n" not in str(err)
