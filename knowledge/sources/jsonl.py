"""JSONL reader: one object a line with ``id`` and ``text`` (plus optional title, question, url, source, license)."""

from __future__ import annotations

import json
from pathlib import Path

from knowledge.documents import Document
from knowledge.errors import KnowledgeError
from knowledge.sources._common import SkipReport, clean_text, read_text

_KNOWN = {"id", "text", "title", "question", "url", "source", "license"}


def read_jsonl(path: Path) -> tuple[list[Document], SkipReport]:
    path = Path(path)
    if not path.is_file():
        raise KnowledgeError(f"JSONL file not found: {path}")
    report = SkipReport()
    text = read_text(path, report)
    if text is None:
        raise KnowledgeError(f"JSONL file {path} is empty or not UTF-8 ({report})")
    docs = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{line_no}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            report.skip("lines that are not JSON", where)
            continue
        if not isinstance(row, dict):
            report.skip("lines that are not JSON objects", where)
            continue
        doc_id, body = row.get("id"), row.get("text")
        if not isinstance(doc_id, str | int) or str(doc_id).strip() == "":
            report.skip("rows without id", where)
            continue
        if not isinstance(body, str) or not body.strip():
            report.skip("rows without text", where)
            continue
        question = row.get("question")
        docs.append(
            Document(
                id=str(doc_id).strip(),
                text=clean_text(body),
                title=str(row.get("title") or ""),
                question=str(question) if question else None,
                url=str(row.get("url") or ""),
                source=str(row.get("source") or path.stem),
                license=str(row.get("license") or ""),
                metadata={k: v for k, v in row.items() if k not in _KNOWN},
            )
        )
    return docs, report
