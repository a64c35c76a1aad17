"""Sentence splitting for the text the bot quotes to patients (retrieved passages, answers).

``split_sentences(text)`` returns stripped, non-empty units in order:

* every line break is a boundary, so headings, lead-in lines ("... if:") and list items are
  their own units;
* inline list items ("include: - fever - cough", or a line that starts with "- ") are their
  own units, the "- " kept in front of the item;
* a sentence ends at ``.``, ``!``, ``?`` or an ellipsis, with any closing quotes/brackets and a
  citation written after the stop ("... them. [1]", "[1, 2]") kept with it; it does not end
  at abbreviations (U.S., e.g., Dr., St. John's wort, vs.), numbered-list markers ("1."),
  decimals ("2.5 mg"), or a stop followed by a lower-case word ("5 mg. twice daily").

Why hand-written rules and not pySBD, syntok, BlingFire, sentencex or Punkt:
``benchmarks/sentence_split.py`` scores them all (behind the same line/list/citation handling)
on a gold set from this knowledge base. On held-out MedQuAD paragraphs the best libraries tie
with these rules, but on the hard cases that patients get quoted each library breaks some
sentence: sentencex, BlingFire and Punkt cut "1." off numbered list items, pySBD and sentencex
cut "500 mg. twice a day" and "approx. 1 in 5", and all five join "vitamin D. Low levels";
and per 200-word passage pySBD takes 7-15 ms (over the 2 ms budget) and syntok 1-3 ms, where
these rules take 0.1-0.15 ms (2 shared cores). Pure ``re``, so importing this is cheap.
"""

from __future__ import annotations

import re
from itertools import pairwise

__all__ = ["split_sentences"]

_OPEN = "\"'“‘«([{¿¡*•"
# A stop: an ellipsis or a run of . ! ?, then closing quotes/brackets, then citations such as
# " [1]", "[1, 2]" or "[1-3]" or a footnote number ("countries.1 When") - all of which belong to
# the sentence before - then whitespace, or straight on to a capitalised word ("cut).Avoid").
_CITES = r"(?:\s*\[\d+(?:\s*[-–,;]\s*\d+)*\])*"
_STOP = re.compile(
    r"(\.\.\.|…|[.!?]+)[\"'”’»)\]]*" + _CITES + r"(?:(?<=[a-z][.!?])\d{1,2}(?=\s+[A-Z]))?"
    r"(?:(?=\s)|(?<=[a-z)][.!?])(?=[A-Z][a-z]{2}))"
)
# An inline list marker " - " right after a stop or a colon ("the following: - Tissue."), and
# an inline numbered list after a colon ("criteria: 1. The absence ...").
_LIST_AFTER_PUNCT = re.compile(r"(?<=[.!?:;])(?:[\"'”’)\]]*" + _CITES + r")\s+(?=[-•]\s)|(?<=:)\s+(?=1[.)]\s)")
# Two or more " - Capitalised" separators make a line a list ("You should - Know ... - Exercise").
_LIST_CAPS = re.compile(r"\s[-•]\s+[A-Z]")
# Any " - " / " • " separator, used once a line is known to be a list; "20 - 30 mg" is a range.
_LIST_ANY = re.compile(r"\s+(?=[-•]\s)(?!-\s+\d)|(?<!\d)\s+(?=[-•]\s)")
_BULLET_START = re.compile(r"[-•*]\s")

# Never end a sentence, whatever follows.
_NEVER_END = frozenset(
    ["e.g", "i.e", "eg", "ie", "cf", "vs", "v", "viz", "approx", "appr", "incl", "esp", "ca", "resp"]
)
# Titles and similar: never end a sentence before a capitalised word or a number.
_TITLES = frozenset(
    [
        "dr",
        "mr",
        "mrs",
        "ms",
        "mx",
        "prof",
        "st",
        "ste",
        "mt",
        "ft",
        "rev",
        "fr",
        "sr",
        "sen",
        "rep",
        "gov",
        "gen",
        "col",
        "capt",
        "lt",
        "sgt",
        "hon",
        "pres",
        "dept",
        "univ",
        "assn",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
    ]
)
# Before a number only ("No. 5", "Fig. 2", "p. 12").
_NUMBER_PREFIXES = frozenset(
    [
        "no",
        "nos",
        "nr",
        "fig",
        "figs",
        "vol",
        "vols",
        "p",
        "pp",
        "ch",
        "chap",
        "sec",
        "ref",
        "refs",
        "eq",
        "art",
        "tel",
        "ed",
    ]
)
# Capitalised words that commonly start a sentence: after an ambiguous abbreviation ("U.S.",
# "a.m.", "vitamin D.") one of these means the sentence ended.
_STARTERS = frozenset(
    [
        "a",
        "an",
        "the",
        "this",
        "that",
        "these",
        "those",
        "there",
        "here",
        "it",
        "its",
        "they",
        "their",
        "them",
        "he",
        "she",
        "his",
        "her",
        "we",
        "our",
        "you",
        "your",
        "i",
        "in",
        "on",
        "at",
        "for",
        "from",
        "by",
        "with",
        "without",
        "about",
        "after",
        "before",
        "during",
        "until",
        "if",
        "when",
        "whenever",
        "while",
        "although",
        "though",
        "because",
        "since",
        "as",
        "once",
        "unless",
        "whether",
        "where",
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "why",
        "how",
        "most",
        "many",
        "much",
        "some",
        "several",
        "all",
        "any",
        "each",
        "every",
        "either",
        "neither",
        "both",
        "other",
        "others",
        "another",
        "more",
        "less",
        "fewer",
        "only",
        "also",
        "however",
        "but",
        "and",
        "or",
        "so",
        "yet",
        "still",
        "then",
        "thus",
        "therefore",
        "instead",
        "such",
        "no",
        "not",
        "none",
        "nobody",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "first",
        "second",
        "third",
        "finally",
        "overall",
        "people",
        "patients",
        "children",
        "adults",
        "women",
        "men",
        "babies",
        "infants",
        "teens",
        "doctors",
        "researchers",
        "scientists",
        "treatment",
        "symptoms",
        "signs",
        "call",
        "see",
        "ask",
        "talk",
        "take",
        "use",
        "avoid",
        "try",
        "get",
        "do",
        "don't",
        "seek",
        "keep",
        "make",
        "tell",
        "stop",
        "go",
        "check",
        "learn",
        "read",
        "visit",
        "contact",
        "please",
        "note",
        "always",
        "never",
        "often",
        "sometimes",
        "usually",
        "rarely",
        "today",
        "now",
        "later",
        "experts",
        "studies",
        "research",
        "data",
    ]
)
_CONNECTORS = frozenset(["of", "and", "&", "for", "on", "in", "the", "de", "du", "la", "von", "van", "to", "at"])


