"""The vocabulary of :mod:`chatbot.faithfulness`: declarative tables, one per check.

A word added here changes one check; the checks themselves stay in ``faithfulness.py``.
Patterns run on :func:`chatbot.faithfulness.normalize`d text (lower case, contractions expanded:
"don't" -> "do not", "can't" -> "can not").
"""

from __future__ import annotations

import re

CONTRACTIONS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\bcan't\b|\bcannot\b"), "can not"),
    (re.compile(r"\bwon't\b"), "will not"),
    (re.compile(r"\bshan't\b"), "shall not"),
    (re.compile(r"n't\b"), " not"),
    # ...and the ones that lost their apostrophe on the way into MedQuAD ("doesnt", "arent")
    (re.compile(r"\b(do|does|did|is|are|was|were|should|would|could|has|have|had)nt\b"), r"\1 not"),
    (re.compile(r"\bcant\b"), "can not"),
    (re.compile(r"'re\b"), " are"),
    (re.compile(r"'ve\b"), " have"),
    (re.compile(r"'ll\b"), " will"),
    (re.compile(r"'d\b"), " would"),
    (re.compile(r"\bi'm\b"), "i am"),
    (re.compile(r"'s\b"), ""),
)

NUMBER_WORDS = {
    "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
    "seven": "7", "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12",
    "thirteen": "13", "fourteen": "14", "fifteen": "15", "sixteen": "16", "seventeen": "17",
    "eighteen": "18", "nineteen": "19", "twenty": "20", "thirty": "30", "forty": "40", "fifty": "50",
    "sixty": "60", "seventy": "70", "eighty": "80", "ninety": "90", "hundred": "100",
    "half": "0.5", "twice": "2", "couple": "2", "dozen": "12",
}  # fmt: skip

UNITS = {
    "second": "second", "seconds": "second", "minute": "minute", "minutes": "minute",
    "hour": "hour", "hours": "hour", "day": "day", "days": "day", "night": "night", "nights": "night",
    "week": "week", "weeks": "week", "month": "month", "months": "month", "year": "year",
    "years": "year", "old": "year", "mg": "mg", "milligrams": "mg", "g": "g", "grams": "g",
    "ml": "ml", "millilitres": "ml", "milliliters": "ml", "mcg": "mcg", "micrograms": "mcg",
    "percent": "percent", "%": "percent", "degrees": "degree", "c": "degree", "f": "degree",
    "times": "times", "tablets": "tablet", "tablet": "tablet", "doses": "dose", "dose": "dose",
    "units": "unit", "kg": "kg", "pounds": "lb", "cups": "cup", "glasses": "glass",
}  # fmt: skip

LOWER_BOUND = re.compile(r"\b(?:more than|over|longer than|at least|above|beyond|greater than|after|past)$")
UPPER_BOUND = re.compile(r"\b(?:less than|under|fewer than|shorter than|within|up to|below|at most|no more than)$")

# "no" also opens "no longer", "no more"; all flip the claim. "avoid" and "rarely" negate what
# follows them as surely as "do not" ("avoid drying laundry outdoors" vs "dry it outside").
NEGATION = frozenset(
    {"not", "no", "never", "none", "nor", "neither", "without", "nothing", "nobody", "nowhere", "avoid", "avoiding",
     "skip", "skipping", "steer", "refrain", "abstain",
     "rarely", "seldom", "hardly", "instead", "unlike", "different", "except", "apart"}
)  # fmt: skip
# A negation reaches this many words forward, within its clause.
NEGATION_SCOPE = 4
CLAUSE_BREAK = re.compile(r"[,;:.()!?]|\bbut\b|\bwhile\b|\bwhereas\b|\bthough\b|\balthough\b")
# Hours per duration unit, so "12 months" and "a year", or "48 hours" and "2 days", compare.
HOURS = {"minute": 1 / 60, "hour": 1.0, "day": 24.0, "night": 24.0, "week": 168.0, "month": 730.0, "year": 8760.0}
# A unit after "a"/"an"/"per"/"every" is one of it ("about an hour", "twice a week").
SINGULAR_UNIT = re.compile(r"\b(?:a|an|per|every|each) (minute|hour|day|night|week|month|year)\b")
PER_UNIT_WORDS = {"daily": "1 day", "weekly": "1 week", "monthly": "1 month", "yearly": "1 year", "annually": "1 year",
                  "hourly": "1 hour", "overnight": "1 night"}  # fmt: skip
