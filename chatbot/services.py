"""Service-layer factories: what the dialogue service and the workbench build their backends with.

Generation knows no dialogue (``chatbot.llm`` never imports ``chatbot.prompts``), so what a
backend needs from the dialogue is passed in from here: the CPU int8 smoothing of the ``hf``
backend is fitted to a retrieval prompt shaped like the dialogue manager's. Faces never build
backends themselves; they get them through this module (see :mod:`chatbot.workbench`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chatbot.llm.base import Generator
    from chatbot.settings import Settings
    from chatbot.types import ChatMessage, Triage

    TriageFn = Callable[..., Triage]

# Topics the generation benchmark's prompt does not use, so int8 is not fitted to the test prompt.
CALIBRATION_QUESTION = "I have type 2 diabetes and high blood pressure. Which symptoms should make me call a doctor?"
CALIBRATION_TOPICS = ("type-2-diabetes", "high-blood-pressure", "back-pain", "headache-and-migraine")


def calibration_messages() -> list[ChatMessage]:
    """A retrieval prompt shaped like the dialogue manager's (rules, numbered sources, question),
    over two paragraphs of each of a few starter-knowledge pages."""
    import knowledge
    from chatbot import prompts
    from knowledge.documents import Chunk

    starter = Path(knowledge.__file__).resolve().parent / "starter"
    chunks: list[Any] = []
    for name in CALIBRATION_TOPICS:
        path = starter / f"{name}.md"
        if not path.is_file():
            continue
        body = path.read_text(encoding="utf-8").split("---", 2)[-1]
        paras = [p.strip() for p in body.split("\n\n") if len(p.strip()) > 80][:2]
        chunks += [Chunk(id=f"{name}#{j}", doc_id=name, text=t, title=name) for j, t in enumerate(paras)]
    return prompts.build_messages(CALIBRATION_QUESTION, chunks)


def build_generator(settings: Settings) -> Generator:
    """The generator ``settings.llm`` describes, calibrated on the dialogue's prompt shape."""
    from chatbot import llm

    calibration = calibration_messages() if settings.llm.mode == "hf" else None
    return llm.build_generator(settings, calibration=calibration)


def build_triage(settings: Settings, embedder: Any | None) -> TriageFn:
    """The triage the dialogue runs: the rules, plus the learned classifier in ``combined`` mode.

    The classifier was trained on the int8 embedded MiniLM's vectors, so it reuses the service's
    embedder only when that is the same model and engine; otherwise (the default fp32 engine, a
    bigger embedder on a GPU host, the mock) it loads that one for itself (about 25 MB).
    """
    from functools import partial

    from chatbot.safety import triage
    from chatbot.safety.learned import EMBEDDING_BACKEND, MODEL_PATH, TriageModel
    from knowledge.embedding import build_embedder, encode_queries

    if settings.triage.mode == "rules":
        return triage
    path = settings.triage.model_path or MODEL_PATH
    meta_path = path.with_suffix(".json")
    import json

    trained_on = json.loads(meta_path.read_text(encoding="utf-8")).get("embedder", "") if meta_path.is_file() else ""
    if embedder is None or getattr(embedder, "name", None) != trained_on:
        from chatbot.settings import EmbeddingSettings

        embedder = build_embedder(EmbeddingSettings(backend=EMBEDDING_BACKEND), cache_dir=settings.data_dir / "cache")
    model = TriageModel.load(lambda texts: encode_queries(embedder, texts), path, meta_path)
    return partial(triage, model=model)
