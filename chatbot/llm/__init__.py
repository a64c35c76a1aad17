"""Generation backends behind one :class:`Generator` protocol, chosen by ``llm.mode``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from chatbot.llm.base import GenerationError, GenerationParams, Generator, generate

if TYPE_CHECKING:
    from chatbot.settings import Settings
    from chatbot.types import ChatMessage

__all__ = ["GenerationError", "GenerationParams", "Generator", "build_generator", "generate"]


def build_generator(settings: Settings, *, calibration: Sequence[ChatMessage] | None = None) -> Generator:
    """The backend ``llm.mode`` names. ``calibration``: a prompt shaped like the caller's, for
    the CPU int8 smoothing of the ``hf`` backend (the service layer's factory,
    :func:`chatbot.services.build_generator`, passes the dialogue's retrieval prompt)."""
    mode = settings.llm.mode
    if mode == "mock":
        from chatbot.llm.mock import MockGenerator

        return MockGenerator()
    if mode == "openai":
        from chatbot.llm.openai import OpenAIGenerator

        return OpenAIGenerator(settings.llm)
    from chatbot.llm.hf import HFGenerator

    return HFGenerator(settings.llm, cache_dir=settings.model_cache_dir, calibration=calibration)
