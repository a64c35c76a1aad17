"""Personal-identifier redaction (HIPAA Safe Harbor categories) for storage and logs.

:func:`redact` replaces each identifier with a typed placeholder: ``[NAME]``, ``[DATE]``,
``[PHONE]``, ``[EMAIL]``, ``[ADDRESS]``, ``[ZIP]``, ``[MRN]``, ``[SSN]``, ``[IP]``, ``[URL]``,
``[ACCOUNT]``, ``[LICENSE]``, ``[VEHICLE]``, ``[DEVICE]``, ``[ID]``, ``[AGE 90+]``. Medical words,
doses ("500 mg"), durations ("3 days"), temperatures, blood pressure ("120/80") and bare years
are kept: the conversation stays useful for quality review.

Names are the hard case without a model: they are caught after cues ("my name is", "Dr.",
"Mrs.", "patient", "signed", a relative: "my son Jake"), as "Firstname Lastname" pairs whose
first word is a common given name, and as sign-offs. A name typed with no cue and an uncommon
first name can get through; the storage layer therefore stores nothing unless the operator
enables it.

:mod:`chatbot.safety.log_redaction` puts every log record (message, arguments and exception
text) through :func:`redact` before any handler writes it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


Replacement = str | Callable[[re.Match[str]], str]

_MONTHS = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|"
    r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?|enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|"
    r"octubre|noviembre|diciembre)"
)
_NAME_WORD = r"(?:[A-Z][a-z]+(?:['\-][A-Z]?[a-z]+)?|[A-Z]'[A-Z][a-z]+|Mc[A-Z][a-z]+)"
_NAME_SEQ = rf"{_NAME_WORD}(?:\s+(?:[A-Z]\.\s+)?{_NAME_WORD}){{0,2}}"
# An identifier after a cue: 5+ characters with at least one digit ("plate" or "number" is not one).
_ID_TOKEN = r"(?:(?=[A-Za-z\-]*\d)[A-Za-z0-9][A-Za-z0-9\-]{3,}[A-Za-z0-9])"

# Given names common in US/UK/Spanish-speaking records; enough to catch "Firstname Lastname"
# pairs with no cue in front. Medical eponyms are excluded below.
FIRST_NAMES = _words(
    """james john robert michael william david richard joseph thomas charles christopher daniel matthew anthony mark
    donald steven paul andrew joshua kenneth kevin brian george timothy ronald edward jason jeffrey ryan jacob gary
    nicholas eric jonathan stephen larry justin scott brandon benjamin samuel gregory alexander frank patrick raymond
    jack dennis jerry tyler aaron jose adam nathan henry douglas zachary peter kyle ethan walter noah jeremy christian
    keith roger terry gerald harold sean austin carl arthur lawrence dylan jesse jordan bryan billy joe bruce gabriel
    logan albert willie alan juan wayne elijah randy roy vincent ralph eugene russell bobby mason philip louis
    mary patricia jennifer linda elizabeth barbara susan jessica sarah karen lisa nancy betty margaret sandra ashley
    kimberly emily donna michelle carol amanda dorothy melissa deborah stephanie rebecca sharon laura cynthia kathleen
    amy angela shirley anna brenda pamela emma nicole helen samantha katherine christine debra rachel carolyn janet
    catherine maria heather diane ruth julie olivia joyce virginia victoria kelly lauren christina joan evelyn judith
    megan andrea cheryl hannah jacqueline martha gloria teresa ann sara madison frances kathryn janice jean abigail
    alice judy sophia grace denise amber doris marilyn danielle beverly isabella theresa diana natalie brittany
    charlotte marie kayla alexis lori tammy tiffany crystal erin jake liam oliver lucas mia ava amelia harper ella
    chloe zoe lily aria nora riley leah hazel violet aurora luna stella paisley savannah claire skylar lucy anthony
    carlos luis miguel jorge pedro antonio manuel francisco javier alejandro fernando ricardo diego sergio rafael
    pablo andres eduardo roberto raul mario alberto jesus ana carmen rosa lucia marta elena isabel pilar dolores
    sofia valentina camila mariana gabriela daniela fernanda paula laura beatriz alicia silvia patricia jimena
    mohammed muhammad ahmed ali omar fatima aisha wei li chen ming yuki hiro priya raj amit anil sunita deepak"""
)
# Capitalised words that look like names but are medical or everyday terms.
NOT_NAMES = _words(
    """alzheimer alzheimers parkinson parkinsons crohn crohns hodgkin hodgkins down tourette tourettes asperger
    aspergers cushing cushings addison addisons graves hashimoto hashimotos huntington huntingtons lyme bell bells
    raynaud raynauds sjogren sjogrens epstein barr guillain barre kawasaki reye reyes marfan wilson wilsons meniere
    menieres paget pagets tylenol advil motrin aleve benadryl zyrtec claritin lipitor xanax prozac zoloft ozempic
    covid monday tuesday wednesday thursday friday saturday sunday english spanish medicare medicaid i the a an and
    my his her our their this that these those what when where why how is are was were hello hi dear thanks thank
    regards doctor nurse patient mom mum dad mother father son daughter wife husband baby type stage grade"""
)

# Street types (USPS suffixes and common UK/Spanish forms) that end a street line.
_STREET = (
    r"(?:Alley|Annex|Arcade|Avenue|Ave|Bayou|Beach|Bend|Bluffs?|Bottom|Boulevard|Blvd|Branch|Bridge|Brook|Brooks|"
    r"Burgs?|Bypass|Camp|Canyon|Cape|Causeway|Centers?|Circles?|Cir|Cliffs?|Club|Commons?|Corners?|Course|Courts?|Ct|"
    r"Coves?|Creek|Crescent|Crest|Crossing|Crossroad|Curve|Dale|Dam|Divide|Drives?|Dr|Estates?|Expressway|"
    r"Extensions?|Falls?|Ferry|Fields?|Flats?|Fords?|Forest|Forges?|Forks?|Fort|Freeway|Gardens?|Gateway|Glens?|"
    r"Greens?|Groves?|Harbors?|Haven|Heights|Highway|Hwy|Hills?|Hollow|Inlet|Islands?|Isle|Junctions?|Keys?|Knolls?|"
    r"Lakes?|Land|Landing|Lane|Ln|Light|Lights|Loaf|Locks?|Lodge|Loop|Mall|Manors?|Meadows?|Mews|Mills?|Mission|"
    r"Motorway|Mount|Mountains?|Neck|Orchard|Oval|Overpass|Parks?|Parkways?|Pkwy|Pass|Passage|Path|Pike|Pines?|"
    r"Place|Pl|Plains?|Plaza|Points?|Ports?|Prairie|Radial|Ramp|Ranch|Rapids?|Rest|Ridges?|River|Roads?|Rd|Route|"
    r"Row|Rue|Run|Shoals?|Shores?|Skyway|Springs?|Spurs?|Squares?|Sq|Station|Stravenue|Stream|Streets?|St|Summit|"
    r"Terrace|Throughway|Trace|Track|Trafficway|Trail|Trl|Tunnel|Turnpike|Underpass|Unions?|Valleys?|Via|Viaduct|"
    r"Views?|Villages?|Ville|Vista|Walks?|Wall|Ways?|Wells?|Calle|Avenida|Paseo|Plaza)"
)

_RELATIVES = (
    r"(?:son|daughter|wife|husband|partner|mom|mum|mother|dad|father|brother|sister|friend|boyfriend|girlfriend|"
    r"grandmother|grandfather|grandma|grandpa|granddaughter|grandson|child|kid|baby|boy|girl|neighbou?r|"
    r"aunt|uncle|cousin|niece|nephew|colleague|boss|roommate|doctor|gp|nurse|therapist|hijo|hija|esposo|esposa|"
    r"madre|padre|hermano|hermana|abuelo|abuela)"
)


def _keep_prefix(placeholder: str) -> Callable[[re.Match[str]], str]:
    """Replace only the named group ``v`` and keep the cue before it ("MRN: [MRN]")."""

    def sub(m: re.Match[str]) -> str:
        start, end = m.span("v")
        return m.string[m.start() : start] + placeholder + m.string[end : m.end()]

    return sub


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card(m: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", m.group(0))
    return "[ACCOUNT]" if 13 <= len(digits) <= 19 and _luhn(digits) else m.group(0)


def _name_pair(m: re.Match[str]) -> str:
    first = m.group("first").lower()
    rest = m.group("last").lower().rstrip("s'")
    if first in FIRST_NAMES and first not in NOT_NAMES and rest not in NOT_NAMES:
        return "[NAME]"
    return m.group(0)


def _cued_name(m: re.Match[str]) -> str:
    words = m.group("v").split()
    if not words or words[0].lower().strip(".") in NOT_NAMES:
        return m.group(0)
    return _keep_prefix("[NAME]")(m)


_I = re.IGNORECASE
# The server's own loopback address identifies nobody: "Uvicorn running on http://127.0.0.1:7860"
# stays readable in the start-up log (issue 15), any other host or address is redacted.
_LOCAL = re.compile(r"^(?:(?:https?|ftp)://)?(?:localhost|127(?:\.\d{1,3}){3}|0\.0\.0\.0|\[::1\])(?::\d+)?(?:/|$)", _I)


def _unless_local(tag: str) -> Callable[[re.Match[str]], str]:
    return lambda m: m.group(0) if _LOCAL.match(m.group(0)) else tag


# Order matters: specific, cue-anchored and punctuation-rich patterns first, so that an email's
# domain isn't taken for a URL and an SSN isn't read as a phone number.
RULES: tuple[tuple[re.Pattern[str], Replacement], ...] = (
    (re.compile(r"\b[\w.+%-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}\b"), "[EMAIL]"),
    (
        re.compile(r"\b(?:https?|ftp)://[^\s<>\"']*[^\s<>\"'.,;:!?)]|\bwww\.[^\s<>\"']*[^\s<>\"'.,;:!?)]", _I),
        _unless_local("[URL]"),
    ),
    (
        re.compile(
            r"\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|org|net|edu|gov|io|info|biz|co|us|uk|es|de|fr|ly|me)(?:/[^\s<>\"']*)?\b",
            _I,
        ),
        "[URL]",
    ),
    (re.compile(r"\b(?:[0-9A-F]{2}[:-]){5}[0-9A-F]{2}\b", _I), "[DEVICE]"),
    (
        re.compile(
            r"(?<![\w:])(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}(?![\w:])|(?<![\w:])(?:[0-9a-f]{1,4}:){1,6}:(?:[0-9a-f]{1,4}:?){0,6}[0-9a-f]{1,4}(?![\w:])",
            _I,
        ),
        "[IP]",
    ),
    (
        re.compile(r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?![\d.])"),
        _unless_local("[IP]"),
    ),
    (
        re.compile(
            r"\b(?P<cue>ssn|social security(?: number| no\.?)?|seguro social)\s*(?:is|:|#|number)?\s*(?P<v>\d{3}[\s-]?\d{2}[\s-]?\d{4})\b",
            _I,
        ),
        _keep_prefix("[SSN]"),
    ),
    (re.compile(r"\b\d{3}-\d{2}-\d{4}\b"), "[SSN]"),
    (
        re.compile(
            rf"\b(?P<cue>mrn|medical record(?: number| no\.?| #)?|record (?:number|no\.?|#)|patient (?:id|number|no\.?|#)|chart (?:number|no\.?|#)|hospital (?:number|id)|historia clinica)\s*(?:is|:|#|=)?\s*(?P<v>{_ID_TOKEN})",
            _I,
        ),
        _keep_prefix("[MRN]"),
    ),
    (
        re.compile(
            r"\b(?P<cue>(?:license|licence|number|registration)? ?plate(?: number| no\.?| #)?|vin(?: number| #)?|vehicle id(?:entification)?(?: number)?)\s*(?:is|:|#)?\s*(?P<v>(?=[A-Z -]*\d)[A-Z0-9]{1,4}(?:[ -]?[A-Z0-9]{1,4}){1,2}|[A-HJ-NPR-Z0-9]{17})\b",
            _I,
        ),
        _keep_prefix("[VEHICLE]"),
    ),
    (
        re.compile(
            rf"\b(?P<cue>(?:driver'?s? )?licen[cs]e(?: plate)?(?: number| no\.?| #)?|dl(?: number| #)?|dea(?: number| #)?|npi(?: number| #)?|certificate(?: number| no\.?| #)?|passport(?: number| no\.?| #)?|permit(?: number| #)?)\s*(?:is|:|#|=)?\s*(?P<v>{_ID_TOKEN})",
            _I,
        ),
        _keep_prefix("[LICENSE]"),
    ),
    (re.compile(r"\b(?=[A-HJ-NPR-Z0-9]*\d)(?=[A-HJ-NPR-Z0-9]*[A-HJ-NPR-Z])[A-HJ-NPR-Z0-9]{17}\b"), "[VEHICLE]"),
    (
        re.compile(
            rf"\b(?P<cue>serial(?: number| no\.?| #)?|device(?: id| number)|imei|udid|implant (?:id|serial))\s*(?:is|:|#)?\s*(?P<v>{_ID_TOKEN})",
            _I,
        ),
        _keep_prefix("[DEVICE]"),
    ),
    (
        re.compile(
            rf"\b(?P<cue>account|acct|a/c|routing|iban|member(?:ship)?|policy|group|subscriber|beneficiary|insurance|health plan|plan|card|cuenta|poliza)(?: (?:number|no\.?|num|#|id))?\s*(?:is|:|#|=)?\s*(?P<v>{_ID_TOKEN})",
            _I,
        ),
        _keep_prefix("[ACCOUNT]"),
    ),
    (re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){3,7}(?: ?[A-Z0-9]{1,4})?\b"), "[ACCOUNT]"),
    # phone and fax: North American and international forms, with extensions
    (
        re.compile(
            r"(?<![\w+])(?:\+?1[\s.-]?|001[\s.-]?)?(?:\(\d{3}\)\s?|\d{3}[\s.-])\d{3}[\s.-]\d{4}(?:\s?(?:x|ext\.?|extension)\s?\d{1,6})?(?!\w)",
            _I,
        ),
        "[PHONE]",
    ),
    (
        re.compile(r"(?<![\w+])\+\d{1,3}(?:[\s.-]?\(?\d{1,5}\)?){2,5}(?:\s?(?:x|ext\.?)\s?\d{1,6})?(?!\w)", _I),
        "[PHONE]",
    ),
    (re.compile(r"(?<![\w.])\d{10}(?:x\d{1,6})?(?![\w.])"), "[PHONE]"),
    (
        re.compile(
            r"\b(?P<cue>phone|tel|telephone|mobile|cell|fax|tlf|telefono|movil)\s*(?:number|no\.?|#)?\s*(?:is|:)?\s*(?P<v>\+?[\d\s().-]{7,}\d)",
            _I,
        ),
        _keep_prefix("[PHONE]"),
    ),
    (re.compile(r"\b(?:\d[ -]?){12,18}\d\b"), _card),
    # dates (every element except a bare year)
    (
        re.compile(
            r"\b(?:19|20)\d\d[-/.](?:0?[1-9]|1[0-2])[-/.](?:0?[1-9]|[12]\d|3[01])(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?\b"
        ),
        "[DATE]",
    ),
    (re.compile(r"\b(?:0?[1-9]|[12]\d|3[01])[/.-](?:0?[1-9]|[12]\d|3[01])[/.-](?:19|20)?\d\d\b"), "[DATE]"),
    (re.compile(rf"\b{_MONTHS}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+(?:19|20)\d\d)?\b", _I), "[DATE]"),
    (
        re.compile(
            rf"\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+|de\s+)?{_MONTHS}\.?(?:,?\s+(?:de\s+)?(?:19|20)\d\d)?\b", _I
        ),
        "[DATE]",
    ),
    (re.compile(rf"\b{_MONTHS}\.?,?\s+(?:de\s+)?(?:19|20)\d\d\b", _I), "[DATE]"),
    (
        re.compile(
            r"\b(?P<cue>dob|d\.o\.b\.|date of birth|born on|birthday|fecha de nacimiento)\s*(?:is|:)?\s*(?P<v>[\w/.,-]+(?:\s[\w,]+){0,2})",
            _I,
        ),
        _keep_prefix("[DATE]"),
    ),
    # ages over 89 (Safe Harbor: aggregate into 90 or older)
    (
        re.compile(r"\b(?:9\d|1[01]\d)(?:\s?|-)(?:years?|yrs?|y/?o)(?:[\s-]old)?\b|\baged?\s(?:9\d|1[01]\d)\b", _I),
        "[AGE 90+]",
    ),
    # addresses: street lines, military addresses, "City, ST 12345", ZIP codes after a cue
    (
        re.compile(
            rf"\b\d{{1,6}}\s+(?:[NSEW]\.?\s+)?(?:[A-Z][a-z]+\.?\s+){{1,3}}{_STREET}\b\.?(?:,?\s+(?:Apt\.?|Apartment|Suite|Ste\.?|Unit|#)\s*[\w-]+)?"
        ),
        "[ADDRESS]",
    ),
    (re.compile(r"\b(?:Apt\.?|Apartment|Suite|Ste\.?)\s*\d+[A-Z]?\b"), "[ADDRESS]"),
    (
        re.compile(
            r"\b(?:PSC|Unit|USNS|USNV|USS|USCGC)\s+[\w ]{1,30}?,?\s*(?:Box\s+\d+)?,?\s*(?:APO|FPO|DPO)\s+(?:AA|AE|AP)\s+\d{5}\b"
        ),
        "[ADDRESS]",
    ),
    (re.compile(r"\b(?:APO|FPO|DPO)\s+(?:AA|AE|AP)\s+\d{5}\b"), "[ADDRESS]"),
    (re.compile(r"\b[A-Z][a-zA-Z]+(?:\s[A-Z][a-zA-Z]+){0,2},\s*[A-Z]{2}\s+\d{5}(?:-\d{4})?\b"), "[ADDRESS]"),
    (
        re.compile(
            r"\b(?P<cue>i live (?:at|on)|my address is|address:|vivo en|mi direccion es)\s*(?P<v>[^.\n;]{3,80})", _I
        ),
        _keep_prefix("[ADDRESS]"),
    ),
    (
        re.compile(
            r"\b(?P<cue>zip|zip code|postcode|postal code|codigo postal)\s*(?:is|:)?\s*(?P<v>\d{5}(?:-\d{4})?|[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2})\b",
            _I,
        ),
        _keep_prefix("[ZIP]"),
    ),
    (re.compile(r"\b[A-Z]{2}\s(?P<v>\d{5}(?:-\d{4})?)\b"), _keep_prefix("[ZIP]")),
    # names
    (
        re.compile(
            rf"\b(?P<cue>(?i:my name is|my names|name is|i am called|im called|call me|this is|name:|patient:|pt:|nombre:|me llamo|mi nombre es|soy))\s+(?P<v>{_NAME_SEQ})"
        ),
        _cued_name,
    ),
    (
        re.compile(
            rf"\b(?P<cue>(?i:dr|doctor|mr|mrs|ms|miss|mx|prof|professor|nurse|sr|sra|srta|dra)\.?)\s+(?P<v>{_NAME_SEQ})"
        ),
        _cued_name,
    ),
    (re.compile(rf"\b(?P<cue>(?i:my|mi) {_RELATIVES},?)\s+(?P<v>{_NAME_SEQ})"), _cued_name),
    (
        re.compile(
            rf"(?P<cue>(?i:signed|regards|sincerely|thanks|cheers|best|saludos|atentamente),?\s*\n?\s*)(?P<v>{_NAME_SEQ})"
        ),
        _cued_name,
    ),
    (
        re.compile(r"\b(?i:my name is|me llamo|mi nombre es)\s+(?P<v>[a-z][a-z'\-]+(?:\s+[a-z][a-z'\-]+)?)\b"),
        _cued_name,
    ),
    (re.compile(rf"\b(?P<first>{_NAME_WORD})\s+(?:[A-Z]\.\s+)?(?P<last>{_NAME_WORD})\b"), _name_pair),
    (re.compile(r"\[NAME\](?:,?\s+(?:Jr\.?|Sr\.?|I{2,3}|IV|MD|DDS|DVM|PhD|RN|NP|PA))+"), "[NAME]"),
    # any other long number (record, account, device ...)
    (re.compile(r"(?<![\w.])\d{7,}(?![\w.])"), "[ID]"),
)


def redact(text: str) -> str:
    """``text`` with every personal identifier replaced by a typed placeholder."""
    if not text:
        return text
    for pattern, replacement in RULES:
        text = pattern.sub(replacement, text)
    return text


def redact_obj(value: Any) -> Any:
    """:func:`redact` applied to every string inside nested dicts, lists and tuples."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_obj(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact_obj(v) for v in value)
    return value


__all__ = ["redact", "redact_obj"]
