"""Is each sentence of an answer backed by the passage it cites?

Every shown sentence (generated or quoted) is judged by :func:`chatbot.faithfulness.judge`
against the source it cites (all sources when it cites none): ``supported``, ``unsupported``
or ``contradicted``. Citations ``[n]`` are validated against the numbered sources; a supported
sentence without a citation gets its supporting source's number; a contradicted sentence is
always dropped, an unsupported one is dropped or flagged (``dialogue.unsupported_sentences``).
``grounded_fraction`` is the share of checked sentences that are supported. The embedding and
word-overlap ``support`` score is kept for reports and for the hybrid/extractive modes, which
pick the passage sentences closest to the question with the same passage-sentence embeddings.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from chatbot import faithfulness, faithfulness_text
from chatbot.faithfulness_lexicon import NEGATION, REASSURANCE
from chatbot.query import STOPWORDS, split_sentences
from chatbot.query import words as _words
from chatbot.types import Citation

if TYPE_CHECKING:
    import numpy as np

    from knowledge.documents import Chunk, Hit
    from knowledge.embedding import Embedder

CITE = re.compile(r"\s*\[(\d+(?:\s*[,;]\s*\d+)*)\]")
_LEADING_CITES = re.compile(r"^(?:\s*\[\d+(?:\s*[,;]\s*\d+)*\])+")
# Sentences that make no factual claim to check: referrals and safety reminders.
_EXEMPT = re.compile(
    r"\b(?:see|talk to|speak (?:to|with)|consult|ask|contact|call|check with|visit)\s+(?:a|an|your|the)?\s*"
    r"(?:doctor|gp|pharmacist|clinician|nurse|midwife|health ?care|physician|provider|specialist|emergency)"
    r"|\b(?:sources?|information)\s+(?:do(?:es)?\s*n[o']t|does not|do not)\s+(?:cover|say|mention)"
    r"|\bnot (?:a|an) (?:doctor|diagnosis|substitute)",
    re.I,
)
MIN_CLAIM_WORDS = 3
EXEMPT_MAX_WORDS = 12
EMBED_WEIGHT = 0.5
# Sentence selection (hybrid/extractive): similarity to the question, plus a prior for the
# retriever's ranking and for a passage's opening sentence (usually its definition).
SELECT_DENSE = 0.6
SELECT_LEXICAL = 0.3
SELECT_RANK_PRIOR = 0.1
SELECT_OPENING_BONUS = 0.05


def stems(text: str) -> set[str]:
    # Six-letter prefixes: a crude stemmer good enough to match "infection"/"infections".
    return {w[:6] for w in _words(text) if w not in STOPWORDS and len(w) > 2}


def strip_citations(text: str) -> str:
    return " ".join(CITE.sub("", text).split())


def cited_numbers(text: str) -> list[int]:
    out: list[int] = []
    for m in CITE.finditer(text):
        out += [int(x) for x in re.split(r"\s*[,;]\s*", m.group(1))]
    return out


def answer_sentences(text: str) -> list[list[str]]:
    """Paragraphs of sentences; a citation written after the full stop stays with its sentence."""
    paragraphs = []
    for line in text.split("\n"):
        sentences: list[str] = []
        for s in split_sentences(line):
            lead = _LEADING_CITES.match(s)
            if lead and sentences:
                sentences[-1] += " " + lead.group(0).strip()
                s = s[lead.end() :].strip()
            if s:
                sentences.append(s)
        paragraphs.append(sentences)
    return paragraphs


_ITEM = re.compile(r"^\s*[-*\u2022]\s+")


def _with_lead_ins(pieces: list[str]) -> list[str]:
    """Passage sentences as they may be quoted: a list item joined to its lead-in line ("See a
    doctor soon if the cough lasts more than three weeks."), so an item never reads as a fact
    on its own or under another list's heading; a bare lead-in line is not quoted (""). Items
    of a list without a lead-in (under a heading) stay items."""
    out: list[str] = []
    lead_in = ""
    for piece in pieces:
        text = piece.strip()
        if _ITEM.match(text):
            item = _ITEM.sub("", text).rstrip(".;")
            if item.endswith(":"):  # a lead-in run into an item (flattened text): nothing to trust
                lead_in, text = "", ""
            elif lead_in:
                text = faithfulness_text.join_lead_in(lead_in, item) + "."
        elif text.endswith(":"):
            lead_in, text = text, ""
        else:
            lead_in = ""
        out.append(text)
    return out


@dataclass
class PassageSentence:
    source: int  # 1-based source number
    position: int
    text: str


class Evidence:
    """The numbered sources split into sentences, embedded once per turn."""

    def __init__(self, hits: Sequence[Hit], embedder: Embedder | None) -> None:
        self.hits = list(hits)
        self.embedder = embedder
        self.sentences: list[PassageSentence] = []
        for n, hit in enumerate(self.hits, 1):
            for i, s in enumerate(_with_lead_ins(split_sentences(hit.chunk.text))):
                if s and len(s.split()) >= 3:
                    self.sentences.append(PassageSentence(n, i, s))
        self.source_stems = [stems(h.chunk.text) for h in self.hits]
        self._vectors: np.ndarray | None = None
        self._questions: dict[str, np.ndarray | None] = {}

    @property
    def vectors(self) -> np.ndarray | None:
        if self._vectors is None and self.embedder is not None and self.sentences:
            self._vectors = self.embedder.encode([s.text for s in self.sentences])
        return self._vectors

    def similarity(self, question: str, sentences: Sequence[PassageSentence]) -> list[float]:
        """How close each of ``sentences`` (this evidence's own, or copies of them with the same
        source and position) is to ``question``: embedding and word overlap, as in selection."""
        q_stems = stems(question)
        qv = self._question_vector(question)
        vecs = self.vectors
        row = {(s.source, s.position): i for i, s in enumerate(self.sentences)}
        out = []
        for s in sentences:
            st = stems(s.text)
            lex = len(st & q_stems) / len(q_stems) if q_stems else 0.0
            i = row.get((s.source, s.position))
            dense = float(vecs[i] @ qv[0]) if vecs is not None and qv is not None and i is not None else 0.0
            out.append(SELECT_DENSE * dense + SELECT_LEXICAL * lex)
        return out

    def _question_vector(self, question: str) -> np.ndarray | None:
        # The planned lead and the quote selection ask about the same question: embed it once.
        if question not in self._questions:
            self._questions[question] = self.encode([question])
        return self._questions[question]

    def encode(self, texts: list[str]) -> np.ndarray | None:
        return self.embedder.encode(texts) if self.embedder is not None and texts else None

    def dense(self, vector: np.ndarray | None) -> list[float] | None:
        """Per source, the embedding cosine of ``vector`` and that source's closest sentence."""
        vecs = self.vectors
        if vector is None or vecs is None:
            return None
        dense = [0.0] * len(self.hits)
        for ps, sim in zip(self.sentences, vecs @ vector, strict=True):
            dense[ps.source - 1] = max(dense[ps.source - 1], float(sim))
        return dense

    def support(self, sentence: str, vector: np.ndarray | None) -> tuple[float, int, float, float]:
        """(support, best source, embedding part, lexical part) of one answer sentence."""
        own = stems(sentence)
        lex = [len(own & src) / len(own) if own else 0.0 for src in self.source_stems]
        dense = self.dense(vector) or [0.0] * len(self.hits)
        if self.embedder is None:  # lexical only
            scores = lex
        else:
            scores = [EMBED_WEIGHT * d + (1 - EMBED_WEIGHT) * x for d, x in zip(dense, lex, strict=True)]
        if not scores:
            return 0.0, 0, 0.0, 0.0
        best = max(range(len(scores)), key=scores.__getitem__)
        return scores[best], best + 1, dense[best], lex[best]


@dataclass
class SentenceSupport:
    text: str  # as it appears in the final answer (citations included)
    support: float | None  # similarity score for reports; None = exempt (no factual claim)
    source: int  # supporting source number, 0 if none
    supported: bool
    dropped: bool = False
    verdict: str = "supported"  # chatbot.faithfulness: supported | unsupported | contradicted
    reason: str = ""

    def record(self) -> dict[str, object]:
        return {"text": self.text, "verdict": self.verdict, "reason": self.reason, "source": self.source}


@dataclass
class GroundedAnswer:
    text: str
    sentences: list[SentenceSupport] = field(default_factory=list)
    used_sources: list[int] = field(default_factory=list)
    grounded_fraction: float | None = None
    flags: list[str] = field(default_factory=list)

    @property
    def unsupported(self) -> int:
        return sum(1 for s in self.sentences if not s.supported and s.support is not None and not s.dropped)


def exempt(body: str) -> bool:
    """A sentence with no factual claim to check: too short, a lead-in line, or a bare referral
    ("Talk to your pharmacist.") with no number, negation or reassurance that could be wrong."""
    if len(_words(body)) < MIN_CLAIM_WORDS or body.endswith(":"):
        return True
    if not _EXEMPT.search(body) or len(body.split()) > EXEMPT_MAX_WORDS:
        return False
    words = set(faithfulness_text.tokens(body))
    risky = words & NEGATION or any(w[0].isdigit() for w in words)
    return not (risky or REASSURANCE.search(faithfulness_text.normalize(body)))


def topic(chunk: Chunk) -> str:
    """What a passage is about: its document's title without the section ("Asthma — Symptoms")."""
    return (chunk.title or "").split(" \u2014 ")[0]


def _check(
    body: str, valid: list[int], evidence: Evidence, vector: np.ndarray | None, question: str
) -> tuple[SentenceSupport, list[int]]:
    """The verdict on one claim against the sources it cites (all sources when it cites none)."""
    score = evidence.support(body, vector)[0]
    numbers = valid or list(range(1, len(evidence.hits) + 1))
    chunks = [evidence.hits[n - 1].chunk for n in numbers]
    dense = evidence.dense(vector)
    i, verdict = faithfulness.judge_any(
        body,
        [c.text for c in chunks],
        question=question,
        topics=[topic(c) for c in chunks],
        similarities=[dense[n - 1] for n in numbers] if dense is not None else (),
    )
    ok = verdict.supported
    if ok and not valid:
        valid = [numbers[i]]
    shown = attach(body, "".join(f" [{c}]" for c in valid))
    source = numbers[i] if ok else 0
    return SentenceSupport(shown, round(score, 4), source, ok, verdict=verdict.verdict, reason=verdict.reason), valid


def ground(
    text: str,
    evidence: Evidence,
    *,
    unsupported: Literal["flag", "drop"] = "drop",
    question: str = "",
) -> GroundedAnswer:
    """Check every sentence of ``text`` with :func:`chatbot.faithfulness.judge`, fix citations,
    drop contradicted sentences always and unsupported ones unless ``unsupported="flag"``."""
    n_sources = len(evidence.hits)
    paragraphs = answer_sentences(text)
    plain = [strip_citations(s) for p in paragraphs for s in p]
    vectors = evidence.encode(plain)
    invalid = 0
    results: list[list[SentenceSupport]] = []
    k = 0
    for para in paragraphs:
        out: list[SentenceSupport] = []
        for sentence in para:
            body, vec = plain[k], vectors[k] if vectors is not None else None
            k += 1
            cites = cited_numbers(sentence)
            valid = [c for c in dict.fromkeys(cites) if 1 <= c <= n_sources]
            invalid += len(cites) - len([c for c in cites if 1 <= c <= n_sources])
            if exempt(body):
                shown = body + "".join(f" [{c}]" for c in valid) if valid else body
                out.append(SentenceSupport(shown, None, valid[0] if valid else 0, True, reason="exempt"))
            elif n_sources == 0:
                out.append(SentenceSupport(body, 0.0, 0, False, verdict="unsupported", reason="no_sources"))
            else:
                out.append(_check(body, valid, evidence, vec, question)[0])
        results.append(out)
    return _assemble(results, invalid, unsupported)


def _assemble(results: list[list[SentenceSupport]], invalid: int, unsupported: str) -> GroundedAnswer:
    flags = [f"invalid_citation:{invalid}"] if invalid else []
    counted = [s for p in results for s in p if s.support is not None]
    bad = [s for s in counted if not s.supported]
    contradicted = sum(1 for s in bad if s.verdict == "contradicted")
    if bad:
        flags.append(f"unsupported:{len(bad) - contradicted}" if len(bad) > contradicted else "")
        if contradicted:
            flags.append(f"contradicted:{contradicted}")
        for s in bad:  # a contradicted sentence is never shown, whatever the setting
            s.dropped = unsupported == "drop" or s.verdict == "contradicted"
        dropped = sum(1 for s in bad if s.dropped)
        if dropped:
            flags.append(f"dropped:{dropped}")
    lines = [" ".join(s.text for s in p if not s.dropped) for p in results]
    final = re.sub(r"\n{3,}", "\n\n", "\n".join(lines).strip())
    used: list[int] = []
    for s in (s for p in results for s in p if not s.dropped):
        used += cited_numbers(s.text)
    fraction = (len(counted) - len(bad)) / len(counted) if counted else None
    sentences = [s for p in results for s in p]
    return GroundedAnswer(final, sentences, list(dict.fromkeys(used)), fraction, [f for f in flags if f])


def attach(body: str, citing: str) -> str:
    """Put citations before the sentence's final punctuation: "... airways [1]."."""
    if not citing:
        return body
    m = re.search(r"[.!?]+[\"')\]]*$", body)
    if m:
        return body[: m.start()] + citing + body[m.start() :]
    return body + citing


def citations_for(
    hits: Sequence[Hit], numbers: Sequence[int] | None = None, excerpt_chars: int = 300
) -> list[Citation]:
    """Citation records for the given source numbers (all sources when ``numbers`` is None)."""
    chosen = numbers if numbers is not None else range(1, len(hits) + 1)
    out = []
    for n in chosen:
        if not 1 <= n <= len(hits):
            continue
        hit = hits[n - 1]
        c = hit.chunk
        excerpt = c.text if len(c.text) <= excerpt_chars else c.text[:excerpt_chars].rsplit(" ", 1)[0] + "…"
        out.append(
            Citation(
                n=n,
                doc_id=c.doc_id,
                title=c.title or c.doc_id,
                url=c.url,
                source=c.source,
                license=c.license,
                excerpt=excerpt,
                score=round(float(hit.score), 4),
            )
        )
    return out


def select_sentences(
    question: str,
    evidence: Evidence,
    *,
    max_words: int = 80,
    max_sentences: int = 4,
    boost_terms: Sequence[str] = (),
    exclude: Sequence[str] = (),
    skip: Sequence[PassageSentence] = (),
    sources: Collection[int] | None = None,
) -> list[PassageSentence]:
    """Passage sentences most similar to the question, diverse (MMR), in reading order.

    Scored by embedding similarity to the question, lexical overlap with it, a prior for the
    retriever's rank, and a bonus for profile terms ("children", "pregnancy"). ``skip``: sentences
    already in the answer (never picked again); ``exclude``: texts the picks should not repeat;
    ``sources``: the source numbers to pick from (all when None)."""
    taken = {(s.source, s.position) for s in skip}
    cands = [
        s
        for s in evidence.sentences
        if 4 <= len(s.text.split()) <= 60
        and _quotable(s)
        and (s.source, s.position) not in taken
        and (sources is None or s.source in sources)
    ]
    if not cands:
        return []
    boost = {t for term in boost_terms for t in stems(term)}
    base: list[float] = []
    for s, sim in zip(cands, evidence.similarity(question, cands), strict=True):
        prior = SELECT_RANK_PRIOR / s.source + (SELECT_OPENING_BONUS if s.position == 0 else 0.0)
        bonus = 0.1 if boost and stems(s.text) & boost else 0.0
        base.append(sim + prior + bonus)
    excluded = [stems(e) for e in exclude]
    chosen: list[int] = []
    used_words = 0
    remaining = list(range(len(cands)))
    while remaining and len(chosen) < max_sentences and used_words < max_words:

        def mmr(i: int) -> float:
            st = stems(cands[i].text)
            overlap = max((_jaccard(st, stems(cands[j].text)) for j in chosen), default=0.0)
            overlap = max([overlap, *(_jaccard(st, e) for e in excluded)])
            return base[i] - 0.5 * overlap

        best = max(remaining, key=mmr)
        remaining.remove(best)
        if mmr(best) <= 0.0:
            break
        n = len(cands[best].text.split())
        if chosen and used_words + n > max_words * 1.25:
            continue
        chosen.append(best)
        used_words += n
    picked = [cands[i] for i in chosen]
    return sorted(picked, key=lambda s: (s.source, s.position))


def opening_sentences(evidence: Evidence, max_words: int) -> list[PassageSentence]:
    """The best source's first sentences, about ``max_words`` long.

    Health references (MedlinePlus, GARD, the starter topics) put the overview first, so the top
    passage's opening reads as a coherent answer, where sentences picked one by one from
    several passages often do not."""
    out: list[PassageSentence] = []
    used = 0
    for s in sorted((s for s in evidence.sentences if s.source == 1 and _quotable(s)), key=lambda s: s.position):
        n = len(s.text.split())
        if out and used + n > max_words * 1.25:
            break
        out.append(s)
        used += n
        if used >= max_words:
            break
    return out


def _quotable(s: PassageSentence) -> bool:
    # A question inside a passage is a heading ("How is gout treated?"): it answers nothing, yet
    # it is the sentence most similar to the user's question.
    return not s.text.rstrip().rstrip(")\"'").endswith("?")


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0
