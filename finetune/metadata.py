"""``healthbot_adapter.json``: what an adapter was trained on, written beside every adapter.

Format (a flat JSON object, ``format`` = 1)::

    {
      "format": 1,
      "base_model": "embedded",              # what the user configured (id, path or 'embedded')
      "base_sha256": "<hex>",                # identity of the base weights (see base_identity)
      "base_identity": "gguf-source" | "checkpoint-files",
      "quantization": "none" | "4bit",       # how the base was loaded while training
      "model_type": "llama", "hidden_size": 576, "num_hidden_layers": 30, "vocab_size": 49152,
      "data_manifest_sha256": "<hex>",       # manifest_sha256 of the dataset (finetune.data)
      "adapter_files_sha256": {              # the adapter's own files, checked on every load
        "adapter_model.safetensors": "<hex>", "adapter_config.json": "<hex>"},
      "hyperparameters": {...},              # TrainConfig fields that change the result
      "metrics": {...},                      # training/validation loss, steps, tokens/s
      "evaluation": {...},                   # filled in by `python -m finetune evaluate`
      "git_commit": "<hex>" | null,
      "created": "2026-11-23T22:00:00Z"
    }

The names, :func:`base_identity` and the file hashes live in :mod:`chatbot.llm.adapters`, which the
loader imports too (generation never imports this package). The loaders (``chatbot.llm.hf``,
``evaluate``, ``merge``) check the base the adapter goes on
(:func:`check_base_matches`): an adapter trained on another base is refused with a clear message
instead of producing silent garbage. They also check the adapter's own files against
``adapter_files_sha256`` (:func:`verify_adapter`): swapped weights are refused, and so is metadata
without those hashes (older adapters): ``python -m finetune stamp --adapter DIR`` records them for
an adapter you trust. Adapters without this file (third-party peft adapters) are accepted.
"""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chatbot.llm.adapters import (
    ADAPTER_HASHES,
    ADAPTER_METADATA,
    adapter_file_hashes,
    base_identity,
    verify_adapter_files,
)
from finetune.config import FinetuneError

METADATA_FORMAT = 1


class AdapterMismatchError(FinetuneError):
    """The adapter was trained on a different base model than the one it is being loaded on."""


ARCHITECTURE_KEYS = ("model_type", "hidden_size", "num_hidden_layers", "vocab_size")


def architecture(model_config: Any) -> dict[str, Any]:
    """Shape facts of the base (checked by the LLM loader even when hashes are unavailable)."""
    return {k: getattr(model_config, k, None) for k in ARCHITECTURE_KEYS}


def git_commit(repo: Path | None = None) -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=repo or Path(__file__).resolve().parent.parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and commit else None


def build_metadata(
    *,
    base_model: str,
    checkpoint: Path,
    quantization: str,
    data_manifest_sha256: str,
    hyperparameters: dict[str, Any],
    metrics: dict[str, Any],
    model_config: Any = None,
) -> dict[str, Any]:
    kind, digest = base_identity(checkpoint)
    return {
        **architecture(model_config),
        "format": METADATA_FORMAT,
        "base_model": base_model,
        "base_sha256": digest,
        "base_identity": kind,
        "quantization": quantization,
        "data_manifest_sha256": data_manifest_sha256,
        "hyperparameters": hyperparameters,
        "metrics": metrics,
        "evaluation": {},
        "git_commit": git_commit(),
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def write_metadata(adapter_dir: Path, metadata: dict[str, Any]) -> None:
    path = adapter_dir / ADAPTER_METADATA
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(metadata, indent=2, sort_keys=False) + "\n")
    tmp.replace(path)


def stamp_metadata(adapter_dir: Path, metadata: dict[str, Any]) -> dict[str, Any]:
    """Record the sha256 of the adapter's files in ``metadata`` and write it beside them.

    Called by training once the adapter files are saved, and by ``python -m finetune stamp`` for
    an adapter whose files you trust (an older adapter, or one you edited on purpose).
    """
    metadata = {**metadata, ADAPTER_HASHES: adapter_file_hashes(Path(adapter_dir))}
    write_metadata(Path(adapter_dir), metadata)
    return metadata


def stamp_adapter(adapter_dir: Path) -> dict[str, Any]:
    """Re-stamp an existing adapter's metadata (everything else in it is kept as it is)."""
    adapter_dir = Path(adapter_dir)
    if not (adapter_dir / "adapter_config.json").is_file():
        raise FinetuneError(f"no peft adapter at {adapter_dir} (adapter_config.json missing)")
    meta = read_metadata(adapter_dir)
    if meta is None:
        raise FinetuneError(
            f"adapter {adapter_dir} has no {ADAPTER_METADATA}: stamping needs the base it was trained on; "
            "retrain it with `python -m finetune train`"
        )
    return stamp_metadata(adapter_dir, meta)


def verify_adapter(adapter_dir: Path) -> dict[str, Any] | None:
    """Raise :class:`chatbot.llm.adapters.AdapterIntegrityError` unless the adapter's files are the ones its metadata
    recorded; returns the metadata (None for a third-party adapter without it)."""
    meta = read_metadata(adapter_dir)
    if meta is not None:
        verify_adapter_files(Path(adapter_dir), meta)
    return meta


def read_metadata(adapter_dir: Path) -> dict[str, Any] | None:
    """The metadata of an adapter, None when it has none; a damaged file is an error."""
    path = Path(adapter_dir) / ADAPTER_METADATA
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise FinetuneError(
            f"adapter metadata {path} is unreadable ({type(err).__name__}); retrain or restore it"
        ) from None
    if not isinstance(data, dict) or data.get("format") != METADATA_FORMAT:
        raise FinetuneError(f"adapter metadata {path} has an unknown format")
    return data


def check_base_matches(adapter_dir: Path, checkpoint: Path) -> dict[str, Any] | None:
    """Raise :class:`AdapterMismatchError` unless the adapter was trained on the base at ``checkpoint``.

    ``checkpoint`` is the local directory of the base model the caller loads (for GGUF models,
    the converted cache directory). Returns the metadata (None for adapters without it).
    """
    meta = read_metadata(adapter_dir)
    if meta is None:
        return None
    _, digest = base_identity(Path(checkpoint))
    if meta.get("base_sha256") != digest:
        raise AdapterMismatchError(
            f"adapter {adapter_dir} was trained on base {meta.get('base_model')!r} "
            f"(sha256 {str(meta.get('base_sha256'))[:12]}), not on the model at {checkpoint} "
            f"(sha256 {digest[:12]}): set llm.model to that base or train an adapter for this one"
        )
    return meta
