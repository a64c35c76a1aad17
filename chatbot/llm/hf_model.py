"""What the transformers loader hands to the generator and the adapter checks: :class:`LoadedModel`.

Its own module so that the loader (:mod:`chatbot.llm.hf_loader`), which attaches adapters, and
the adapter checks (:mod:`chatbot.llm.hf_adapter`), which read a loaded model, import it without
importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class LoadedModel:
    """A ready model with what callers need to know about where it came from."""

    # Any: a PreTrainedModel, a PeftModel wrapping one, or a test double.
    model: Any
    tokenizer: Any
    device: str
    checkpoint: str  # local directory or hub id actually loaded
    base_label: str  # llm.model as configured
    base_sha256: str | None  # sha256 of the GGUF file behind the checkpoint, when there is one
    quantization: str
    adapter: str | None = None

    def identity(self) -> dict[str, Any]:
        """What the fine-tuning module writes into ``healthbot_adapter.json`` and what an
        adapter is checked against at load time."""
        cfg = self.model.config
        return {
            "format": 1,
            "base_model": self.base_label,
            "base_identity": "gguf-source" if self.base_sha256 else None,
            "base_sha256": self.base_sha256,
            "model_type": getattr(cfg, "model_type", None),
            "hidden_size": getattr(cfg, "hidden_size", None),
            "num_hidden_layers": getattr(cfg, "num_hidden_layers", None),
            "vocab_size": getattr(cfg, "vocab_size", None),
        }


def one_line(err: BaseException, limit: int = 240) -> str:
    """An exception as one line of at most ``limit`` characters, for a GenerationError message."""
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"
