"""Checks on the shipped starter knowledge base (knowledge/starter/*.md).

Pure file checks (PyYAML + stdlib): the starter topics are user-facing medical text, so their
format, attribution and safety wording are guarded here rather than trusted to review alone.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml

STARTER = Path(__file__).resolve().parents[2] / "knowledge" / "starter"
# The folder reader skips README files, so the folder's own README is not a topic.
TOPICS = sorted(p for p in STARTER.glob("*.md") if p.name.lower() != "readme.md")

REQUIRED = ["What it is", "Symptoms", "When to seek care", "Self-care", "Treatment overview"]
OPTIONAL = {"In children", "In pregnancy", "In older adults", "Prevention"}
MIN_WORDS, MAX_WORDS = 230, 480
MIN_TOPICS = 40

_FRONT = re.compile(r"\A---[ \t]*\n(?P<yaml>.*?)\n---[ \t]*\n", re.DOTALL)
_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t]*$", re.MULTILINE)
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# First-person professional claims; the bot and its content must never present as a clinician.
_CLINICIAN_CLAIM = re.compile(
    r"(?<!such )\b(?:I am|I'm|we are|we're|as (?:a|your))\s+(?:an?\s+|your\s+)?"
    r"(?:(?:licensed|qualified|registered|medical)\s+)?"
    r"(?:doctor|physician|nurse|clinician|pharmacist|medical professional|GP)s?\b",
    re.IGNORECASE,
)
# Personalised dosing is left to the label or a clinician; lab units such as mg/dL are fine.
_DOSE = re.compile(
    r"\b\d+(?:[.,]\d+)?\s*(?:mg(?!/dl)|mcg|µg|milligrams?|micrograms?|ml|millilit(?:er|re)s?|IU)\b",
    re.IGNORECASE,
)


@cache
def _parse(path: Path) -> tuple[dict[str, Any], str]:
    text = path.read_text(encoding="utf-8")
    m = _FRONT.match(text)
    assert m, f"{path.name}: no YAML front matter block at the top"
    meta = yaml.safe_load(m.group("yaml"))
    assert isinstance(meta, dict), f"{path.name}: front matter is not a mapping"
    return meta, text[m.end() :]


def _sections(body: str) -> dict[str, str]:
    matches = list(_HEADING.finditer(body))
    out: dict[str, str] = {}
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(body)
        out[m.group(2)] = body[m.end() : end].strip()
    return out


def test_enough_topics() -> None:
    assert len(TOPICS) >= MIN_TOPICS, f"only {len(TOPICS)} starter topics"


def test_readme_present_and_not_a_topic() -> None:
    readme = STARTER / "README.md"
    assert readme.is_file()
    assert not readme.read_text(encoding="utf-8").startswith("---")


@pytest.mark.parametrize("path", TOPICS, ids=lambda p: p.stem)
def test_front_matter(path: Path) -> None:
    meta, _ = _parse(path)
    assert _SLUG.match(path.stem), f"{path.name}: file name is not a lowercase slug"
    assert meta.get("id") == f"starter-{path.stem}", f"{path.name}: id must be starter-<file stem>"
    assert isinstance(meta.get("title"), str) and meta["title"].strip(), f"{path.name}: missing title"
    sources = meta.get("sources")
    assert isinstance(sources, list) and sources, f"{path.name}: sources must be a non-empty list"
    for url in sources:
        parsed = urlparse(str(url))
        assert parsed.scheme == "https" and parsed.netloc, f"{path.name}: bad source URL {url!r}"
    assert len(set(sources)) == len(sources), f"{path.name}: duplicate source URL"
    license_ = meta.get("license")
    assert isinstance(license_, str) and "CC BY 4.0" in license_, f"{path.name}: licence must be CC BY 4.0"


def test_ids_and_titles_unique() -> None:
    ids = [_parse(p)[0]["id"] for p in TOPICS]
    titles = [str(_parse(p)[0]["title"]).lower() for p in TOPICS]
    assert len(set(ids)) == len(ids)
    assert len(set(titles)) == len(titles)


@pytest.mark.parametrize("path", TOPICS, ids=lambda p: p.stem)
def test_sections(path: Path) -> None:
    _, body = _parse(path)
    headings = [(len(m.group(1)), m.group(2)) for m in _HEADING.finditer(body)]
    assert body.lstrip().startswith("## "), f"{path.name}: text before the first section"
    assert all(level == 2 for level, _ in headings), f"{path.name}: only '## ' headings are used"
    names = [h for _, h in headings]
    assert [h for h in names if h in REQUIRED] == REQUIRED, f"{path.name}: required sections missing or out of order"
    unknown = set(names) - set(REQUIRED) - OPTIONAL
    assert not unknown, f"{path.name}: unexpected sections {sorted(unknown)}"
    assert len(names) == len(set(names)), f"{path.name}: repeated section"
    sections = _sections(body)
    for name in names:
        assert len(sections[name].split()) >= 15, f"{path.name}: section {name!r} is too thin"


@pytest.mark.parametrize("path", TOPICS, ids=lambda p: p.stem)
def test_emergency_guidance_comes_first(path: Path) -> None:
    care = _sections(_parse(path)[1])["When to seek care"]
    first_paragraph = care.split("\n\n")[0]
    assert "call your local emergency number" in first_paragraph.lower(), (
        f"{path.name}: 'When to seek care' must open with emergency signs"
    )
    assert re.search(r"\b(doctor|clinician|GP|pharmacist|nurse|health ?care)\b", care, re.IGNORECASE)


@pytest.mark.parametrize("path", TOPICS, ids=lambda p: p.stem)
def test_length(path: Path) -> None:
    words = len(_parse(path)[1].split())
    assert MIN_WORDS <= words <= MAX_WORDS, f"{path.name}: {words} words (want {MIN_WORDS}-{MAX_WORDS})"


@pytest.mark.parametrize("path", TOPICS, ids=lambda p: p.stem)
def test_safety_wording(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    claim = _CLINICIAN_CLAIM.search(text)
    assert claim is None, f"{path.name}: reads as a clinician claim: {claim.group(0)!r}"
    dose = _DOSE.search(text)
    assert dose is None, f"{path.name}: specific dose {dose.group(0)!r}; say 'follow the label or a clinician'"


def test_checks_catch_bad_wording() -> None:
    # Guards the guards: the patterns must fire on the phrasings they exist to stop.
    assert _CLINICIAN_CLAIM.search("As a doctor, I recommend rest.")
    assert _CLINICIAN_CLAIM.search("I'm a registered nurse")
    assert not _CLINICIAN_CLAIM.search("Ask a doctor or nurse if unsure.")
    assert not _CLINICIAN_CLAIM.search("a clinician such as a GP")
    assert _DOSE.search("take 400 mg every 6 hours")
    assert _DOSE.search("give 5 ml of syrup")
    assert not _DOSE.search("below 70 mg/dL")
