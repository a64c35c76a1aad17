"""Helpers shared by the source readers: text clean-up, tolerant file reading, skip counts."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

_SPACES = re.compile(r"[ \t\u00a0]+")
_TEMPLATES = (
    "what is (are)", "what is", "what are", "do you have information about", "what is the outlook for",
    "what are the symptoms of", "what causes", "how to diagnose", "what are the treatments for", "how to prevent",
    "who is at risk for", "what are the complications of", "what other information should i know about",
    "how many people are affected by", "what are the genetic changes related to", "is", "are",
)  # fmt: skip
# Longest first, so "what are the symptoms of" wins over "what are".
_TEMPLATE = re.compile(
    r"^\s*(?:" + "|".join(re.escape(t) for t in sorted(_TEMPLATES, key=len, reverse=True)) + r")\s+(.+?)"
    r"(?:\s+inherited)?\s*\??\s*(?:\(also called:.*)?$",
    re.IGNORECASE,
)


@dataclass
class SkipReport:
    """What a reader left out and why; ``str()`` gives a one-line summary for the CLI."""

    counts: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)

    def skip(self, reason: str, where: str = "") -> None:
        self.counts[reason] += 1
        if where and reason not in self.examples:
            self.examples[reason] = where

    def merge(self, other: SkipReport) -> None:
        self.counts.update(other.counts)
        for k, v in other.examples.items():
            self.examples.setdefault(k, v)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def __str__(self) -> str:
        if not self.counts:
            return "nothing skipped"
        parts = [
            f"{n} {reason}" + (f" (e.g. {self.examples[reason]})" if reason in self.examples else "")
            for reason, n in self.counts.most_common()
        ]
        return "skipped " + "; ".join(parts)


def clean_text(text: str) -> str:
    """Collapse the indentation and blank-line noise of XML/CSV answers, keeping line breaks."""
    lines = (_SPACES.sub(" ", line).strip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
    return "\n".join(line for line in lines if line)


def read_text(path: Path, report: SkipReport) -> str | None:
    """UTF-8 text of ``path``, or None (counted) when it is empty or not UTF-8."""
    try:
        raw = path.read_bytes()
    except OSError as err:
        report.skip("unreadable files", f"{path}: {err.strerror}")
        return None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        report.skip("non-UTF-8 files", str(path))
        return None
    if not text.strip():
        report.skip("empty files", str(path))
        return None
    return text


def focus_from_question(question: str) -> str:
    """The entity of a templated MedQuAD question ("What is (are) Acne ?" -> "Acne")."""
    q = question.strip()
    m = _TEMPLATE.match(q)
    if m:
        return m.group(1).strip(" ?")
    return re.sub(r"\s*\(also called:.*$", "", q, flags=re.IGNORECASE).strip(" ?")
