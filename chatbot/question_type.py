"""What kind of answer a patient asks for: definition, symptoms, causes, treatment, ... (one label).

Two stages, because neither alone covers consumer questions:

1. Rules for consumer phrasings that MedQuAD's templated questions never use ("should I worry",
   "what can I take for", "will it go away", "how much ... can I take"). A rule hit decides the label.
2. A multinomial logistic regression over word 1-2 grams (lightly stemmed), trained on MedQuAD
   questions with their topic removed so it learns the question form, not the disease
   (``python -m chatbot.question_type train``, see :mod:`chatbot.question_type_train`).

Besides the label, :func:`detect` reports whether the question asks yes/no and which population
(children, pregnancy) it is about. Long messages are reduced to their interrogative sentences first,
so a story ("my CT scan showed ...") does not outvote the actual question.

Importing this module is cheap: numpy and the weights file load on the first :func:`detect` call.
"""

from __future__ import annotations

import functools
import importlib
import itertools
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

LABELS: tuple[str, ...] = (
    "definition",
    "symptoms",
    "causes",
    "treatment",
    "prevention",
    "outlook",
    "tests",
    "care",
    "medicine",
    "risk",
    "other",
)
POPULATIONS: tuple[str, ...] = ("child", "pregnancy")
MODEL_PATH = Path(__file__).resolve().parent / "data" / "question_type.npz"

# A rule hit takes this share of the final score, so the rule's label always wins over the
# learned stage (its score is >= 0.5) while the learned distribution still ranks the rest.
RULE_WEIGHT = 0.5


@dataclass(frozen=True)
class QuestionType:
    """The detected question type of one message.

    ``label`` is one of :data:`LABELS`; ``score`` is ``scores[label]``; ``scores`` sums to 1 over
    all labels. ``matched`` lists every label a rule matched, in priority order (empty when the
    learned stage alone decided), so a multi-part question ("what is it and how is it treated")
    keeps its secondary types.
    """

    label: str
    score: float
    is_yes_no: bool
    population: str | None
    scores: dict[str, float] = field(hash=False)
    matched: tuple[str, ...] = ()


# --------------------------------------------------------------------------- text features

_TOKEN = re.compile(r"[a-z]+(?:'[a-z]+)?|\d+")
# Longest first; a stem keeps at least 4 letters so "this", "uses", "does" stay whole.
_SUFFIXES = ("ments", "ment", "ations", "ation", "ances", "ance", "ions", "ion", "ing", "ed", "es", "is", "e", "s")


def stem(token: str) -> str:
    """Crude suffix stripping so "treated", "treatments" and "treat" share a feature: MedQuAD only
    ever says "treatments for", consumers say "how is it treated"."""
    for suffix in _SUFFIXES:
        if token.endswith(suffix) and len(token) - len(suffix) >= 4:
            return token[: -len(suffix)]
    return token


def normalise(text: str) -> str:
    return " ".join(text.replace("\u2019", "'").replace("\u2018", "'").lower().split())


def features(text: str) -> list[str]:
    """Stemmed unigrams and bigrams of ``text`` (deduplicated, in first-seen order)."""
    stems = [stem(t) for t in _TOKEN.findall(normalise(text))]
    grams = stems + [f"{a} {b}" for a, b in itertools.pairwise(stems)]
    return list(dict.fromkeys(grams))


# --------------------------------------------------------------------------- question part

_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+|\n+")


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


_WH = _wordset("what which who whom whose when where why how")
_AUX = _wordset(
    """is are am was were do does did can could should shall will would may might must has have had isn't aren't
    don't doesn't didn't can't couldn't shouldn't won't wouldn't"""
)
_FILLER = _wordset("hi hello hey dear doctor doc sir madam also so ok okay and but please well then now")
# A request phrased as a statement ("I would like to know ...") is still the question.
_REQUEST = re.compile(
    r"\b(?:i (?:would like|want|need|wanted|am trying|'m trying|was hoping) to (?:know|find out|understand|learn|"
    r"obtain|get|ask)|please (?:tell|inform|explain|send|let me know|advise|help)|(?:could|can|would) you (?:please )?"
    r"(?:tell|explain|help|advise)|looking for (?:information|advice|help)|i (?:am|'m) (?:wondering|curious)|"
    r"wondering|explain|define)\b"
)


