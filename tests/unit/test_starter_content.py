"""Checks on the shipped starter knowledge base (knowledge/starter/*.md).

File checks (PyYAML + stdlib, plus the project's own red-flag triage): the starter topics are
user-facing medical text, quoted word for word, so their format, attribution, care levels and
safety wording are guarded here rather than trusted to review alone.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml

from chatbot.safety.triage import red_flags

STARTER = Path(__file__).resolve().parents[2] / "knowledge" / "starter"
# The folder reader skips README files, so the folder's own README is not a topic.
TOPICS = sorted(p for p in STARTER.glob("*.md") if p.name.lower() != "readme.md")

REQUIRED = ["What it is", "Symptoms", "When to seek care", "Self-care", "Treatment overview"]
OPTIONAL = {"In children", "In pregnancy", "In older adults", "Prevention"}
MIN_WORDS, MAX_WORDS = 230, 480
MIN_TOPICS = 40

# "When to seek care" uses exactly these three levels, with these lead-in lines, in this order
# (knowledge/starter/README.md). Each lead-in is followed by a bulleted list.
CARE_LEVELS: tuple[tuple[str, str], ...] = (
    ("emergency", "Call your local emergency number now if:"),
    ("same day", "Contact a doctor urgently, the same day, if:"),
    ("appointment", "Book an appointment with a doctor if:"),
)
LOWER_LEVELS = ("same day", "appointment")

# Situations that mainstream guidance (NHS, CDC, NICE, AAP) treats as an emergency. None of these
# phrasings may appear in a bullet under a lower level; each entry is one situation, matched on the
# lower-cased bullet. When a new topic needs one of them, it goes under the emergency lead-in.
EMERGENCY_SITUATIONS: dict[str, tuple[str, ...]] = {
    "breathing pauses": (
        r"\bbreathing pauses?\b",
        r"\bpauses? (?:in|between) (?:\w+ )?breath",
        r"\b(?:stops?|stopped|stopping) breathing\b",
        r"\bnot breathing\b",
    ),
    "blue or grey colour": (
        r"\b(?:blue|bluish|grey|gray|greyish|grayish|ashen)\b(?:,? (?:or |and )?\w+){0,3} (?:lips|skin|tongue|face|fingertips|colou?r)\b",
        r"\b(?:lips|skin|tongue|face|fingertips)\b[^.;]{0,25}\b(?:blue|bluish|grey|gray|ashen)\b",
        r"\b(?:turns?|turning|turned|goes|going|gone) (?:blue|grey|gray)\b",
    ),
    "face drooping": (r"\bdroop", r"\bone side of (?:the|their|your|his|her) (?:face|body)\b"),
    "slurred speech": (r"\bslurr",),
    "cannot breathe": (
        r"\b(?:cannot|can't|can not|unable to|struggling to|struggles to|fighting to) (?:breathe|catch (?:their|your|a) breath)\b",
        r"\b(?:severe|great|serious) (?:trouble|difficulty|shortness of breath)",
        r"\bgasping\b",
    ),
    "unconscious or will not wake": (
        r"\bunconscious\b",
        r"\bunresponsive\b",
        r"\bnot responding\b",
        r"\b(?:will not|won't|cannot|can't|can not) (?:be )?(?:woken|wake)\b",
        r"\b(?:hard|difficult) to (?:wake|rouse)\b",
        r"\bcollapses?\b|\bcollapsed\b",
        r"\bknocked out\b",
    ),
    "floppy": (r"\bfloppy\b", r"\b(?:is|are|goes|gone|went|seems?|looks?|becomes?|became) (?:very |unusually )?limp\b"),
    "seizure lasting more than 5 minutes": (
        r"\b(?:seizure|fit|convulsion)s?\b[^.;]{0,40}\b(?:more than|over|longer than) (?:5|five) minutes\b",
        r"\bfirst (?:ever )?(?:seizure|fit)\b",
        r"\b(?:seizure|fit)s? (?:that )?(?:will not|won't|does not|doesn't) stop\b",
    ),
    "heavy bleeding that will not stop": (
        r"\bheavy bleeding\b",
        r"\bbleeding (?:is |that is )?(?:heavy|very heavy|spurting)\b",
        r"\bbleed(?:ing|s)?\b[^.;]{0,30}\b(?:will not|won't|does not|doesn't|cannot be|can't be) (?:stop|slow|settle)",
        r"\bspurting\b",
        r"\b(?:a lot of|lots of) blood\b",
        r"\bsoak(?:s|ing|ed)? (?:through )?(?:a |one )?(?:pad|towel)",
    ),
    "severe headache in pregnancy": (
        r"^(?=.*\b(?:pregnan\w*|given birth|gave birth|after (?:the )?birth|had a baby))"
        r"(?=.*\b(?:severe|bad|sudden|worst|strong|terrible)\b[^.;]{0,25}\bheadaches?\b)",
        r"\bpre-?eclampsia\b",
    ),
    "rash that does not fade": (
        r"\brash\b[^.;]{0,40}\b(?:does not|doesn't|do not|don't|will not|won't) fade\b",
        r"\bnon-?blanching\b",
        r"\bglass (?:is )?pressed\b|\bglass test\b",
    ),
    "vomiting blood": (
        r"\bvomit(?:s|ing|ed)? (?:up )?(?:fresh |bright red )?blood\b",
        r"\bblood in (?:the |your |their )?vomit\b",
        r"\bcoffee grounds\b",
        r"\b(?:black|tarry|black, tarry)[^.;]{0,10}\b(?:stools?|poo|poop)\b",
    ),
    "heart attack signs": (
        r"\bchest (?:pain|pressure|tightness|discomfort)\b[^.;]{0,40}\b(?:spread\w*|arm|jaw|sweat\w*|does not go away|doesn't go away)",
        r"\b(?:crushing|squeezing) (?:chest )?(?:pain|pressure)\b",
        r"\bsevere chest pain\b",
    ),
    "anaphylaxis": (
        r"\bswelling of the (?:\w+,? (?:or |and )?)*(?:tongue|throat)\b",
        r"\b(?:tongue|throat) (?:swells|swelling|is swollen|swollen|closing|tightens|tight)\b",
        r"\banaphyla",
    ),
    "baby under three months with a fever": (
        r"^(?=.*\b(?:under|younger than|less than) (?:3|three) months\b)(?=.*\b(?:fever|temperature|38|100\.4)\b)",
    ),
    "meningitis or sepsis signs": (
        r"^(?=.*\bstiff neck\b)(?=.*\b(?:fever|temperature|rash|headache|light|drowsy|confused)\b)",
        r"\bmottled\b",
    ),
    "suicide or self-harm in progress": (
        r"\bimmediate danger\b",
        r"\bplan to (?:end|take) (?:their|your|his|her) (?:own )?life\b",
        r"\b(?:has|have) harmed (?:themselves|yourself|himself|herself)\b",
        r"\bmay act on\b",
    ),
    "severe burn": (
        r"\b(?:larger|bigger) than (?:the )?(?:palm|hand)\b|\b(?:person's|their|your) palm\b",
        r"\bburn\w*\b[^.;]{0,40}\b(?:white|leathery|charred)\b",
        r"\bburn\w*\b[^.;]{0,30}\b(?:a baby|an infant|a newborn)\b|\b(?:a baby|an infant|a newborn)\b[^.;]{0,30}\bburn",
        r"\bburn\w*\b[^.;]{0,20}\b(?:electric\w*|chemical)\b",
    ),
}
_EMERGENCY_RX: dict[str, tuple[re.Pattern[str], ...]] = {
    name: tuple(re.compile(p) for p in patterns) for name, patterns in EMERGENCY_SITUATIONS.items()
}
# A lead-in line that is not one of the three levels ("See a doctor soon if:", "Contact a doctor
# urgently the same day if:"), and "soon" used as a level anywhere ("see a GP soon").
_LEAD_IN_LIKE = re.compile(r"^[^-*\s].*\bif:\s*$|^[^-*\s].*\bsoon\b.*:\s*$", re.IGNORECASE)
_SOON_LEVEL = re.compile(
    r"\b(?:see|contact|call|speak to|talk to|ask|get advice from|get help from|visit|get checked by)\b"
    r"(?:\s+[\w,]+){0,6}?\s+soon\b",
    re.IGNORECASE,
)
_BULLET = re.compile(r"^[-*]\s+(?P<item>\S.*)$")

# Sources come from authoritative public-health sites only. This is the one list: the README
# names the same domains (test_readme_lists_the_allowed_domains). A subdomain counts, so
# "nih.gov" covers its institutes (niddk.nih.gov, nhlbi.nih.gov, ...).
ALLOWED_SOURCE_DOMAINS = (
    "nhs.uk",
    "cdc.gov",
    "medlineplus.gov",
    "nih.gov",
    "who.int",
    "nice.org.uk",
    "aap.org",
    "healthychildren.org",
    "fda.gov",
    "mayoclinic.org",
    "cancer.gov",
    "heart.org",
    "acog.org",
    "nhs.scot",
    "nhsinform.scot",
    "hse.ie",
    "betterhealth.vic.gov.au",
    "healthdirect.gov.au",
    "smokefree.gov",
    "stopthebleed.org",
)
# UK and Irish health sites spell their page paths the UK way; a US spelling there is a dead link
# (for example nhs.uk/conditions/diarrhea-and-vomiting/ instead of .../diarrhoea-and-vomiting/).
_UK_SITES = ("nhs.uk", "nhs.scot", "nhsinform.scot", "nice.org.uk", "hse.ie")
_US_SPELLING = re.compile(
    r"(?<![a-z])(?:diarrhea|\w*anemia|\w*glycemi\w*|generaliz\w*|esophag\w*|edema|leukemia|pediatric\w*|"
    r"gynecolog\w*|estrogen|hemorrh\w*|tumor\w*|color|behavior\w*|center|celiac|ischemic|fetal|"
    r"orthoped\w*|labor|organiz\w*|recogniz\w*)(?![a-z])"
)

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


def _host(url: str) -> str:
    host = (urlparse(url).hostname or "").lower()
    return host[4:] if host.startswith("www.") else host


def _source_problems(url: str) -> list[str]:
    """Why a source URL is not acceptable (an empty list when it is)."""
    host = _host(url)
    problems = []
    if not any(host == d or host.endswith("." + d) for d in ALLOWED_SOURCE_DOMAINS):
        problems.append(f"source host {host!r} is not on the allowed-domain list ({url})")
    if any(host == d or host.endswith("." + d) for d in _UK_SITES):
        us = _US_SPELLING.search(urlparse(url).path.lower())
        if us:
            problems.append(f"UK site path uses US spelling {us.group(0)!r} ({url})")
    return problems


def _care_levels(care: str) -> tuple[dict[str, list[str]], list[str]]:
    """The bullets under each care level, and what is wrong with the layout."""
    lines = [line.rstrip() for line in care.strip().splitlines()]
    leads = [lead for _, lead in CARE_LEVELS]
    problems: list[str] = []
    for level, lead in CARE_LEVELS:
        count = sum(1 for line in lines if line.strip() == lead)
        if count != 1:
            problems.append(f"the {level} lead-in {lead!r} appears {count} times (want exactly once)")
    for line in lines:
        if line.strip() not in leads and _LEAD_IN_LIKE.match(line.strip()):
            problems.append(f"lead-in {line.strip()!r} is not one of the three care levels")
    soon = _SOON_LEVEL.search(care)
    if soon:
        problems.append(f"'soon' used as a care level: {soon.group(0)!r}")
    if problems:
        return {}, problems
    positions = [next(i for i, line in enumerate(lines) if line.strip() == lead) for lead in leads]
    if positions != sorted(positions):
        problems.append("care levels out of order (want emergency, same day, appointment)")
        return {}, problems
    if positions[0] != 0:
        problems.append("'When to seek care' must open with the emergency lead-in line")
    bullets: dict[str, list[str]] = {}
    for n, (level, _lead) in enumerate(CARE_LEVELS):
        start = positions[n] + 1
        end = positions[n + 1] if n + 1 < len(positions) else len(lines)
        block = lines[start:end]
        first = next((line for line in block if line.strip()), "")
        if not _BULLET.match(first.strip()):
            problems.append(f"the {level} lead-in is not followed by a bulleted list")
        bullets[level] = [m.group("item") for line in block if (m := _BULLET.match(line.strip()))]
    return bullets, problems


def _emergency_phrases(item: str) -> list[str]:
    """The emergency situations a bullet describes (declarative list)."""
    text = item.lower().replace("\u2019", "'")
    return [name for name, patterns in _EMERGENCY_RX.items() if any(p.search(text) for p in patterns)]


def _care_problems(care: str) -> list[str]:
    """Everything wrong with a 'When to seek care' section (an empty list when nothing is)."""
    bullets, problems = _care_levels(care)
    for level in LOWER_LEVELS:
        for item in bullets.get(level, []):
            for situation in _emergency_phrases(item):
                problems.append(f"emergency situation ({situation}) under the {level} level: {item!r}")
            for finding in red_flags(item):
                if finding.strength == "strong":
                    problems.append(
                        f"triage red flag ({finding.category}: {finding.evidence!r}) under the {level} level: {item!r}"
                    )
    return problems


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
        problems = _source_problems(str(url))
        assert not problems, f"{path.name}: " + "; ".join(problems)
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
def test_care_levels(path: Path) -> None:
    care = _sections(_parse(path)[1])["When to seek care"]
    problems = _care_problems(care)
    assert not problems, f"{path.name}: " + "; ".join(problems)


@pytest.mark.parametrize("path", TOPICS, ids=lambda p: p.stem)
def test_soon_is_never_a_care_level(path: Path) -> None:
    body = _parse(path)[1]
    soon = _SOON_LEVEL.search(body)
    assert soon is None, f"{path.name}: 'soon' used as a care level: {soon.group(0)!r}"


def test_care_levels_match_the_answer_code() -> None:
    # README: the same levels are used by the answer code and the triage (chatbot/prompts.py).
    from chatbot import prompts

    code_levels = getattr(prompts, "CARE_LEVELS", None)
    if code_levels is None:
        pytest.skip("chatbot/prompts.py has no CARE_LEVELS yet")
    assert list(code_levels.values()) == [lead for _, lead in CARE_LEVELS]


def test_readme_lists_the_allowed_domains() -> None:
    readme = (STARTER / "README.md").read_text(encoding="utf-8")
    rule = re.search(r"^- Every `sources` URL.*?(?=^- |^#|\Z)", readme, re.MULTILINE | re.DOTALL)
    assert rule, "README.md: the allowed-domain rule ('- Every `sources` URL ...') is missing"
    named = {d for d in re.findall(r"`([a-z0-9.-]+\.[a-z]{2,})`", rule.group(0))}
    assert named == set(ALLOWED_SOURCE_DOMAINS), (
        f"README.md and ALLOWED_SOURCE_DOMAINS differ: only in README {sorted(named - set(ALLOWED_SOURCE_DOMAINS))}, "
        f"only in the test {sorted(set(ALLOWED_SOURCE_DOMAINS) - named)}"
    )


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


_GOOD_CARE = """Call your local emergency number now if:
- a child's breathing pauses, or their lips turn blue or grey
- the person cannot be woken

