"""Adapter metadata: base identity and the check the LLM loader calls."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from finetune.metadata import (
    ADAPTER_METADATA,
    AdapterMismatchError,
    base_identity,
    build_metadata,
    check_base_matches,
    read_metadata,
    write_metadata,
)


def fake_checkpoint(path: Path, hidden: int = 8) -> Path:
    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps({"model_type": "llama", "hidden_size": hidden}))
    (path / "model.safetensors").write_bytes(b"\0" * (100 + hidden))
    return path


def test_identity_changes_with_the_weights_not_the_location(tmp_path: Path) -> None:
    a = fake_checkpoint(tmp_path / "a")
    b = fake_checkpoint(tmp_path / "b")
    c = fake_checkpoint(tmp_path / "c", hidden=16)
    assert base_identity(a) == base_identity(b)
    assert base_identity(a)[1] != base_identity(c)[1]
    assert base_identity(a)[0] == "checkpoint-files"


def test_gguf_converted_checkpoint_is_identified_by_its_source_hash(tmp_path: Path) -> None:
    a = fake_checkpoint(tmp_path / "a")
    (a / "healthbot_cache.json").write_text(json.dumps({"source_sha256": "ab" * 32}))
    assert base_identity(a) == ("gguf-source", "ab" * 32)


def test_check_base_matches(tmp_path: Path) -> None:
    base = fake_checkpoint(tmp_path / "base")
    other = fake_checkpoint(tmp_path / "other", hidden=32)
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    assert check_base_matches(adapter, base) is None  # third-party adapter without metadata
    meta = build_metadata(
        base_model="base",
        checkpoint=base,
        quantization="none",
        data_manifest_sha256="d" * 64,
        hyperparameters={"lora_r": 4},
        metrics={"train_loss": 1.0},
        model_config=SimpleNamespace(model_type="llama", hidden_size=8, num_hidden_layers=2, vocab_size=10),
    )
    write_metadata(adapter, meta)
    got = check_base_matches(adapter, base)
    assert got is not None and got["hyperparameters"] == {"lora_r": 4} and got["hidden_size"] == 8
    with pytest.raises(AdapterMismatchError, match="trained on base 'base'"):
        check_base_matches(adapter, other)


def test_damaged_metadata_is_an_error_not_a_silent_pass(tmp_path: Path) -> None:
    (tmp_path / ADAPTER_METADATA).write_text("{not json")
    with pytest.raises(Exception, match="unreadable"):
        read_metadata(tmp_path)
