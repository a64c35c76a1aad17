"""Readers for the LiveQA-Med question set: questions XML, qrels and judged answers.

Formats (TREC 2017 LiveQA medical test set, as in ``shared/data/liveqa_med_dev``):
- questions: ``<NLM-QUESTION qid="TQn">`` with ``Original-Question/SUBJECT|MESSAGE``,
  ``NLM-Summary`` and expert reference answers (``RefAnswer`` or ``ReferenceAnswer`` holding
  ``ANSWER``);
- qrels: ``n grade answer_id`` a line, ``n`` the number in ``TQn``, grade like ``3-Incomplete``;
- judged answers: the ``AnswerID,Answer`` CSV (read with the knowledge CSV source).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from xml.etree import ElementTree as ET

from chatbot.evaluation.errors import EvaluationError

QuestionField = Literal["original", "summary"]

_WS = re.compile(r"\s+")
_QID = re.compile(r"^TQ(\d+)$")


def _clean(text: str | None) -> str:
    return _WS.sub(" ", text or "").strip()


@dataclass(frozen=True)
class LiveQAQuestion:
    id: str  # "TQ11"
    subject: str
    message: str
    summary: str = ""
    references: tuple[str, ...] = ()
    focus: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    qrels: dict[str, int] = field(default_factory=dict)  # answer id -> grade 1..4

    @property
    def original(self) -> str:
        """The consumer's message as sent: subject line, then body (as the retrieval benchmark uses it)."""
        return f"{self.subject}\n{self.message}".strip()

    def text(self, which: QuestionField = "original") -> str:
        return self.summary if which == "summary" and self.summary else self.original


def read_questions(path: Path) -> list[LiveQAQuestion]:
    """Questions of a LiveQA-format XML file, in file order."""
    path = Path(path)
    if not path.is_file():
        raise EvaluationError(f"questions file not found: {path}")
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as err:
        raise EvaluationError(f"questions file {path} is not valid XML: {err}") from None
    out = []
    for q in root.iter("NLM-QUESTION"):
        qid = (q.get("qid") or "").strip()
        if not qid:
            continue
        orig = q.find("Original-Question")
        subject = _clean(orig.findtext("SUBJECT")) if orig is not None else ""
        message = _clean(orig.findtext("MESSAGE")) if orig is not None else ""
        refs = tuple(
            t
            for el in q.iter()
            if el.tag in ("RefAnswer", "ReferenceAnswer")
            for t in [_clean(el.findtext("ANSWER"))]
            if t
        )
        out.append(
            LiveQAQuestion(
                id=qid,
                subject=subject,
                message=message,
                summary=_clean(q.findtext("NLM-Summary")) or _clean(q.findtext("NIST-PARAPHRASE")),
                references=refs,
                focus=tuple(_clean(f.text) for f in q.iter("FOCUS") if _clean(f.text)),
                types=tuple(_clean(t.text) for t in q.iter("TYPE") if _clean(t.text)),
            )
        )
    if not out:
        raise EvaluationError(f"no <NLM-QUESTION qid=...> elements in {path}")
    return out


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    """``{"TQn": {answer_id: grade}}`` from a qrels file; malformed lines are an error naming the line."""
    path = Path(path)
    if not path.is_file():
        raise EvaluationError(f"qrels file not found: {path}")
    out: dict[str, dict[str, int]] = {}
    for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 3:
            raise EvaluationError(f"{path}:{line_no}: expected 'n grade answer_id', got {line.strip()!r}")
        n, grade_s, answer = parts
        grade_head = grade_s.split("-", 1)[0]
        if not grade_head.isdigit():
            raise EvaluationError(f"{path}:{line_no}: grade {grade_s!r} does not start with a number")
        qid = n if n.startswith("TQ") else f"TQ{n}"
        out.setdefault(qid, {})[answer] = int(grade_head)
    return out


def attach_qrels(questions: list[LiveQAQuestion], qrels: dict[str, dict[str, int]]) -> list[LiveQAQuestion]:
    return [
        LiveQAQuestion(
            id=q.id,
            subject=q.subject,
            message=q.message,
            summary=q.summary,
            references=q.references,
            focus=q.focus,
            types=q.types,
            qrels=dict(qrels.get(q.id, {})),
        )
        for q in questions
    ]


def read_judged_texts(path: Path) -> dict[str, str]:
    """``{answer_id: answer text}`` of a judged-answers CSV (the knowledge CSV source parses it)."""
    from knowledge.errors import KnowledgeError
    from knowledge.sources.csv_source import read_csv

    try:
        docs, _ = read_csv(Path(path))
    except KnowledgeError as err:
        raise EvaluationError(str(err)) from None
    return {d.id: d.text for d in docs}


def question_number(qid: str) -> int:
    m = _QID.match(qid)
    return int(m.group(1)) if m else -1
