"""The API's request bodies (pydantic models): OpenAI's chat completion request, with the
``profile`` extension, and a clinician rating."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from chatbot.types import PatientProfile

MODEL_ID = "healthbot"


class TextPart(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: str = "text"
    text: str = ""


class ChatMessageIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[TextPart] | None = None

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text for p in self.content if p.type == "text")


class ProfileIn(BaseModel):
    """The optional ``profile`` extension field: the patient's "about me" details."""

    model_config = ConfigDict(extra="forbid")
    age: int | None = Field(None, ge=0, le=130)
    age_group: Literal["infant", "child", "teen", "adult", "older_adult"] | None = None
    sex: Literal["female", "male", "other"] | None = None
    pregnant: bool | None = None
    conditions: list[str] = Field(default_factory=list, max_length=20)
    medications: list[str] = Field(default_factory=list, max_length=20)
    allergies: list[str] = Field(default_factory=list, max_length=20)

    def to_profile(self) -> PatientProfile:
        def clean(items: list[str]) -> tuple[str, ...]:
            return tuple(s.strip()[:100] for s in items if s.strip())

        return PatientProfile(
            age=self.age,
            age_group=self.age_group,
            sex=self.sex,
            pregnant=self.pregnant,
            conditions=clean(self.conditions),
            medications=clean(self.medications),
            allergies=clean(self.allergies),
        )


class ChatCompletionRequest(BaseModel):
    """OpenAI's chat completion request; unknown OpenAI fields are accepted and ignored."""

    model_config = ConfigDict(extra="ignore")
    model: str = MODEL_ID
    messages: list[ChatMessageIn] = Field(min_length=1)
    stream: bool = False
    max_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    user: str | None = None
    profile: ProfileIn | None = None


class RatingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    config: str = Field(min_length=1, max_length=200)
    question: str = Field(max_length=20_000)
    answer: str = Field(max_length=20_000)
    consensus: str
    comprehension: str
    retrieval: str
    reasoning: str
    inappropriate_content: str
    missing_content: str
    harm_extent: str
    harm_likelihood: str
    bias: str
    citations_supported: str
    comment: str = Field("", max_length=20_000)
    grounded_fraction: float | None = Field(None, ge=0.0, le=1.0)
    flags: list[str] = Field(default_factory=list, max_length=100)