# British and American spellings meet before stemming ("oestrogen"/"estrogen", "behaviour").
SPELLING: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?<=[a-z]{3})our\b"), "or"),
    (re.compile(r"(?<=[a-z])oe(?=[a-z])|^oe(?=[a-z]{4})"), "e"),
    (re.compile(r"(?<=[a-z])ae(?=[a-z])"), "e"),
    (re.compile(r"(?<=[a-z]{4})is(e|es|ed|ing|ation)\b"), r"iz\1"),
    (re.compile(r"^(cent|fib|lit|met)re(s?)$"), r"\1er\2"),
)
# A yes/no opener is an answer only together with the statement after it; the statement is checked.
ANSWER_OPENER = re.compile(
    r"^(?:the answer(?: to (?:this|your) question)? is |in short, )?(?:yes|no|yeah|nope|not usually|usually not|usually"
    r"|not always|not necessarily|it depends|sometimes|generally not|often|mostly)\b[,;:.!]?\s*(?:but |and )?"
)

# Pairs whose swap reverses a claim ("raises" vs "lowers" blood pressure). Both sides are words
# as tokenised (not stems), so each inflection a sentence may use is listed.
_PAIRS = """
increase decrease | increases decreases | increased decreased | raise lower | raises lowers | raised lowered
increase reduce | increases reduces | increased reduced | higher lower | more less | more fewer
before after | safe unsafe | safe dangerous | common rare | common uncommon | better worse | early late
start stop | starts stops | viral bacterial | virus bacteria | viruses bacteria | acute chronic
hot cold | warm cold | over under | above below | adults children | adult child | strong weak
frequent rare | mild severe | slow fast | slowly quickly | gain loss
gain lose | dry wet | harmful harmless | helpful harmful | benign malignant | contagious noncontagious
inherited acquired | left right | upper lower | men women | male female | minor major | mild serious
"""
ANTONYMS: tuple[tuple[str, str], ...] = tuple(
    (a, b) for pair in _PAIRS.replace("\n", "|").split("|") if pair.strip() for a, b in [pair.split()]
)

# The role a passage gives a thing; a sentence that gives it another role reverses the source
# ("pollen is a trigger" -> "controlled by breathing in pollen").
ROLES: dict[str, re.Pattern[str]] = {
    "trigger": re.compile(
        r" (?:trigger\w*|set(?:s)? off|bring(?:s)? on|make(?:s)? \w+ worse|worsen\w*|aggravat\w*|irritat\w*) "
    ),
    "treatment": re.compile(
        r" (?:treat\w*|cure\w*|control\w*|reliev\w*|relief|eas(?:e|es|ed|ing)|sooth\w*|manag\w*|therap\w*|remed\w*) "
    ),
    "cause": re.compile(r" (?:caus\w*|due to|lead(?:s)? to|result\w* (?:from|in)|because of) "),
    "prevention": re.compile(r" (?:prevent\w*|protect\w*|lower\w* the risk|reduc\w* the risk|vaccin\w*) "),
}

CARE_CUE = re.compile(
    r"\b(?:see|call|contact|visit|ask|talk to|speak to|get|seek) (?:a |an |your |the |local )?"
    r"(?:doctor|gp|clinician|nurse|pharmacist|midwife|emergency|medical|urgent|health)"
    r"|\bemergency\b|\bstraight away\b|\bright away\b|\bsame day\b|\bbook an appointment\b"
)

# Reassurance the passage must say itself: when it gives care advice instead, the sentence
# reverses it ("you should not worry" vs "see a doctor if the cough lasts more than 3 weeks").
# How soon care is needed, lowest first: a sentence that names a lower level than its unit
# ("see a doctor if..." for the unit's "contact a doctor urgently, the same day, if...") downgrades it.
CARE_LEVEL_CUES: tuple[re.Pattern[str], ...] = (
    re.compile(
        r"\b(?:see|visit|talk to|speak to|ask) (?:a |an |your )?(?:doctor|gp|clinician|nurse)|\bbook an appointment\b"
    ),
    re.compile(r"\burgent(?:ly)?\b|\bsame day\b|\btoday\b|\bstraight away\b|\bright away\b|\bwithin hours\b"),
    re.compile(r"\bemergency\b|\bambulance\b|\b(?:999|911|112)\b|\ba ?& ?e\b"),
)
REASSURANCE = re.compile(
    r"\b(?:no need to (?:worry|see|call|go|be concerned)|(?:should|need|do|does) not (?:worry|be worried|be concerned"
    r"|need to (?:worry|see|go|call)|see a doctor)|nothing to worry|not (?:a )?(?:serious|dangerous|worrying|concern"
    r"|cause for concern)|harmless|nothing serious|(?:is|are) (?:perfectly |completely )?(?:normal|fine|okay|ok)"
    r"|do not worry|no cause for concern|will (?:go away|get better|clear up) on (?:its|their) own|safe to ignore)\b"
)

USER_CLAIM = re.compile(
    r"\byou (?:have|are|have got|probably|likely|definitely|certainly|may have|might have|could have|suffer\w*"
    r"|do not have|are not|will)\b|\byour \w+(?: \w+)? (?:is|are|was) (?:caused|due|a sign|because|from|normal|not)\b"
)
CONDITIONAL = re.compile(r"\b(?:if|when|unless|whether|once|until|while|in case|whenever|as long as)\b")

