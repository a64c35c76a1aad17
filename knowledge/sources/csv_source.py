"""Judged-answers CSV reader (``AnswerID,Answer``, the LiveQA-Med format).

Answer cells look like ``Question: ...\\nURL: ...\\nAnswer: ...``; the parts are split out so
the stored question and URL become their own fields.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from knowledge.documents import Document
from knowledge.errors import KnowledgeError
from knowledge.sources._common import SkipReport, clean_text, focus_from_question, read_text
from knowledge.sources.medquad import MEDQUAD_LICENSE

_HEADED = re.compile(r"^\s*Question:\s*(?P<q>.*?)\s*\nURL:\s*(?P<url>\S*)\s*\nAnswer:\s*(?P<a>.*)$", re.DOTALL)


def parse_judged_answer(cell: str) -> tuple[str | None, str, str]:
    """(question, url, answer) of one ``Answer`` cell; plain cells are all answer."""
    m = _HEADED.match(cell)
    if not m:
        return None, "", clean_text(cell)
    return clean_text(m.group("q")) or None, m.group("url").strip(), clean_text(m.group("a"))


def read_csv(path: Path) -> tuple[list[Document], SkipReport]:
    path = Path(path)
    if not path.is_file():
        raise KnowledgeError(f"CSV file not found: {path}")
    report = SkipReport()
    text = read_text(path, report)
    if text is None:
        raise KnowledgeError(f"CSV file {path} is empty or not UTF-8 ({report})")
    reader = csv.DictReader(io.StringIO(text))
    fields = {f.strip().lower(): f for f in (reader.fieldnames or [])}
    id_col = fields.get("answerid") or fields.get("id")
    text_col = fields.get("answer") or fields.get("text")
    if not id_col or not text_col:
        raise KnowledgeError(f"CSV file {path} needs columns AnswerID,Answer (or id,text); found {reader.fieldnames}")
    docs = []
    try:
        for line_no, row in enumerate(reader, start=2):
            doc_id = (row.get(id_col) or "").strip()
            cell = row.get(text_col) or ""
            if not doc_id:
                report.skip("rows without id", f"{path}:{line_no}")
                continue
            question, url, answer = parse_judged_answer(cell)
            if not answer:
                report.skip("rows without answer text", f"{path}:{line_no}")
                continue
            source = doc_id.split("_", 1)[0] if "_" in doc_id else path.stem
            title = focus_from_question(question) if question else doc_id
            docs.append(
                Document(
                    id=doc_id,
                    text=answer,
                    title=title,
                    question=question,
                    url=url,
                    source=f"MedQuAD/{source}" if doc_id.endswith(".txt") else path.stem,
                    license=MEDQUAD_LICENSE if doc_id.endswith(".txt") else "",
                    metadata={"focus": title},
                )
            )
    except csv.Error as err:
        raise KnowledgeError(f"CSV file {path} is malformed near line {reader.line_num}: {err}") from None
    return docs, report
