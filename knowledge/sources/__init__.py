"""Source readers. ``load_source("medquad:DIR")`` -> (documents, skip report).

Spec strings: ``starter`` (the repository's knowledge/starter folder), ``medquad:DIR``,
``csv:FILE``, ``jsonl:FILE``, ``folder:DIR``.
"""

from __future__ import annotations

from pathlib import Path

from knowledge.documents import Document
from knowledge.errors import KnowledgeError
from knowledge.sources._common import SkipReport

STARTER_DIR = Path(__file__).resolve().parent.parent / "starter"
KINDS = ("starter", "medquad", "csv", "jsonl", "folder")

__all__ = ["KINDS", "STARTER_DIR", "SkipReport", "load_source", "load_sources", "parse_spec"]


def parse_spec(spec: str) -> tuple[str, Path | None]:
    kind, sep, rest = spec.strip().partition(":")
    kind = kind.strip().lower()
    if kind == "starter" and not rest:
        return "starter", STARTER_DIR
    if kind not in KINDS or not sep or not rest.strip():
        raise KnowledgeError(f"bad source {spec!r}: use starter, medquad:DIR, csv:FILE, jsonl:FILE or folder:DIR")
    return kind, Path(rest.strip()).expanduser()


def load_source(spec: str) -> tuple[list[Document], SkipReport]:
    """Documents of one source spec; a missing path is a KnowledgeError, bad items are counted."""
    kind, path = parse_spec(spec)
    assert path is not None
    if kind == "medquad":
        from knowledge.sources.medquad import read_medquad

        return read_medquad(path)
    if kind == "csv":
        from knowledge.sources.csv_source import read_csv

        return read_csv(path)
    if kind == "jsonl":
        from knowledge.sources.jsonl import read_jsonl

        return read_jsonl(path)
    from knowledge.sources.folder import read_folder

    if kind == "starter":
        return read_folder(path, source="starter")
    return read_folder(path)


def load_sources(specs: list[str]) -> tuple[list[Document], SkipReport]:
    """Documents of several sources, first occurrence of an id wins (duplicates counted)."""
    if not specs:
        raise KnowledgeError("no sources given (e.g. --source starter or --source medquad:DIR)")
    report = SkipReport()
    seen: set[str] = set()
    docs: list[Document] = []
    for spec in specs:
        got, rep = load_source(spec)
        report.merge(rep)
        for d in got:
            if d.id in seen:
                report.skip("duplicate ids", d.id)
                continue
            seen.add(d.id)
            docs.append(d)
    return docs, report