def _lead_words(clause: str) -> list[str]:
    words = _TOKEN.findall(clause)
    while words and words[0] in _FILLER:
        words = words[1:]
    return words


def question_part(text: str) -> str:
    """The interrogative sentences of a message (all of it when none looks like a question)."""
    sentences = [s.strip() for s in _SENTENCE_SPLIT.split(normalise(text)) if s.strip()]
    picked = []
    for s in sentences:
        lead = _lead_words(s)
        if "?" in s or (lead and (lead[0] in _WH or lead[0] in _AUX)) or _REQUEST.search(s):
            picked.append(s)
    return " ".join(picked or sentences)


# --------------------------------------------------------------------------- yes/no

# Punctuation only: splitting on "and" would make "has migraines" of "she is 30 and has migraines" look
# like an inverted question.
_CLAUSE_SPLIT = re.compile(r"[,;:()]|\s-\s")
_EMBEDDED_YES_NO = re.compile(
    r"\b(?:know|ask|asking|wonder|wondering|tell me|sure|find out|see|advise)\s+(?:if|whether)\b"
)
_EMBEDDED_WH = re.compile(
    r"\b(?:know|ask|asking|wonder|wondering|tell me|find out|explain|understand)\s+(?:what|which|who|when|where|why|how)\b"
)
# Mid-clause inversion ("my son has a rash is this serious"); "that" is left out because "the
# problem is that ..." is far more common than "is that ...?" after other words.
_MID_INVERSION = re.compile(
    r"\b(?:is|are|can|could|should|will|would|do|does|did|may|might)\s+(?:i|you|he|she|we|they|it|there|this)\b"
)


def is_yes_no_question(text: str) -> bool:
    """Whether the first question in ``text`` asks yes/no ("Can I take ...?", "Is it serious?").

    The first interrogative clause decides: "What is X and is it contagious?" asks for an explanation.
    """
    part = question_part(text)
    for sentence in _SENTENCE_SPLIT.split(part):
        for clause in _CLAUSE_SPLIT.split(sentence):
            lead = _lead_words(clause)
            if not lead:
                continue
            if lead[0] in _WH:
                return False
            if lead[0] in _AUX:
                return True
            if _EMBEDDED_WH.search(clause):
                return False
            if _EMBEDDED_YES_NO.search(clause):
                return True
            wh = next((i for i, w in enumerate(lead) if w in _WH), None)
            inv = _MID_INVERSION.search(clause)
            if inv and "?" in sentence and (wh is None or clause.find(lead[wh]) > inv.start()):
                return True
            if wh is not None:
                return False
    return False


# --------------------------------------------------------------------------- population

_PREGNANCY = re.compile(
    r"\b(?:pregnan\w*|expecting (?:a baby|mother)|expectant mother|trimester|breast[- ]?feed\w*|breast[- ]?fed|"
    r"nursing (?:mother|mom|my baby|a baby)|lactat\w*|prenatal|antenatal|gestation\w*|postpartum|post[- ]partum)"
)
_CHILD = re.compile(
    r"\b(?:child|children|childhood|childs|kids?|kiddos?|bab(?:y|ies)|infants?|toddlers?|newborns?|neonat\w*|"
    r"p(?:a)?ediatric\w*|preschool\w*|teen(?:ager)?s?|adolescents?|youngsters?|grand(?:son|daughter|child|children)s?|"
    r"little (?:boy|girl|one)|boys?|girls?)\b"
)
_OFFSPRING = re.compile(r"\bmy (?:sons?|daughters?)\b")
_AGE = re.compile(
    r"\b(\d{1,3})[- ]?(years?|yrs?|months?|mos?|weeks?|wks?|days?)[- ]old\b|\baged? (\d{1,3})\b|"
    r"\b(?:sons?|daughters?|he|she) (?:is|turned|just turned) (\d{1,2})\b(?! ?(?:weeks?|days?|months?|%))"
)
_ADULT_WORDS = re.compile(r"\b(?:adult|grown|married|in (?:his|her|their) (?:\d0s|\d0's|late|early|mid))\b")


