"""Typed records of one chat turn: triage -> query -> retrieve -> prompt -> generate -> ground -> reply."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Role = Literal["system", "user", "assistant"]
TriageLabel = Literal["ok", "emergency", "harmful", "off_topic", "injection", "clarify"]


@dataclass(frozen=True)
class ChatMessage:
    role: Role
    content: str


@dataclass(frozen=True)
class PatientProfile:
    """Optional personal context; kept only for the session unless storage is enabled."""

    age: int | None = None
    age_group: Literal["infant", "child", "teen", "adult", "older_adult"] | None = None
    sex: Literal["female", "male", "other"] | None = None
    pregnant: bool | None = None
    conditions: tuple[str, ...] = ()
    medications: tuple[str, ...] = ()
    allergies: tuple[str, ...] = ()

    def is_empty(self) -> bool:
        return self == PatientProfile()

    @property
    def group(self) -> str | None:
        """The stated age group, else the one the age falls in (one home for the bands)."""
        if self.age_group is not None:
            return self.age_group
        if self.age is None:
            return None
        if self.age < 1:
            return "infant"
        if self.age < 13:
            return "child"
        if self.age < 18:
            return "teen"
        return "adult" if self.age < 65 else "older_adult"


@dataclass(frozen=True)
class Triage:
    label: TriageLabel
    category: str = ""  # e.g. "stroke", "self_harm", "lethal_dose"
    reason: str = ""  # what matched, for logs and reports
    message: str = ""  # fixed text shown to the user (emergency guidance, refusal, question)
    language: str = "en"
    # "same_day" when the message is not an emergency but needs a clinician today (shown first).
    care: str = ""
    source: str = ""  # what raised it: "rules", "classifier" or "rules+classifier"
    score: float | None = None  # the classifier's emergency probability, when it ran


@dataclass(frozen=True)
class Query:
    original: str  # the message as typed
    standalone: str  # follow-up rewritten with earlier turns
    retrieval: str  # what is sent to the retriever (reduced long message, profile terms)


@dataclass(frozen=True)
class Citation:
    n: int  # the [n] used in the answer
    doc_id: str
    title: str
    url: str
    source: str = ""
    license: str = ""
    excerpt: str = ""
    score: float = 0.0


@dataclass
class Timings:
    triage_s: float = 0.0
    retrieval_s: float = 0.0
    first_token_s: float | None = None
    generation_s: float = 0.0
    total_s: float = 0.0
    tokens_generated: int = 0


@dataclass
class Reply:
    text: str
    citations: list[Citation] = field(default_factory=list)
    grounded_fraction: float | None = None  # None when nothing was generated from sources
    triage: Triage = field(default_factory=lambda: Triage("ok"))
    flags: list[str] = field(default_factory=list)  # e.g. "no_relevant_source", "unsupported:2"
    timings: Timings = field(default_factory=Timings)
    retrieved: list[dict[str, Any]] = field(default_factory=list)  # doc_id, chunk_id, score, title
    query: Query | None = None
    # Per shown (or dropped) sentence: text, verdict (supported | unsupported | contradicted), reason, source.
    checks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def refused(self) -> bool:
        return self.triage.label in ("harmful", "injection")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["refused"] = self.refused
        return d


@dataclass(frozen=True)
class ReplyEvent:
    """One item of a streamed turn, in order: triage, sources, delta*, done.

    ``kind == "delta"`` carries text in ``text``; ``"done"`` carries the final ``reply``
    (after grounding, which may flag or drop sentences already streamed).
    """

    kind: Literal["triage", "sources", "delta", "done"]
    text: str = ""
    triage: Triage | None = None
    citations: tuple[Citation, ...] = ()
    reply: Reply | None = None
