"""Is each sentence of an answer supported by the retrieved passages?

Per answer sentence: support = mean of (a) the best embedding cosine against the passages'
sentences and (b) lexical overlap, the share of the sentence's content-word stems found in the
best passage. A sentence is supported when support >= ``threshold``. Citations ``[n]`` are
validated against the numbered sources; a supported sentence without a citation gets its best
source's number; an unsupported one is flagged or dropped. The same passage-sentence embeddings
serve the hybrid and extractive answer modes, which pick the passage sentences closest to the
question.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from chatbot.query import STOPWORDS, split_sentences
from chatbot.query import words as _words
from chatbot.types import Citation

if TYPE_CHECKING:
    import numpy as np

    from knowledge.documents import Hit
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
            for i, s in enumerate(split_sentences(hit.chunk.text)):
                if len(s.split()) >= 3:
                    self.sentences.append(PassageSentence(n, i, s))
        self.source_stems = [stems(h.chunk.text) for h in self.hits]
        self._vectors: np.ndarray | None = None

    @property
    def vectors(self) -> np.ndarray | None:
        if self._vectors is None and self.embedder is not None and self.sentences:
            self._vectors = self.embedder.encode([s.text for s in self.sentences])
        return self._vectors

    def encode(self, texts: list[str]) -> np.ndarray | None:
        return self.embedder.encode(texts) if self.embedder is not None and texts else None

    def support(self, sentence: str, vector: np.ndarray | None) -> tuple[float, int, float, float]:
        """(support, best source, embedding part, lexical part) of one answer sentence."""
        own = stems(sentence)
        lex = [len(own & src) / len(own) if own else 0.0 for src in self.source_stems]
        dense = [0.0] * len(self.hits)
        vecs = self.vectors
        if vector is not None and vecs is not None:
            sims = vecs @ vector
            for ps, sim in zip(self.sentences, sims, strict=True):
                dense[ps.source - 1] = max(dense[ps.source - 1], float(sim))
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
    support: float | None  # None = exempt (no factual claim)
    source: int  # best-supporting source number, 0 if none
    supported: bool
    dropped: bool = False


@dataclass
class GroundedAnswer:
    text: str
    sentences: list[SentenceSupport] = field(default_factory=list)
    used_sources: list[int] = field(default_factory=list)
    grounded_fraction: float | None = None
    flags: list[str] = field(default_factory=list)

    @property
    def unsupported(self) -> int:
        return sum(1 for s in self.sentences if not s.supported and s.support is not None)


def ground(
    text: str,
    evidence: Evidence,
    *,
    threshold: float,
    unsupported: Literal["flag", "drop"] = "flag",
) -> GroundedAnswer:
    """Score, fix citations and flag or drop unsupported sentences of ``text``."""
    n_sources = len(evidence.hits)
    paragraphs = answer_sentences(text)
    flat = [s for p in paragraphs for s in p]
    plain = [strip_citations(s) for s in flat]
    vectors = evidence.encode(plain)
    flags: list[str] = []
    invalid = 0
    results: list[list[SentenceSupport]] = []
    k = 0
    for para in paragraphs:
        out: list[SentenceSupport] = []
        for sentence in para:
            body = plain[k]
            vec = vectors[k] if vectors is not None else None
            k += 1
            cites = cited_numbers(sentence)
            valid = [c for c in dict.fromkeys(cites) if 1 <= c <= n_sources]
            invalid += len(cites) - len([c for c in cites if 1 <= c <= n_sources])
            if len(_words(body)) < MIN_CLAIM_WORDS or body.endswith(":") or _EXEMPT.search(body):
                shown = body + "".join(f" [{c}]" for c in valid) if valid else body
                out.append(SentenceSupport(shown, None, valid[0] if valid else 0, True))
                continue
            score, best, _, _ = evidence.support(body, vec)
            ok = n_sources > 0 and score >= threshold
            if ok and not valid:
                valid = [best]
            citing = "".join(f" [{c}]" for c in valid)
            shown = _attach(body, citing)
            out.append(SentenceSupport(shown, round(score, 4), best if ok else 0, ok))
        results.append(out)
    if invalid:
        flags.append(f"invalid_citation:{invalid}")
    counted = [s for p in results for s in p if s.support is not None]
    n_bad = sum(1 for s in counted if not s.supported)
    if n_bad:
        flags.append(f"unsupported:{n_bad}")
        if unsupported == "drop":
            for p in results:
                for s in p:
                    if s.support is not None and not s.supported:
                        s.dropped = True
            flags.append(f"dropped:{n_bad}")
    lines = [" ".join(s.text for s in p if not s.dropped) for p in results]
    final = "\n".join(lines).strip()
    final = re.sub(r"\n{3,}", "\n\n", final)
    used: list[int] = []
    for s in (s for p in results for s in p if not s.dropped):
        used += cited_numbers(s.text)
    fraction = (len(counted) - n_bad) / len(counted) if counted else None
    return GroundedAnswer(final, [s for p in results for s in p], list(dict.fromkeys(used)), fraction, flags)


def _attach(body: str, citing: str) -> str:
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
) -> list[PassageSentence]:
    """Passage sentences most similar to the question, diverse (MMR), in reading order.

    Scored by embedding similarity to the question, lexical overlap with it, a prior for the
    retriever's rank, and a bonus for profile terms ("children", "pregnancy"). ``skip``: sentences
    already in the answer (never picked again); ``exclude``: texts the picks should not repeat."""
    taken = {(s.source, s.position) for s in skip}
    cands = [
        s
        for s in evidence.sentences
        if 4 <= len(s.text.split()) <= 60 and _quotable(s) and (s.source, s.position) not in taken
    ]
    if not cands:
        return []
    q_stems = stems(question)
    boost = {t for term in boost_terms for t in stems(term)}
    vecs = evidence.vectors
    idx = {id(s): i for i, s in enumerate(evidence.sentences)}
    qv = evidence.encode([question])
    base: list[float] = []
    for s in cands:
        st = stems(s.text)
        lex = len(st & q_stems) / len(q_stems) if q_stems else 0.0
        dense = float(vecs[idx[id(s)]] @ qv[0]) if vecs is not None and qv is not None else 0.0
        prior = SELECT_RANK_PRIOR / s.source + (SELECT_OPENING_BONUS if s.position == 0 else 0.0)
        bonus = 0.1 if boost and st & boost else 0.0
        base.append(SELECT_DENSE * dense + SELECT_LEXICAL * lex + prior + bonus)
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
