"""Reduce a long consumer message to the part that asks the question.

Consumer messages mix a subject line, background, greetings and thanks with one or two
actual questions; embedding all of it dilutes the query. ``reduce_question`` keeps an
informative subject plus the sentences that look like questions (question words, "?",
health-question verbs), in their original order. Short messages come back unchanged.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'-]*")
_SENT = re.compile(r"(?<=[.!?])\s+|\n+|(?<=\?)(?=\S)")
_QWORDS = {
    "what", "how", "can", "could", "is", "are", "does", "do", "did", "why", "when", "which", "should",
    "will", "would", "who", "where", "whats", "what's", "may", "am", "has", "have",
}  # fmt: skip
_ASK = re.compile(
    r"\b(?:i (?:would like|want|need) to know|tell me|looking for information|information on|information about|"
    r"wondering|explain|define|question is|is there|are there|any (?:idea|advice|suggestion)s?|side effects?|"
    r"symptoms?|treatment|treat|cure|causes?|diagnos\w*|prevent\w*|risk|inherit\w*|genetic|dosage|dose|"
    r"interact\w*|contagious|safe)\b",
    re.IGNORECASE,
)
_FILLER = re.compile(
    r"^(?:hi|hello|hey|dear\b.*|sir|madam|thanks?(?: you)?(?: (?:very|so) much)?|please(?: help(?: me)?)?|"
    r"regards|best|sincerely|plz reply|please reply|help)[\s!.,]*$",
    re.IGNORECASE,
)
_GENERIC_SUBJECT = {
    "general", "health", "question", "questions", "help", "consultation", "request", "customer", "service",
    "inquiry", "enquiry", "info", "information", "medical", "can't", "cant", "find", "an", "answer", "a",
    "the", "about", "my", "for", "your", "website", "and", "symptoms", "diagnosis", "re", "hello", "hi",
}  # fmt: skip


def _words(text: str) -> list[str]:
    return _WORD.findall(text)


def informative_subject(subject: str) -> bool:
    """False for subject lines like "general health" or "Customer Service Request"."""
    words = [w.lower() for w in _words(subject)]
    return bool(words) and any(w not in _GENERIC_SUBJECT for w in words) and len(words) <= 16


def _question_score(sentence: str) -> float:
    words = [w.lower() for w in _words(sentence)]
    if not words:
        return 0.0
    score = 0.0
    if sentence.rstrip().endswith("?") or "?" in sentence:
        score += 2.0
    if words[0] in _QWORDS:
        score += 1.5
    if _ASK.search(sentence):
        score += 1.0
    if len(words) > 40:  # rambling background, even if it contains a question mark
        score -= 1.0
    return score


def reduce_question(text: str, *, subject: str = "", max_words: int = 48) -> str:
    """The subject (when informative) plus the question-like sentences of ``text``.

    Messages of at most ``max_words`` words are returned whitespace-normalised but otherwise whole.
    """
    body = " ".join(text.split()) if len(_words(text)) <= max_words else text.strip()
    subject = " ".join(subject.split())
    head = subject if subject and informative_subject(subject) else ""
    if head and body.lower().startswith(head.lower()):
        head = ""  # the message repeats the subject line
    if len(_words(body)) + len(_words(head)) <= max_words:
        return f"{head}. {body}".strip(". ") if head and body else (head or body)
    sentences = [s.strip() for s in _SENT.split(text) if s and s.strip()]
    sentences = [s for s in sentences if not _FILLER.match(s)]
    scored = [(i, _question_score(s)) for i, s in enumerate(sentences)]
    keep: set[int] = set()
    budget = max_words - len(_words(head))
    for i, score in sorted(scored, key=lambda x: (-x[1], x[0])):
        if score < 1.5 and keep:
            break
        n = len(_words(sentences[i]))
        if keep and n > budget:
            continue
        keep.add(i)
        budget -= n
        if budget <= 0:
            break
    if not keep and sentences:
        keep = {0}
    # The opening sentence usually names the condition or drug the question is about.
    if sentences and 0 not in keep and len(_words(sentences[0])) <= budget:
        keep.add(0)
    picked = " ".join(sentences[i] for i in sorted(keep))
    words = picked.split()
    if len(_words(picked)) > max_words:
        picked = " ".join(words[:max_words])
    return f"{head}. {picked}" if head else picked