def _ages(text: str) -> list[float]:
    """Ages in years mentioned as "5 year old", "22 months old", "aged 40"."""
    ages = []
    for m in _AGE.finditer(text):
        if m.group(3) or m.group(4):
            ages.append(float(m.group(3) or m.group(4)))
            continue
        unit = m.group(2)
        scale = 1.0 if unit.startswith("y") else 1 / 12 if unit.startswith("mo") else 1 / 52
        ages.append(float(m.group(1)) * scale)
    return ages


def detect_population(text: str) -> str | None:
    """ "pregnancy", "child" or None. Pregnancy wins: "will it harm the baby" while pregnant is about pregnancy."""
    t = normalise(text)
    if _PREGNANCY.search(t):
        return "pregnancy"
    ages = _ages(t)
    if _CHILD.search(t) or any(a < 18 for a in ages):
        return "child"
    # "My son" is a child unless the message says otherwise ("my 40 year old son", "adult daughter").
    if _OFFSPRING.search(t) and not any(a >= 18 for a in ages) and not _ADULT_WORDS.search(t):
        return "child"
    return None


# --------------------------------------------------------------------------- rules

_S = r"[^.?!]"  # within one sentence
_RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (label, re.compile(pattern))
    for label, pattern in (
        # "Should I worry / is it serious / when should I see a doctor": the caller wants triage.
        ("care", r"\bshould (?:i|we) (?:be )?(?:worr|concern|panic|scared|afraid)"),
        ("care", r"\b(?:do|does|should) (?:i|we|he|she) (?:need to )?worry\b|\bworth worrying\b|\bto worry about\b"),
        # Not "what are the serious side effects": that asks about a medicine.
        (
            "care",
            rf"(?<!what )(?<!which )\b(?:is|are|could|can)\b{_S}{{0,60}}\b(?:serious|dangerous|an emergency|"
            rf"life[- ]threatening|normal)\b(?!\s*(?:side|adverse|complications?|reactions?|effects?|risks?)\b)",
        ),
        ("care", r"\bhow (?:serious|dangerous|worried|concerned)\b"),
        (
            "care",
            rf"\bwhen (?:should|do|must|would) (?:i|you|we|he|she|they)\b{_S}{{0,30}}\b(?:see|call|contact|go|visit|consult)\b",
        ),
        ("care", r"\bwhen to (?:see|call|contact|go to|visit|consult|seek)\b"),
        (
            "care",
            rf"\b(?:need to|should (?:i|we|you|he|she)|have to|must|do (?:i|we) (?:need|have) to)\s+(?:go and )?"
            rf"(?:see|call|contact|go to|visit|consult)\b{_S}{{0,25}}\b(?:doctors?|dr|gp|physicians?|er|emergency|"
            rf"hospital|specialists?|provider|urgent care|a ?& ?e|clinic|nurse|p(?:a)?ediatrician)\b",
        ),
        ("care", r"\b(?:what|which) (?:kind of |type of |sort of )?(?:doctor|specialist|physician)\b"),
        # Before treatment: "what can I do to prevent it" is about prevention.
        (
            "prevention",
            r"\b(?:prevent\w*|avoid (?:getting|catching)|stop (?:it|this|them) from|(?:reduce|lower) (?:my|the|your|his|"
            r"her|our) (?:risk|chance)|protect (?:myself|yourself|my|against|me))\b",
        ),
        # Before treatment: "what should I do if I forget a dose / in case of overdose" is about the medicine.
        ("medicine", r"\bside[- ]?effects?\b|\b(?:adverse|severe|allergic) reactions?\b|\breactions? to\b"),
        (
            "medicine",
            r"\b(?:overdos\w*|missed (?:a|my|the) (?:dose|pill)|forg[eo]t (?:a|my|the) (?:dose|pill)|forgot to take)\b",
        ),
        ("medicine", r"\bwhy (?:is|are) (?:it|they|this|these) (?:prescribed|used|recommended|given|taken)\b"),
        # "What can I take for a headache" asks for a treatment, "Can I take ibuprofen ..." about a medicine.
        (
            "treatment",
            rf"\b(?:what|which|anything|something)\b{_S}{{0,30}}\b(?:can|could|should|do|may|to) (?:i |we |you |he |she )?(?:take|use|do|give|try|put|apply|eat|drink)\b",
        ),
        (
            "treatment",
            r"\b(?:remed(?:y|ies)|cure for|cure it|(?:is|are) there (?:a|any) (?:cure|treatment)|get rid of|relieve|relief|what helps|help with the)\b",
        ),
        (
            "treatment",
            rf"\bhow (?:do|can|should|to|is|are|would)\b{_S}{{0,30}}\b(?:treat\w*|cure[ds]?|manag\w*|heal)\b",
        ),
        ("treatment", rf"\b(?:what|which) (?:is|are)\b{_S}{{0,25}}\b(?:good|best|recommended)\b{_S}{{0,25}}\bfor\b"),
        (
            "medicine",
            r"\binteract\w*\b|\b(?:take|taking|use|using|mix|mixing|combine|combining) (?:them|these|it|both|\w+ and \w+) together\b",
        ),
        (
            "medicine",
            rf"\b(?:dose|doses|dosage|dosing)\b|\bhow (?:much|many)\b{_S}{{0,40}}\b(?:take|give|have|use|safe)\b",
        ),
        (
            "medicine",
            r"\b(?:can|could|should|may|is it (?:safe|ok|okay|alright|fine) to) (?:i |we |you |he |she )?(?:still )?(?:take|use|give|stop (?:taking|using))\b",
        ),
        ("medicine", r"\b(?:while|when|after|before|if (?:i am|i'm|you are|you're)) (?:taking|using)\b"),
        (
            "medicine",
            r"\b(?:expir\w*|shelf life|dispos\w*|storage and|how (?:should|do|to|can) (?:i |you )?store|ingredients?|gluten|used for|prescribed for|how does \w+(?: \w+)? work)\b",
        ),
        # "How long does it last / will it go away": the course of the illness.
        (
            "outlook",
            rf"\bhow long (?:does|will|do|can|would|should|is|are)\b{_S}{{0,40}}\b(?:last|take|go away|persist|stay|heal|recover|get better|clear|contagious)",
        ),
        (
            "outlook",
            rf"\b(?:will|does|would|can|do|is)\b{_S}{{0,30}}\b(?:go away|get better|clear up|heal|resolve|come back|recur|get worse|worsen|go back to normal|be cured|permanent)\b",
        ),
        (
            "outlook",
            r"\b(?:prognosis|outlook|life expectancy|survival (?:rate|chance)|chances? of (?:recovery|survival)|long[- ]term effects?|curable|fatal|deadly|progress\w* over time)\b",
        ),
        # Who gets it / is it contagious / inherited.
        # The adjectives only as a predicate ("is lupus hereditary?"): "hereditary angioedema" names a disease.
        (
            "risk",
            r"\b(?:contagious|infectious|catching|hereditary|genetic|inherited|transmissible|transmitted)\b"
            r"(?=\s*(?:$|[?.!,;]|(?:to|from|through|by|or|and|in|via|especially)\b))",
        ),
        (
            "risk",
            r"\b(?:genetically|passed (?:down|on)|run(?:s)? in (?:the |my |our )?famil\w*|who (?:gets|get|is at risk|can get)|"
            r"at risk|risk factors?|how common|chances? of (?:getting|developing|having)|transmit\w*|transmission)\b",
        ),
        (
            "risk",
            r"\b(?:spread|pass)\w* (?:it |it on |on )?(?:to|through) (?:others?|people|me|my|someone|anyone|family|him|her|the baby|you|kids|children)\b",
        ),
        (
            "risk",
            rf"\b(?:how (?:do|did|can|could) (?:you|i|people|one|someone) (?:catch|contract)|(?:can|could) (?:i|you|someone|people) (?:get|catch|contract)\b{_S}{{0,40}}\bfrom)\b",
        ),
        (
            "tests",
            rf"\bhow (?:is|are|do|can|would|will|could|to)\b{_S}{{0,30}}\bdiagnos\w*|\b(?:what|which) tests?\b|\btest(?:ed|s)? for\b",
        ),
        ("tests", rf"\b(?:detect\w*|show up|pick up|diagnose)\b{_S}{{0,40}}\?|\bbe (?:detected|diagnosed|seen)\b"),
        (
            "tests",
            r"\bhow (?:do|can|would|will|could) (?:i|you|we|one|doctors?|they) (?:know|tell|find out|check|confirm) (?:if|whether)\b",
        ),
        ("causes", rf"\b(?:what|which)\b{_S}{{0,20}}\b(?:causes?|caused|causing|triggers?|leads? to|brings? on)\b"),
        ("causes", r"\bwhy (?:do|does|did|am|is|are|would|might|could|can|have|has|my|i)\b"),
        (
            "causes",
            rf"\b(?:can|could|does|do|did|would|might|may)\b{_S}{{0,50}}\b(?:cause|trigger|lead to|contribute to|result in|be (?:the )?(?:reason|cause)|be due to|be caused by)\b",
        ),
        ("causes", r"\b(?:cause|reason)s? (?:of|for|behind)\b"),
        (
            "symptoms",
            rf"\b(?:symptoms?|signs? (?:of|that)|warning signs|what does\b{_S}{{0,25}}\b(?:feel|look) like|is (?:this|it|that) a (?:sign|symptom))\b",
        ),
        ("other", r"\b(?:support groups?|clinical trials?|research\w*)\b"),
        (
            "definition",
            r"\b(?:what does \w+(?: \w+){0,3} mean|meaning of|define|definition of|tell me (?:more )?about|information (?:on|about|regarding)|learn (?:more )?about|know more about)\b",
        ),
    )
)