YES_NO_OPENER = re.compile(r"^(?:the answer(?: to (?:this|your) question)? is )?(?:yes|no|yeah|nope)\b")

ABSOLUTE = re.compile(
    r"\b(?:always|all|every|everyone|definitely|guaranteed|completely|certainly|permanently|forever|100 percent)\b"
)
# How often or how surely a claim holds; a sentence one step above its passage overclaims
# ("usually causes headaches" for "may sometimes cause headaches").
STRENGTH: tuple[tuple[int, re.Pattern[str]], ...] = (
    (3, re.compile(r"\b(?:always|all|every|everyone|definitely|certainly|guaranteed|invariably)\b")),
    (2, re.compile(r"\b(?:usually|often|commonly|most|mostly|generally|typically|frequently|normally|mainly)\b")),
    (1, re.compile(r"\b(?:sometimes|may|might|can|could|occasionally|some|possibly|in some)\b")),
    (0, re.compile(r"\b(?:rarely|seldom|hardly ever|uncommon|unusual)\b")),
)
HEDGES = re.compile(r"\b(?:may|can|some|often|usually|sometimes|most|might|could|many|several|in some)\b")

# Function words plus words that carry no checkable claim of their own.
STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "if",
        "of",
        "for",
        "to",
        "in",
        "on",
        "at",
        "by",
        "with",
        "from",
        "about",
        "into",
        "over",
        "after",
        "before",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "am",
        "do",
        "does",
        "did",
        "doing",
        "have",
        "has",
        "had",
        "having",
        "i",
        "me",
        "my",
        "mine",
        "we",
        "our",
        "you",
        "your",
        "he",
        "him",
        "his",
        "she",
        "her",
        "they",
        "them",
        "their",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "how",
        "can",
        "could",
        "should",
        "would",
        "will",
        "shall",
        "may",
        "might",
        "must",
        "so",
        "too",
        "very",
        "just",
        "also",
        "only",
        "any",
        "some",
        "all",
        "more",
        "most",
        "much",
        "many",
        "there",
        "here",
        "than",
        "then",
        "as",
        "up",
        "down",
        "out",
        "off",
        "again",
        "once",
        "get",
        "got",
        "it's",
        "such",
        "each",
        "other",
        "own",
        "same",
        "both",
        "either",
        "via",
        "per",
        "etc",
        "e.g",
        "i.e",
        "usually",
        "often",
        "sometimes",
        "generally",
        "typically",
        "called",
        "known",
        "mean",
        "means",
    ]
)

# Content words a faithful plain-language paraphrase may add without a new claim.
GENERIC = frozenset(
    [
        "peopl",
        "person",
        "patient",
        "someon",
        "anyon",
        "help",
        "common",
        "like",
        "includ",
        "way",
        "thing",
        "lot",
        "kind",
        "type",
        "part",
        "happen",
        "make",
        "need",
        "use",
        "take",
        "give",
        "time",
        "good",
        "well",
        "keep",
        "long",
        "term",
        "import",
        "also",
        "often",
        "usual",
        "way",
        "feel",
        "bodi",
        "health",
        "problem",
        "condit",
        "ill",
        "diseas",
        "issu",
        "sign",
        "symptom",
        "caus",
        "doctor",
        "care",
        "medic",
        "treatment",
        "treat",
        "may",
        "can",
        "mani",
        "much",
        "often",
        "becom",
        "develop",
        "occur",
        "affect",
        "involv",
        "call",
        "known",
        "refer",
        "mean",
        "case",
        "especi",
        "certain",
        "some",
        "major",
        "adult",
        "child",
        "someth",
        "usual",
        "general",
        "possibl",
        "sever",
        "differ",
        "number",
        "work",
        "tri",
    ]
)

# Words a paraphrase may use for the passage's own (stems on both sides map to one).
SYNONYMS = {
    "physician": "doctor", "gp": "doctor", "clinician": "doctor", "provider": "doctor",
    "medic": "medicin", "medicat": "medicin", "drug": "medicin", "kid": "child", "children": "child",
    "infant": "babi", "newborn": "babi", "ill": "sick", "illness": "sick", "unwel": "sick",
    "larg": "big", "huge": "big", "tini": "small", "littl": "small",
    "breathless": "breath", "breathe": "breath", "tube": "airway", "fluid": "drink",
    "hurt": "pain", "ach": "pain", "sore": "pain", "pain": "pain",
    "contagi": "spread", "infecti": "spread", "transmit": "spread", "persist": "last", "continu": "last",
    "shot": "vaccin", "jab": "vaccin", "fair": "pale",
    # Irregular and everyday forms patients type ("I burnt my arm", "my tummy").
    "burnt": "burn", "tummi": "stomach", "belli": "stomach", "abdomen": "stomach", "abdomin": "stomach",
}  # fmt: skip
