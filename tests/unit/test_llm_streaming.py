"""Stop strings and the degenerate-loop guard, fed the way a token stream arrives."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from chatbot.llm.streaming import RepetitionGuard, StopMatcher


def feed_all(guard: RepetitionGuard, deltas: list[str]) -> int | None:
    for i, d in enumerate(deltas):
        if guard.feed(d):
            return i
    return None


def test_guard_trips_on_third_occurrence_of_a_4gram() -> None:
    text = "the cat sat on " * 5
    deltas = [text[i : i + 3] for i in range(0, len(text), 3)]
    guard = RepetitionGuard(3)
    tripped = feed_all(guard, deltas)
    assert tripped is not None
    consumed = "".join(deltas[: tripped + 1])
    assert consumed.count("the cat sat on") == 3


def test_guard_ignores_varied_text_and_counts_words_case_insensitively() -> None:
    guard = RepetitionGuard(3)
    assert feed_all(guard, ["Asthma narrows the airways. ", "Inhalers relieve symptoms. ", "See a clinician."]) is None
    guard = RepetitionGuard(2)
    assert feed_all(guard, ["Drink Water Every Day. ", "drink water every day"]) is None  # last word still open
    assert guard.feed(".") is True


def test_guard_does_not_split_words_across_deltas() -> None:
    guard = RepetitionGuard(2)
    # "rest" arrives as "re" + "st": counted once as one word, not as "re" and "st".
    assert feed_all(guard, ["you should re", "st well ", "you should rest well "]) == 2
    assert guard.words[:4] == ["you", "should", "rest", "well"]


def test_stop_matcher_holds_back_prefix_and_cuts_at_stop() -> None:
    m = StopMatcher(("\nUser:",))
    assert m.push("Hello there") == ("Hello there", False)
    assert m.push("\nUs") == ("", False)
    assert m.push("er: next") == ("", True)


def test_stop_matcher_releases_false_alarm() -> None:
    m = StopMatcher(("STOP",))
    assert m.push("ST") == ("", False)
    assert m.push("ay calm") == ("STay calm", False)
    assert m.flush() == ""


def test_stop_matcher_without_stops_is_passthrough() -> None:
    m = StopMatcher(())
    assert m.push("abc") == ("abc", False)


@given(st.text(max_size=60), st.lists(st.integers(min_value=1, max_value=7), max_size=20))
def test_stop_matcher_output_is_text_before_first_stop(text: str, cuts: list[int]) -> None:
    stop = "##"
    pieces, pos = [], 0
    for c in cuts:
        pieces.append(text[pos : pos + c])
        pos += c
    pieces.append(text[pos:])
    m = StopMatcher((stop,))
    out = []
    for p in pieces:
        emitted, stopped = m.push(p)
        out.append(emitted)
        if stopped:
            break
    else:
        out.append(m.flush())
    expected = text.split(stop)[0]
    assert "".join(out) == expected
