"""``python -m chatbot prepare``: converts the model once, then builds the index if needed."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import pytest

from chatbot import prepare
from chatbot.llm import cache
from chatbot.settings import Settings, load_settings
from tests.unit.llm_tiny import make_tokenizer


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config")
    prepare.register(parser.add_subparsers(dest="command"))
    return parser.parse_args(["prepare", *argv])


@pytest.fixture
def gguf_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Settings, list[Path]]:
    from transformers import LlamaConfig, LlamaForCausalLM

    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF" + os.urandom(512))
    calls: list[Path] = []

    def fake(src: cache.GGUFSource) -> tuple[Any, Any]:
        calls.append(src.path)
        tok = make_tokenizer()
        cfg = LlamaConfig(
            vocab_size=len(tok), hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2
        )
        return LlamaForCausalLM(cfg), tok

    monkeypatch.setattr(cache, "_dequantized_model", fake)
    return load_settings(data_dir=tmp_path / "data", llm={"model": str(gguf)}), calls


def test_prepare_converts_once_and_builds_index(
    gguf_settings: tuple[Settings, list[Path]], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    settings, calls = gguf_settings
    import knowledge.index

    built: list[Path] = []
    monkeypatch.setattr(
        knowledge.index, "ensure_index", lambda s, show_progress=False: built.append(s.index_dir) or s.index_dir
    )
    monkeypatch.setattr("chatbot.settings.load_settings", lambda config=None, **kw: settings)
    args = parse()
    assert args.func(args) == 0
    assert len(calls) == 1 and built == [settings.index_dir]
    assert "model: ready at" in capsys.readouterr().out
    assert args.func(args) == 0
    assert len(calls) == 1  # cached now
    assert "cached checkpoint ready" in capsys.readouterr().out
    args = parse("--rebuild-model", "--skip-index")
    assert args.func(args) == 0
    assert len(calls) == 2 and len(built) == 2


def test_prepare_non_gguf_and_other_modes(
    settings: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    prepare.prepare_model(settings)  # llm.mode mock
    assert "nothing to convert" in capsys.readouterr().out
    local = load_settings(data_dir=tmp_path, llm={"model": str(tmp_path)})
    prepare.prepare_model(local)
    assert "regular checkpoint" in capsys.readouterr().out
