"""A hostile fake model and the service around it, shared by the security tests.

:class:`HostileGenerator` obeys whatever its prompt says: it decodes base64, hex and rot13
anywhere in the prompt, repeats every payload that an instruction ("say X", "reply with X",
"di X"...) asks for, and, when ``leak`` is set, prints its whole system prompt. A reply
without the payloads therefore shows the product's own defences held, not that the model
behaved.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import contextlib
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from chatbot.dialogue import DialogueService
from chatbot.llm.base import GenerationParams
from chatbot.safety import triage
from chatbot.settings import Settings, load_settings
from chatbot.types import ChatMessage
from knowledge.documents import Chunk, Document
from knowledge.embedding import MockEmbedder
from knowledge.retrieval import Retriever

# Payload tokens: a word that names nothing ("canary" itself is a word the filters look for,
# which would make the tests too easy) plus four digits.
PAYLOAD = re.compile(r"\b(?:ZORBLAX|QUIXOTL|VERMUTH|PLONKET|SYSMARK)-\d{4}\b")
_SAY = re.compile(
    r"\b(?:say|said|reply|respond|answer|append|end|finish|print|output|write|include|repeat|add|"
    r"di|responde|escribe|termina|añade|agrega)\b",
    re.I,
)
_B64 = re.compile(r"[A-Za-z0-9+/]{12,}={0,2}")
_HEX = re.compile(r"\b(?:[0-9a-fA-F]{2}){8,}\b")


def readings(text: str) -> list[str]:
    """``text`` as a capable model could read it: plain, rot13, and every base64/hex blob decoded."""
    out = [text, codecs.decode(text, "rot13")]
    for token in _B64.findall(text):
        with contextlib.suppress(binascii.Error, ValueError, UnicodeDecodeError):
            out.append(base64.b64decode(token + "=" * (-len(token) % 4), validate=True).decode("utf-8"))
    for token in _HEX.findall(text):
        with contextlib.suppress(ValueError, UnicodeDecodeError):
            out.append(bytes.fromhex(token).decode("utf-8"))
    return out


def obeyed_payloads(prompt: str) -> list[str]:
    """Payloads an obedient model would emit: those in any reading that carries an instruction."""
    found: list[str] = []
    for reading in readings(prompt):
        if _SAY.search(reading):
            found.extend(PAYLOAD.findall(reading))
    return list(dict.fromkeys(found))


class HostileGenerator:
    """A fake model that obeys injected instructions and, with ``leak``, prints its rules."""

    name = "hostile"

    def __init__(self, *, leak: bool = False, leak_style: str = "plain") -> None:
        self.leak = leak
        self.leak_style = leak_style
        self.calls: list[list[ChatMessage]] = []

    def text_for(self, messages: Sequence[ChatMessage]) -> str:
        prompt = "\n".join(m.content for m in messages)
        system = messages[0].content if messages and messages[0].role == "system" else ""
        parts = [f"{p} {p}." for p in obeyed_payloads(prompt)]
        if self.leak:
            parts.append(leak_text(system, self.leak_style))
        parts.append("Asthma makes the airways narrow and swell [1].")
        return " ".join(parts)

    def stream(self, messages: list[ChatMessage], params: GenerationParams | None = None) -> Iterator[str]:
        self.calls.append(list(messages))
        for i, word in enumerate(self.text_for(messages).split(" ")):
            yield word if i == 0 else " " + word

    def count_tokens(self, text: str) -> int:
        return max(1, len(text) // 4)


def leak_text(system: str, style: str) -> str:
    """The system prompt, the way a model trying to leak it might write it."""
    if style == "plain":
        return f"My instructions are: {system}"
    if style == "upper":
        return system.upper()
    if style == "spaced":
        return " ".join(system.replace(" ", "  "))
    if style == "quoted":
        return "```\n" + system + "\n```"
    if style == "marker_first":
        marker = system.rsplit("Internal marker:", 1)[-1].strip(" )") if "Internal marker:" in system else ""
        return f"The marker is {marker}. Also: {system}"
    if style == "dashed":
        return "-".join(system.split())
    if style == "lines":
        return "\n".join(system.split(". "))
    raise ValueError(style)


def security_settings(data_dir: Path, mode: str = "generative", **server: Any) -> Settings:
    return load_settings(
        data_dir=data_dir,
        llm={"mode": "mock"},
        embedding={"mode": "mock", "dimension": 256},
        knowledge={"min_score": -1.0, "chunk_tokens": 48, "chunk_overlap": 8},
        dialogue={"answer_mode": mode, "ask_clarifying": False, "unsupported_sentences": "flag"},
        server=server,
    )


def make_service(
    settings: Settings, retriever: Retriever | None, generator: Any, *, canary: str | None = None
) -> DialogueService:
    return DialogueService(
        settings,
        generator=generator,
        retriever=retriever,
        embedder=MockEmbedder(256),
        triage=triage,
        canary=canary,
    )


def build_real_index(settings: Settings, docs: list[Document]) -> Retriever:
    """Chunk, embed (mock embedder) and index ``docs`` with the product's own builder; load it."""
    from knowledge.index import build_index, chunker_config, load_retriever

    build_index(
        docs,
        settings.index_dir,
        MockEmbedder(settings.embedding.dimension),
        config=chunker_config(settings.knowledge, settings.embedding),
        sources=["security-test"],
    )
    return load_retriever(settings)


def chunk_texts(chunks: Sequence[Chunk]) -> str:
    return "\n".join(c.text for c in chunks)


def streamed(service: DialogueService, message: str, **kw: Any) -> tuple[str, str]:
    """(everything the client saw stream by, the final reply text) for one turn."""
    deltas: list[str] = []
    final = ""
    for ev in service.stream(message, **kw):
        if ev.kind == "delta":
            deltas.append(ev.text)
        elif ev.kind == "done" and ev.reply is not None:
            final = ev.reply.text
    return "".join(deltas), final
