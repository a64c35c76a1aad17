"""Folder reader: Markdown and text files, with optional YAML front matter.

The starter knowledge base uses this format (``id``, ``title``, ``sources`` list, ``license``
in the front matter, ``## Section`` headings in the body). Sections are kept in
``metadata["sections"]`` so the chunker can title chunks "Asthma — Symptoms".
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from knowledge.documents import Document
from knowledge.errors import KnowledgeError
from knowledge.sources._common import SkipReport, read_text

_FRONT = re.compile(r"\A---[ \t]*\n(?P<yaml>.*?)\n---[ \t]*(?:\n|\Z)", re.DOTALL)
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$", re.MULTILINE)
SUFFIXES = (".md", ".markdown", ".txt")


def split_front_matter(text: str) -> tuple[dict[str, Any] | None, str]:
    """(front matter mapping or None, body); raises ValueError on bad YAML."""
    m = _FRONT.match(text)
    if not m:
        return None, text
    import yaml

    meta = yaml.safe_load(m.group("yaml")) or {}
    if not isinstance(meta, dict):
        raise ValueError("front matter is not a mapping")
    return meta, text[m.end() :]


def split_sections(body: str) -> list[tuple[str, str]]:
    """[(heading, text)] in order; text before the first heading has heading ""."""
    out: list[tuple[str, str]] = []
    matches = list(_HEADING.finditer(body))
    start_text = body[: matches[0].start()] if matches else body
    if start_text.strip():
        out.append(("", start_text.strip()))
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(body)
        text = body[m.end() : end].strip()
        if text:
            out.append((m.group(2).strip(), text))
    return out


def parse_markdown(path: Path, text: str, root: Path, report: SkipReport, source: str) -> Document | None:
    try:
        meta, body = split_front_matter(text)
    except Exception:  # yaml raises several error types; all mean the same to the user
        report.skip("files with malformed front matter", str(path))
        return None
    meta = meta or {}
    sections = split_sections(body)
    if not sections:
        report.skip("files without text", str(path))
        return None
    title = str(meta.get("title") or "")
    if not title:
        first = _HEADING.search(body)
        title = first.group(2).strip() if first and first.start() == body.find("#") else path.stem.replace("-", " ")
    urls = meta.get("sources") or meta.get("urls") or []
    if isinstance(urls, str):
        urls = [urls]
    urls = [str(u) for u in urls]
    url = str(meta.get("url") or (urls[0] if urls else ""))
    rel = path.relative_to(root).with_suffix("").as_posix()
    extra = {k: v for k, v in meta.items() if k not in {"id", "title", "sources", "urls", "url", "license", "question"}}
    return Document(
        id=str(meta.get("id") or f"{source}-{rel}"),
        text="\n\n".join(f"{h}\n{t}" if h else t for h, t in sections),
        title=title,
        question=str(meta["question"]) if meta.get("question") else None,
        url=url,
        source=source,
        license=str(meta.get("license") or ""),
        metadata={**extra, "sources": urls, "sections": [[h, t] for h, t in sections], "path": rel},
    )


def read_folder(directory: Path, *, source: str | None = None) -> tuple[list[Document], SkipReport]:
    directory = Path(directory)
    if not directory.is_dir():
        raise KnowledgeError(f"folder not found: {directory}")
    src = source or directory.name
    report = SkipReport()
    docs = []
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        if path.suffix.lower() not in SUFFIXES:
            if not path.name.startswith("."):
                report.skip("files that are not .md/.txt", str(path))
            continue
        if path.name.lower() in {"readme.md", "readme.txt"}:
            continue
        text = read_text(path, report)
        if text is None:
            continue
        doc = parse_markdown(path, text, directory, report, src)
        if doc is not None:
            docs.append(doc)
    return docs, report