Contact a doctor urgently, the same day, if:
- you cough up blood, even a small amount

Book an appointment with a doctor if:
- the cough lasts more than three weeks

In pregnancy, your midwife or maternity unit can be contacted the same way.
"""


def test_care_checks_catch_bad_sections() -> None:
    # Guards the guards: the care-level checks must fire on the layouts and placements they stop.
    assert _care_problems(_GOOD_CARE) == []
    soon = _GOOD_CARE.replace("Book an appointment with a doctor if:", "See a doctor soon if:")
    assert any("not one of the three" in p for p in _care_problems(soon))
    assert any(
        "soon" in p
        for p in _care_problems("Call your local emergency number now if:\n- x\n\nSee a GP soon if it lasts.")
    )
    assert _SOON_LEVEL.search("contact your diabetes team soon if readings are high")
    assert not _SOON_LEVEL.search("antiviral medicine works best when started soon after the rash appears")
    swapped = (
        _GOOD_CARE.replace("Contact a doctor urgently, the same day, if:", "@@")
        .replace("Book an appointment with a doctor if:", "Contact a doctor urgently, the same day, if:")
        .replace("@@", "Book an appointment with a doctor if:")
    )
    assert any("out of order" in p for p in _care_problems(swapped))
    no_list = _GOOD_CARE.replace("- you cough up blood, even a small amount\n", "You may cough up blood.\n")
    assert any("not followed by a bulleted list" in p for p in _care_problems(no_list))
    missing = _GOOD_CARE.replace("Call your local emergency number now if:", "Call 911 if:")
    assert _care_problems(missing)
    # (a) the declarative emergency phrases, under a lower level
    for item in (
        "a child with whooping cough has breathing pauses",
        "the lips look blue",
        "a baby is floppy after a vaccine",
        "the face is drooping",
        "a seizure lasts more than 5 minutes",
        "heavy bleeding that will not stop",
        "you are pregnant and have a bad headache",
        "a rash that does not fade when a glass is pressed on it",
        "you vomit blood",
        "a baby under three months has a temperature of 38C",
        "the burn is larger than the person's palm",
    ):
        bad = _GOOD_CARE.replace("the cough lasts more than three weeks", item)
        assert any("emergency situation" in p for p in _care_problems(bad)), item
        assert _emergency_phrases(item), item
    assert not _emergency_phrases("you cough up blood, even a small amount")
    assert not _emergency_phrases("you are pregnant and your blood pressure is raised")
    # (b) the triage red flags, also for phrasings the list above does not name
    overdose = _GOOD_CARE.replace(
        "you cough up blood, even a small amount", "someone has taken too many pills and is drowsy"
    )
    assert any("triage red flag (overdose" in p for p in _care_problems(overdose))
    assert not _emergency_phrases("someone has taken too many pills and is drowsy")
    chest = _GOOD_CARE.replace(
        "you cough up blood, even a small amount", "you feel short of breath and have chest pain"
    )
    assert any("triage red flag (chest_pain" in p for p in _care_problems(chest))
    # sources
    assert _source_problems("https://www.niddk.nih.gov/health-information/x") == []
    assert _source_problems("https://smokefree.gov/") == []
    assert _source_problems("https://example.com/health")
    assert _source_problems("https://evilnhs.uk/conditions/flu/")
    assert _source_problems("https://www.nhs.uk/conditions/diarrhea-and-vomiting/")
    assert _source_problems("https://www.nhs.uk/conditions/iron-deficiency-anemia/")
    assert _source_problems("https://www.nhs.uk/mental-health/conditions/generalized-anxiety-disorder/overview/")
    assert _source_problems("https://www.nhs.uk/conditions/low-blood-sugar-hypoglycemia/")
    assert _source_problems("https://www.nhs.uk/conditions/low-blood-sugar-hypoglycaemia/") == []
    assert _source_problems("https://www.nhs.uk/conditions/diarrhoea-and-vomiting/") == []
