"""Text for the faithfulness checker: normalised words and the units a passage is judged in.

:func:`tokens` is the one tokenisation both sides of a check go through (number words as
digits, "a week" as "1 week", British and American spellings met, contractions expanded);
:func:`passage_units` cuts a passage into the sentences and neighbouring pairs a sentence is
aligned to, list items joined to their lead-in line.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from chatbot.faithfulness_lexicon import (
    CONTRACTIONS,
    NUMBER_WORDS,
    PER_UNIT_WORDS,
    SINGULAR_UNIT,
    SPELLING,
    STOP,
    SYNONYMS,
    UNITS,
)

_CITE = re.compile(r"\s*\[\d+(?:\s*[,;]\s*\d+)*\]")
_TOKEN = re.compile(r"\d+(?:[.,]\d+)?|[a-z]+(?:-[a-z]+)*")
_LIST_ITEM = re.compile(r"^\s*(?:[-*\u2022]|\d+[.)])\s+")
_ONE_OF = re.compile(r"\bone (?:of|another)\b")  # "one of the symptoms" counts nothing
# "one" as a pronoun is no figure: "a small one may pass", "if you need one", "catch one over
# and over". It becomes "ones", which no number or stop list knows.
_PRONOUN_ONE = (
    re.compile(
        r"\b(a|the|no|another|this|that|each|every|any|which|fresh|new|old|small|big|large|little|bad|good|same|other) one\b"
    ),
    re.compile(
        r"\bone\b(?=\s*(?:[,.;:!?)\[]|$)|\s(?:over|on|who|that|which|is|was|you|if|may|might|can|could|will|would|gets|again)\b)"
    ),
)

# ------------------------------------------------------------------ text normalisation


def normalize(text: str) -> str:
    """Lower case, citations and list markers removed, contractions expanded."""
    text = _CITE.sub("", text).replace("\u2019", "'").lower()
    text = _LIST_ITEM.sub("", text)
    for pattern, repl in CONTRACTIONS:
        text = pattern.sub(repl, text)
    return " ".join(text.split())


def tokens(text: str) -> list[str]:
    """Normalised words: number words as digits, "a week" as "1 week", one spelling."""
    text = _ONE_OF.sub("among", normalize(text))
    text = _PRONOUN_ONE[1].sub("ones", _PRONOUN_ONE[0].sub(r"\1 ones", text))
    text = SINGULAR_UNIT.sub(r"1 \1", text)
    out: list[str] = []
    for t in _TOKEN.findall(text):
        if t[0].isdigit():
            out.append(t.replace(",", ""))
            continue
        t = NUMBER_WORDS.get(t, t)
        if t in PER_UNIT_WORDS:
            out.extend(PER_UNIT_WORDS[t].split())
            continue
        for pattern, repl in SPELLING:
            t = pattern.sub(repl, t)
        out.append(t)
    return out


@lru_cache(maxsize=50_000)
def stem(word: str) -> str:
    if word[0].isdigit():
        return word
    word = SYNONYMS.get(word, word)
    stemmed = _stemmer().stemWord(word)
    return SYNONYMS.get(stemmed, stemmed)


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer  # PyStemmer (a bm25s dependency): a real Snowball stemmer, tiny C extension

    return Stemmer.Stemmer("english")


def content(words: Sequence[str]) -> list[str]:
    return [stem(w) for w in words if w not in STOP and w not in UNITS and (len(w) > 2 or w[0].isdigit())]


# ------------------------------------------------------------------ passage units


# A lead-in ending in one of these runs on into its items ("See a doctor soon if" + "the cough
# lasts..."); any other is a label ("There are three main causes", "Body symptoms") and keeps its
# colon, or the joined sentence reads "There are three main causes allergies, such as...".
_RUNS_ON = frozenset(
    [
        "if",
        "when",
        "whenever",
        "or",
        "and",
        "are",
        "is",
        "include",
        "includes",
        "including",
        "to",
        "as",
        "with",
        "have",
        "has",
        "had",
        "after",
        "before",
        "unless",
        "because",
        "from",
        "of",
        "by",
        "for",
        "who",
        "that",
        "than",
        "can",
        "may",
        "should",
        "might",
        "like",
        "especially",
        "while",
        "until",
    ]
)


def join_lead_in(lead_in: str, item: str) -> str:
    """A list item with its lead-in line, as one sentence."""
    head = lead_in.strip().rstrip(":").strip()
    last = head.rsplit(None, 1)[-1].lower() if head else ""
    return f"{head} {item}" if last in _RUNS_ON else f"{head}: {item}"


def passage_units(passage: str) -> tuple[list[str], list[str]]:
    """Sentences of the passage (list items joined to their lead-in line: "See a doctor soon
    if:" + "- the cough lasts more than three weeks"), and pairs of neighbouring sentences."""
    from chatbot.query import split_sentences

    singles: list[str] = []
    lead_in = ""
    for piece in split_sentences(passage):
        if piece.startswith("#"):
            lead_in = ""
        elif _LIST_ITEM.match(piece):
            item = _LIST_ITEM.sub("", piece)
            singles.append(join_lead_in(lead_in, item) if lead_in else item)
            if item.endswith(":"):
                lead_in = ""  # a new lead-in run into the item (text flattened): its items have no owner
        else:
            singles.append(piece)
            lead_in = piece if piece.endswith(":") else ""
    return singles, [f"{a} {b}" for a, b in itertools.pairwise(singles)]
