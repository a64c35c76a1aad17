"""Adapter metadata: base identity, the hashes of the adapter's files, and the checks the loaders call."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from chatbot.llm.adapters import ADAPTER_HASHES, AdapterIntegrityError
from finetune.metadata import (
    ADAPTER_METADATA,
    AdapterMismatchError,
    base_identity,
    build_metadata,
    check_base_matches,
    read_metadata,
    stamp_metadata,
    verify_adapter,
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


def fake_adapter(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "adapter_config.json").write_text(json.dumps({"r": 4, "lora_alpha": 8}))
    (path / "adapter_model.safetensors").write_bytes(b"\1" * 64)
    return path


def test_stamped_adapter_verifies_and_changed_files_are_refused(tmp_path: Path) -> None:
    adapter = fake_adapter(tmp_path / "adapter")
    assert verify_adapter(adapter) is None  # third-party adapter without metadata: nothing to check
    meta = stamp_metadata(adapter, {"format": 1, "base_model": "base"})
    assert read_metadata(adapter) == meta and verify_adapter(adapter) == meta
    assert set(meta[ADAPTER_HASHES]) == {"adapter_model.safetensors", "adapter_config.json"}
    for name, content in (("adapter_model.safetensors", b"\2" * 64), ("adapter_config.json", '{"r": 64}')):
        original = (adapter / name).read_bytes()
        (adapter / name).write_bytes(content if isinstance(content, bytes) else content.encode())
        with pytest.raises(AdapterIntegrityError, match=re.escape(name) + " was changed after") as err:
            verify_adapter(adapter)
        assert "\n" not in str(err.value) and "python -m finetune stamp --adapter" in str(err.value)
        (adapter / name).write_bytes(original)
        assert verify_adapter(adapter) == meta
    (adapter / "adapter_model.safetensors").unlink()
    with pytest.raises(AdapterIntegrityError, match=r"has no adapter_model\.safetensors"):
        verify_adapter(adapter)


def test_metadata_without_file_hashes_is_refused_until_stamped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from finetune.__main__ import main

    adapter = fake_adapter(tmp_path / "adapter")
    write_metadata(adapter, {"format": 1, "base_model": "base", "evaluation": {"n": 3}})
    with pytest.raises(AdapterIntegrityError, match="records no sha256 of the adapter's own files"):
        verify_adapter(adapter)
    assert main(["stamp", "--adapter", str(adapter)]) == 0
    assert "adapter_model.safetensors" in capsys.readouterr().out
    meta = verify_adapter(adapter)
    assert meta is not None and meta["evaluation"] == {"n": 3}  # everything else kept
    # Stamping needs existing metadata (the base identity cannot be reconstructed from the files).
    bare = fake_adapter(tmp_path / "bare")
    assert main(["stamp", "--adapter", str(bare)]) == 2
    assert "has no healthbot_adapter.json" in capsys.readouterr().err


def test_shipped_adapter_metadata_vouches_for_its_files() -> None:
    """Fails if the shipped adapter's files change without a re-stamp (or a tool rewrites its
    metadata from a stale copy): the app would refuse to load it."""
    from chatbot.llm.hf import resolve_adapter
    from chatbot.settings import SHIPPED_ADAPTER

    meta = verify_adapter(resolve_adapter(SHIPPED_ADAPTER))
    assert meta is not None and meta["base_model"] == "embedded"


def test_llm_loader_refuses_a_shipped_adapter_that_lost_its_metadata(tmp_path: Path) -> None:
    from chatbot.llm.hf import LoadedModel, check_adapter

    adapter = fake_adapter(tmp_path / "adapter")
    model = SimpleNamespace(config=SimpleNamespace(model_type="llama"))
    loaded = LoadedModel(model, None, "cpu", str(tmp_path), "embedded", None, "none")
    with pytest.raises(AdapterIntegrityError, match=r"has lost its healthbot_adapter\.json"):
        check_adapter(loaded, adapter, require_metadata=True)
    (adapter / ADAPTER_METADATA).write_text("{not json")
    with pytest.raises(AdapterIntegrityError, match="not valid JSON"):
        check_adapter(loaded, adapter)
    write_metadata(adapter, {"format": 1, "base_model": "embedded"})
    with pytest.raises(AdapterIntegrityError, match="records no sha256"):
        check_adapter(loaded, adapter)
