"""The clinician workbench's service side: answers of several configurations over the same passages.

The passages are retrieved once; each configuration then only changes the generator (for
example the base model versus the base model with the LoRA adapter), so differences between
the answers come from the model and not from retrieval. The generators are built here, through
:func:`chatbot.services.build_generator`, and handed to the dialogue service's ``reply``: the
UI (:mod:`chatbot.ui.clinician`) only calls :class:`Comparer` and renders what it returns.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from chatbot.errors import HealthbotError
from chatbot.services import build_generator
from chatbot.types import PatientProfile, Query, Reply

if TYPE_CHECKING:
    from chatbot.dialogue import DialogueService
    from chatbot.llm.base import Generator
    from chatbot.settings import LLMSettings, Settings
    from knowledge.documents import Hit


class CompareConfigError(HealthbotError, ValueError):
    """``server.compare_configs`` names an override that cannot be applied."""


@dataclass
class ConfigResult:
    name: str
    reply: Reply
    overrides: dict[str, Any] = field(default_factory=dict)


@dataclass
class Comparison:
    question: str
    query: Query | None
    passages: list[dict[str, Any]]  # n, doc_id, title, url, score, scores
    results: list[ConfigResult]


def default_configs(settings: Settings) -> dict[str, dict[str, Any]]:
    """Base versus adapter when an adapter is configured, else greedy versus sampled decoding."""
    if settings.llm.adapter:
        return {"adapter": {}, "base": {"llm": {"adapter": None}}}
    return {"greedy": {}, "sampled": {"llm": {"temperature": 0.7, "top_p": 0.9}}}


def resolve_configs(settings: Settings) -> dict[str, LLMSettings]:
    """Each configuration's LLM settings: the current ones with that configuration's overrides."""
    from pydantic import ValidationError

    from chatbot.settings import LLMSettings

    configs = settings.server.compare_configs or default_configs(settings)
    out: dict[str, LLMSettings] = {}
    for name, overrides in configs.items():
        unknown = sorted(set(overrides) - {"llm"})
        if unknown:
            raise CompareConfigError(
                f"server.compare_configs.{name}: only 'llm' overrides can be compared over the same passages; "
                f"remove {', '.join(unknown)}"
            )
        try:
            out[name] = LLMSettings.model_validate({**settings.llm.model_dump(), **(overrides.get("llm") or {})})
        except ValidationError as err:
            first = err.errors()[0]
            loc = ".".join(str(p) for p in first["loc"])
            raise CompareConfigError(f"server.compare_configs.{name}.llm.{loc}: {first['msg']}") from None
    if not out:
        raise CompareConfigError("server.compare_configs is empty; name at least one configuration")
    return out


class Comparer:
    """Runs one question through every configured generator over one set of passages.
    Generators other than the service's own are built on first use and kept."""

    def __init__(
        self,
        settings: Settings,
        service: DialogueService,
        *,
        generator_factory: Callable[[Settings], Generator] = build_generator,
    ) -> None:
        self.settings = settings
        self.service = service
        self.configs = resolve_configs(settings)
        self.overrides = settings.server.compare_configs or default_configs(settings)
        self._factory = generator_factory
        self._generators: dict[str, Generator | None] = {}
        self._lock = threading.Lock()

    @property
    def names(self) -> list[str]:
        return list(self.configs)

    def generator(self, name: str) -> Generator | None:
        """``None`` means the service's own generator (the configuration equals the current one)."""
        with self._lock:
            if name not in self._generators:
                llm = self.configs[name]
                if llm == self.settings.llm:
                    self._generators[name] = None
                else:
                    self._generators[name] = self._factory(self.settings.model_copy(update={"llm": llm}))
            return self._generators[name]

    def run(self, question: str, *, profile: PatientProfile | None = None) -> Comparison:
        query, hits = self.service.retrieve(question, profile=profile, history=[])
        results = []
        for name in self.configs:
            reply = self.service.reply(
                question, profile=profile, history=[], hits=list(hits), generator=self.generator(name)
            )
            results.append(ConfigResult(name, reply, dict(self.overrides.get(name, {}))))
        return Comparison(question, query, passages_info(hits), results)


def passages_info(hits: list[Hit]) -> list[dict[str, Any]]:
    return [
        {
            "n": n,
            "doc_id": h.chunk.doc_id,
            "title": h.chunk.title or h.chunk.doc_id,
            "url": h.chunk.url,
            "score": float(h.score),
            "scores": {k: float(v) for k, v in h.scores.items()},
            "text": h.chunk.text,
        }
        for n, h in enumerate(hits, 1)
    ]
