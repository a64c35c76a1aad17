"""``healthbot_adapter.json``, the loading side: names, the base identity and the file hashes.

The one module both the loader (:mod:`chatbot.llm.hf`) and the fine-tuning package
(:mod:`finetune.metadata`, which writes the file) import, so generation never imports
``finetune`` and there is no cycle between them. The file's format is documented in
:mod:`finetune.metadata`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from chatbot.llm.base import GenerationError
from chatbot.llm.cache import file_sha256, source_sha256

# Written beside a LoRA adapter by the fine-tuning module: which base it was trained on.
ADAPTER_METADATA = "healthbot_adapter.json"
# What peft reads when it loads an adapter. healthbot_adapter.json records their sha256 so that
# swapped weights or a rewritten target-module list are refused instead of silently served.
ADAPTER_FILES = ("adapter_model.safetensors", "adapter_config.json")
ADAPTER_HASHES = "adapter_files_sha256"


class AdapterIntegrityError(GenerationError):
    """An adapter's files are not the ones its metadata recorded (or it recorded none)."""


def base_identity(checkpoint: Path) -> tuple[str, str]:
    """(kind, sha256) identifying the base weights in a local checkpoint directory.

    A checkpoint converted from GGUF by ``chatbot.llm.cache`` is identified by its source file's
    sha256 (recorded at conversion), so re-converting the same GGUF keeps the identity. Other
    checkpoints hash config.json plus the names and sizes of their weight files: cheap, and it
    changes whenever a different model is put in that directory.
    """
    gguf_hash = source_sha256(checkpoint)
    if gguf_hash:
        return "gguf-source", gguf_hash
    h = hashlib.sha256()
    config = checkpoint / "config.json"
    if not config.is_file():
        raise GenerationError(f"{checkpoint} has no config.json; is it a transformers checkpoint?")
    h.update(config.read_bytes())
    for p in sorted(checkpoint.iterdir()):
        if p.suffix in (".safetensors", ".bin") and p.is_file():
            h.update(f"{p.name}:{p.stat().st_size}\n".encode())
    return "checkpoint-files", h.hexdigest()


def adapter_file_hashes(adapter_dir: Path) -> dict[str, str]:
    """sha256 of each file in :data:`ADAPTER_FILES`, as written into the adapter metadata."""
    missing = [name for name in ADAPTER_FILES if not (adapter_dir / name).is_file()]
    if missing:
        raise AdapterIntegrityError(f"adapter {adapter_dir} has no {', '.join(missing)}: it is not a complete adapter")
    return {name: file_sha256(adapter_dir / name) for name in ADAPTER_FILES}


def verify_adapter_files(adapter_dir: Path, meta: dict[str, Any]) -> None:
    """Raise :class:`AdapterIntegrityError` unless the adapter's files hash to what ``meta`` records.

    Metadata without the hashes (adapters written before they were recorded) is refused too: a
    metadata file that vouches for the base but not for the weights beside it proves nothing.
    """
    stamp = f"`python -m finetune stamp --adapter {adapter_dir}`"
    recorded = meta.get(ADAPTER_HASHES)
    if not isinstance(recorded, dict) or not all(isinstance(recorded.get(n), str) for n in ADAPTER_FILES):
        raise AdapterIntegrityError(
            f"adapter metadata {adapter_dir / ADAPTER_METADATA} records no sha256 of the adapter's own files: "
            f"retrain the adapter, or if you trust its files record their hashes with {stamp}"
        )
    actual = adapter_file_hashes(adapter_dir)
    for name in ADAPTER_FILES:
        if actual[name] != recorded[name]:
            raise AdapterIntegrityError(
                f"adapter file {adapter_dir / name} was changed after the adapter was written "
                f"(sha256 {actual[name][:12]}, metadata records {str(recorded[name])[:12]}): restore or retrain "
                f"the adapter, or if you changed it yourself and trust it re-stamp it with {stamp}"
            )