def split_sentences(text: str) -> list[str]:
    """Stripped, non-empty sentences of ``text``; each line, heading and list item is a unit."""
    out: list[str] = []
    for line in text.splitlines():
        for item in _list_items(line.strip()):
            _split_item(item, out)
    return out


def _list_items(line: str) -> list[str]:
    """A line cut at its inline list markers; a line that is no list comes back whole."""
    if not line:
        return []
    if "- " not in line and "• " not in line and ": 1" not in line:
        return [line]
    cuts = [m.end() for m in _LIST_AFTER_PUNCT.finditer(line)]
    if _BULLET_START.match(line) or len(_LIST_CAPS.findall(line)) >= 2:
        first = 0  # the whole line is a list
    elif cuts:
        first = cuts[0]  # a list starts at the first marker after a colon or a stop
    else:
        return [line]
    # Within a list every " - " separates items.
    cuts = sorted({*cuts, *(m.end() for m in _LIST_ANY.finditer(line, first))})
    bounds = [0, *cuts, len(line)]
    return [p for a, b in pairwise(bounds) if (p := line[a:b].strip())]


def _split_item(item: str, out: list[str]) -> None:
    start = 0
    for m in _STOP.finditer(item):
        if _ends_sentence(item, m, start):
            piece = item[start : m.end()].strip()
            if piece:
                out.append(piece)
            start = m.end()
    tail = item[start:].strip()
    if tail:
        out.append(tail)


def _word_after(text: str, pos: int) -> tuple[str, int]:
    """The whitespace-delimited word at or after ``pos`` and the index just past it."""
    n = len(text)
    while pos < n and text[pos].isspace():
        pos += 1
    end = pos
    while end < n and not text[end].isspace():
        end += 1
    return text[pos:end], end


def _ends_sentence(text: str, m: re.Match[str], start: int) -> bool:
    """Whether the stop ``m`` (in the sentence that began at ``start``) ends that sentence."""
    nxt, nxt_end = _word_after(text, m.end())
    core = nxt.lstrip(_OPEN + "-–")
    first = core[:1]
    if first.islower() or first in ")]},;:%":  # "5 mg. twice daily", "e.g. aspirin", "etc. ) can"
        return False
    if m.group(1) != "." or m.end() > m.end(1):
        # ! ? … and a stop followed by a closing quote/bracket or a citation end the sentence.
        return True
    word_start = text.rfind(" ", start, m.start()) + 1
    prev = text[word_start : m.start()].lstrip(_OPEN)
    low = prev.lower()
    if low in _NEVER_END:
        return False
    if low in _TITLES and (first.isupper() or first.isdigit()):
        return False
    if first.isdigit():
        return low not in _NUMBER_PREFIXES
    if _is_list_marker(text, prev, word_start, start):
        return False
    if "." in prev or (len(prev) == 1 and prev.isupper()):
        return _after_ambiguous(text, prev, word_start, start, core, nxt_end)
    return True


def _is_list_marker(text: str, prev: str, word_start: int, start: int) -> bool:
    """ "1." / "a." opening a sentence, or right after a colon ("steps: 1. wash")."""
    if not ((prev.isdigit() and len(prev) <= 2) or (len(prev) == 1 and prev.isalpha())):
        return False
    before = text[start:word_start].strip()
    return not before or before.endswith(":")


def _after_ambiguous(text: str, prev: str, word_start: int, start: int, core: str, nxt_end: int) -> bool:
    """ "U.S.", "p.m.", "Ph.D.", "D." before a capitalised word: a boundary or a name?"""
    word = core.rstrip(".,;:!?\"'”’)]").lower()
    if word in _STARTERS or word in _TITLES:
        return True
    if len(prev) == 1:  # "vitamin D. Low levels" ends; "John F. Kennedy" does not
        before = text[start:word_start].split()
        return bool(before) and before[-1][:1].islower()
    # "U.S. Food and Drug Administration" is a name; "the U.S. Children are ..." is not.
    after, _ = _word_after(text, nxt_end)
    return bool(after) and after[:1].islower() and after.lower() not in _CONNECTORS
