"""Text normalisation and word lists shared by triage and policy (English and Spanish).

Patterns elsewhere are written against :func:`normalize` output: lower case, accents stripped,
apostrophes dropped ("can't" -> "cant"), other punctuation turned into spaces, runs of a
repeated letter cut to two, common contractions and misspellings mapped to one spelling, and
single-typo variants of the key red-flag words corrected (edit distance 1). People in distress
type fast, so a missed letter must not hide "seizure" or "breathe".
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Multi-word spellings mapped to the one form the patterns use. Applied on word boundaries.
PHRASES: tuple[tuple[str, str], ...] = (
    # An allergy, not a temperature: "hay fever tablets make me drowsy" is no fever + drowsiness.
    ("hay fever", "hayfever"),
    ("can not", "cant"),
    ("cannot", "cant"),
    ("unable to", "cant"),
    ("could not", "couldnt"),
    ("i am", "im"),
    ("i m", "im"),
    ("do not", "dont"),
    ("does not", "doesnt"),
    ("did not", "didnt"),
    ("will not", "wont"),
    ("is not", "isnt"),
    ("are not", "arent"),
    ("has not", "hasnt"),
    ("have not", "havent"),
    ("he is", "hes"),
    ("she is", "shes"),
    ("they are", "theyre"),
    ("it is", "its"),
    ("i have", "ive"),
    ("epi pen", "epipen"),
    ("over dose", "overdose"),
    ("over dosed", "overdosed"),
    ("heart attach", "heart attack"),
    ("short of breathe", "short of breath"),
)

# Single-token misspellings and chat shorthand seen in real messages.
MISSPELLINGS: dict[str, str] = {
    "pian": "pain",
    "tookk": "took",
    "tok": "took",
    "tooked": "took",
    "swallowd": "swallowed",
    "pains": "pain",
    "chst": "chest",
    "chets": "chest",
    "cheast": "chest",
    "hart": "heart",
    "attak": "attack",
    "atack": "attack",
    "stoke": "stroke",
    "strok": "stroke",
    "breth": "breath",
    "brethe": "breathe",
    "breathin": "breathing",
    "cnt": "cant",
    "cannt": "cant",
    "carnt": "cant",
    "sezure": "seizure",
    "siezure": "seizure",
    "seizer": "seizure",
    "seisure": "seizure",
    "sucide": "suicide",
    "suicde": "suicide",
    "suicid": "suicide",
    "sucidal": "suicidal",
    "kil": "kill",
    "myslef": "myself",
    "mysef": "myself",
    "oded": "overdosed",
    "overdoes": "overdose",
    "unconcious": "unconscious",
    "unconsious": "unconscious",
    "bleding": "bleeding",
    "bleedin": "bleeding",
    "pregnat": "pregnant",
    "pragnant": "pregnant",
    "pregant": "pregnant",
    "prego": "pregnant",
    "hedache": "headache",
    "headach": "headache",
    "vommiting": "vomiting",
    "vomitting": "vomiting",
    "puking": "vomiting",
    "alergic": "allergic",
    "allergick": "allergic",
    "anaphylatic": "anaphylactic",
    "pls": "please",
    "plz": "please",
    "plse": "please",
    "u": "you",
    "ur": "your",
    "n": "and",
    "r": "are",
    "rn": "now",
    "tho": "though",
    "bc": "because",
    "cuz": "because",
    "wanna": "want to",
    "gonna": "going to",
    "gotta": "have to",
    "dunno": "dont know",
    "mum": "mom",
    "mam": "mom",
    "mommy": "mom",
    "daddy": "dad",
    "bub": "baby",
    "bubba": "baby",
    "tummy": "belly",
    "mins": "minutes",
    "min": "minutes",
    "hrs": "hours",
    "hr": "hour",
    "wks": "weeks",
    "wk": "week",
    "mos": "months",
    "tylenol": "paracetamol",
    "acetaminophen": "paracetamol",
    "panadol": "paracetamol",
    "advil": "ibuprofen",
    "motrin": "ibuprofen",
    "nurofen": "ibuprofen",
    # Spanish shorthand
    "q": "que",
    "xq": "porque",
    "pq": "porque",
    "tb": "tambien",
}

# Key red-flag words that get single-typo correction (only words of 6+ letters: shorter words
# have too many real neighbours, "heart" ~ "heard").
FUZZY_TERMS: frozenset[str] = _words(
    """breathe breathing breath seizure seizures seizing convulsion convulsions convulsing unconscious
    unresponsive responding suicide suicidal myself overdose overdosed bleeding swelling swollen throat
    tongue drooping droopy slurred slurring numbness vomiting pregnant headache allergic anaphylaxis
    anaphylactic poison poisoning poisoned swallowed collapsed fainted choking meningitis diabetic insulin
    temperature newborn bleach battery tablets paracetamol ibuprofen crushing pressure tightness spreading
    radiating confused breathing gasping killing stopped stroke attack emergency ambulance sweating clammy
    respirar suicidarme matarme convulsion convulsionando embarazada sangrando sangrado desmayo desmayado
    pastillas garganta inconsciente dificultad"""
)

# Real words one edit away from a fuzzy term: never "corrected". Found by checking the fuzzy
# terms against word lists (Faker's English and Spanish lorem words, MedQuAD, the starter pages)
# and Spanish verb forms whose meaning a correction would change ("respira" is not "respirar").
PROTECTED: frozenset[str] = _words(
    """breast breasts breadth breaths breathes breathed bleeping bleeder blessing cooking booking looking
    choking smoking stoking stroked strokes strike strode stoked attach attacks attache swallow swallows
    swollen swelling swelled dwelling smelling spelling selling telling yelling welling shelling seizes
    poisons prison poised myself thyself herself himself itself pressure pressures presser stopped stopper
    shopped chopped dropped mopped topped sweating swearing sweeting sweltering pregnancy killing killings
    billing filling milling willing chilling kilning tablet tablets battery batter batters battered bleached
    bleachers breach beach confuse confused confuses collapse collapses collapsed fainter fainted painted
    tainted sainted spreading spreader threading treading dreading heading reading radiating radiation
    crushing brushing rushing blushing flushing gushing clammy sweaty choking chocking throats thrones
    tongues thought though throat threat drooping dropping drooling trooping stooping swooping whooping
    hooping slurped slurring slurred slurrying numbness dumbness gasping grasping rasping clasping hasping
    insulin insular emergency emergence ambulance ambulant headaches meninges diabetes diabetic attacks
    responding corresponding resounding respending suicides tempeature temperatures temperate newborns
    stroked strolled poisoning poisoned positioning stopped stomped stopper stepped
    blurred blurring cushing droops gaping stooped strobe tables table
    respira respiran respiras respiro respire matarse matarte suicidarse suicidarte desmaya"""
)

_STOP_EN = _words(
    "the and is my i to of a in what have it for on that with me he she was are how can do this be at not "
    "cant im dont want feel pain help please took baby fever chest breathe"
)
_STOP_ES = _words(
    "el la los las de que y en un una es por con para mi me se le lo del al tengo estoy esta muy pero como "
    "cuando porque mas sin tiene hace su sus ya puedo puede quiero quiere siento duele hay algo nada todo creo "
    "ayuda favor mucho mucha dolor cabeza pecho respirar morir morirme vivir fiebre sangre hijo hija bebe nino nina "
    "madre padre mama papa hermano hermana marido esposa abuelo abuela ahora dias semanas meses anos tomar tome "
    "pastillas medico salud sintomas embarazada"
)

_APOSTROPHES = re.compile(r"['\u2019\u2018`\u00b4]")
# Invisible characters (zero-width space/joiners, soft hyphen, BOM) hide words from the patterns:
# "ig\u200bnore" must read as "ignore", not "ig nore".
_INVISIBLE = re.compile(r"[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
_DECIMAL_COMMA = re.compile(r"(\d),(\d)")
_NON_WORD = re.compile(r"[^a-z0-9.\s]+")
_LONE_DOT = re.compile(r"(?<!\d)\.|\.(?!\d)")
_REPEATS = re.compile(r"([a-z])\1{2,}")
_SPACES = re.compile(r"\s+")
_PHRASE_MAP = dict(PHRASES)
_PHRASE_RE = re.compile(r"\b(?:" + "|".join(re.escape(a) for a, _ in PHRASES) + r")\b")
# Long texts are normalised on demand only; short ones (every chat message) are cached because
# triage, policy and injection checks each normalise the same message.
_CACHE_MAX_CHARS = 10_000


def strip_accents(text: str) -> str:
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@lru_cache(maxsize=1)
def _delete_index() -> dict[str, frozenset[str]]:
    """Symmetric-delete index: every 1-deletion of a fuzzy term -> the terms producing it."""
    index: dict[str, set[str]] = {}
    for term in FUZZY_TERMS:
        for variant in {term, *(term[:i] + term[i + 1 :] for i in range(len(term)))}:
            index.setdefault(variant, set()).add(term)
    return {k: frozenset(v) for k, v in index.items()}


def _within_one_edit(a: str, b: str) -> bool:
    """Damerau-Levenshtein distance <= 1 (insert, delete, substitute, swap neighbours)."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    if la == lb:
        diff = [i for i in range(la) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
    if la > lb:
        a, b = b, a
    return any(a == b[:i] + b[i + 1 :] for i in range(len(b)))


@lru_cache(maxsize=4096)
def correct_token(token: str) -> str:
    """The fuzzy term ``token`` is a single typo of, else ``token`` itself."""
    if len(token) < 6 or token in FUZZY_TERMS or token in PROTECTED or not token.isalpha():
        return token
    index = _delete_index()
    candidates: set[str] = set(index.get(token, ()))
    for i in range(len(token)):
        candidates.update(index.get(token[:i] + token[i + 1 :], ()))
    matches = sorted(t for t in candidates if _within_one_edit(token, t))
    return matches[0] if len(matches) == 1 else token


def plain(text: str) -> str:
    """``text`` lower-cased without accents or invisible characters, punctuation and line breaks
    kept: for checks on markup (HTML comments, fences) that :func:`normalize` would erase."""
    return strip_accents(_INVISIBLE.sub("", text)).lower()


def normalize(text: str) -> str:
    """The canonical form every triage and policy pattern is written against."""
    return _normalize_cached(text) if len(text) <= _CACHE_MAX_CHARS else _normalize(text)


@lru_cache(maxsize=256)
def _normalize_cached(text: str) -> str:
    return _normalize(text)


def _normalize(text: str) -> str:
    t = strip_accents(_INVISIBLE.sub("", text)).lower()
    t = _APOSTROPHES.sub("", t)
    t = _DECIMAL_COMMA.sub(r"\1.\2", t)
    t = _NON_WORD.sub(" ", t)
    t = _LONE_DOT.sub(" ", t)
    t = _REPEATS.sub(r"\1\1", t)
    tokens = [MISSPELLINGS.get(tok, tok) for tok in t.split()]
    t = " ".join(correct_token(tok) for tok in " ".join(tokens).split())
    t = _PHRASE_RE.sub(lambda m: _PHRASE_MAP[m.group(0)], t)
    return _SPACES.sub(" ", t).strip()


def detect_language(text: str) -> str:
    """'es' or 'en' from function words and Spanish-only characters (enough for two languages)."""
    if re.search(r"[¿¡ñÑ]", text):
        return "es"
    tokens = re.findall(r"[a-z]+", strip_accents(text).lower())
    es = sum(1 for w in tokens if w in _STOP_ES)
    en = sum(1 for w in tokens if w in _STOP_EN)
    if re.search(r"[áéíóú]", text.lower()):
        es += 1
    return "es" if es > en else "en"


_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i"})
_SPACED_LETTERS = re.compile(r"\b(?:[a-z] ){3,}[a-z]\b")


def deobfuscate(text: str) -> list[str]:
    """Readings of a message an attacker may have disguised: leetspeak, s p a c e d letters.

    Each reading is normalised; the caller scans all of them.
    """
    base = strip_accents(text).lower()
    readings = [base]
    if re.search(r"[a-z][0-9@$][a-z]|[0-9@$][a-z]{2}", base):
        readings.append(base.translate(_LEET))
    # "i g n o r e  a l l" -> words separated by the double spaces, letters joined.
    if _SPACED_LETTERS.search(base):
        joined = " ".join(part.replace(" ", "") for part in re.split(r"\s{2,}", base))
        readings.append(_SPACED_LETTERS.sub(lambda m: m.group(0).replace(" ", ""), joined))
    return readings