def rule_labels(text: str) -> tuple[str, ...]:
    """Labels whose rules match ``text`` (already reduced to its question part), in priority order."""
    t = normalise(text)
    return tuple(dict.fromkeys(label for label, pattern in _RULES if pattern.search(t)))


# --------------------------------------------------------------------------- learned stage


@dataclass(frozen=True)
class _Model:
    labels: tuple[str, ...]
    vocab: dict[str, int]
    weights: np.ndarray  # (len(vocab), len(labels))
    bias: np.ndarray  # (len(labels),)

    def scores(self, text: str) -> dict[str, float]:
        import numpy as np

        idx = [self.vocab[f] for f in features(text) if f in self.vocab]
        logits = self.bias + (self.weights[idx].sum(axis=0) if idx else 0.0)
        p = np.exp(logits - logits.max())
        p /= p.sum()
        return {label: float(v) for label, v in zip(self.labels, p, strict=True)}


def load_model(path: Path = MODEL_PATH) -> _Model:
    import numpy as np

    with np.load(path, allow_pickle=False) as data:
        labels = tuple(str(x) for x in data["labels"])
        vocab = {str(f): i for i, f in enumerate(data["vocab"])}
        return _Model(labels, vocab, data["weights"].astype(np.float32), data["bias"].astype(np.float32))


