"""Generation backends behind one :class:`Generator` protocol, chosen by ``llm.mode``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatbot.llm.base import GenerationError, GenerationParams, Generator, generate

if TYPE_CHECKING:
    from chatbot.settings import Settings

__all__ = ["GenerationError", "GenerationParams", "Generator", "build_generator", "generate"]


def build_generator(settings: Settings) -> Generator:
    mode = settings.llm.mode
    if mode == "mock":
        from chatbot.llm.mock import MockGenerator

        return MockGenerator()
    if mode == "openai":
        from chatbot.llm.openai import OpenAIGenerator

        return OpenAIGenerator(settings.llm)
    from chatbot.llm.hf import HFGenerator

    return HFGenerator(settings.llm, cache_dir=settings.model_cache_dir)