@functools.lru_cache(maxsize=1)
def _shipped_model() -> _Model:
    return load_model(MODEL_PATH)


def learned_scores(text: str, model: _Model | None = None) -> dict[str, float]:
    """The learned stage alone: a probability per label."""
    return (model or _shipped_model()).scores(text)


# --------------------------------------------------------------------------- detect


def detect(question: str, model: _Model | None = None) -> QuestionType:
    """The question type of a patient's message (a question or a longer message with a story)."""
    part = question_part(question)
    learned = learned_scores(part, model)
    matched = rule_labels(part)
    if matched:
        scores = {label: (1 - RULE_WEIGHT) * p for label, p in learned.items()}
        scores[matched[0]] += RULE_WEIGHT
        label = matched[0]
    else:
        scores = dict(learned)
        label = max(LABELS, key=lambda lb: (scores.get(lb, 0.0), -LABELS.index(lb)))
    return QuestionType(
        label=label,
        score=scores[label],
        is_yes_no=is_yes_no_question(question),
        population=detect_population(question),
        scores=scores,
        matched=matched,
    )


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m chatbot.question_type", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser(
        "train", help="rebuild chatbot/data/question_type.npz from MedQuAD (and report accuracy)", add_help=False
    )
    ask = sub.add_parser("ask", help="print the detected type of one question")
    ask.add_argument("question")
    args, rest = parser.parse_known_args(argv)
    if args.command == "train":
        # By name, like chatbot.__main__: the trainer imports this module, and a static import back
        # would be the sibling cycle the architecture contract forbids.
        trainer = importlib.import_module("chatbot.question_type_train")
        return int(trainer.main(rest))
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    print(detect(args.question))
    return 0


if __name__ == "__main__":
    sys.exit(main())
