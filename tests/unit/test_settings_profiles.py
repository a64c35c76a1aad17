"""Deployment profiles: ``HEALTHBOT_PROFILES`` = settings-<name>.yaml files merged over settings.yaml."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from chatbot.settings import Settings, SettingsError, load_settings, profile_names

PROFILES = ("cpu", "gpu", "vllm", "mock")


def _clean(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("HEALTHBOT_"):
            monkeypatch.delenv(key)


def _profile(monkeypatch: pytest.MonkeyPatch, names: str, **overrides: Any) -> Settings:
    _clean(monkeypatch)
    monkeypatch.setenv("HEALTHBOT_PROFILES", names)
    return load_settings(**overrides)


def test_the_four_profiles_ship() -> None:
    assert set(PROFILES) <= set(profile_names())


@pytest.mark.parametrize("name", PROFILES)
def test_each_profile_loads_and_validates(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    s = _profile(monkeypatch, name)
    assert s.llm.mode == {"cpu": "hf", "gpu": "hf", "vllm": "openai", "mock": "mock"}[name]


def test_gpu_profile_values(monkeypatch: pytest.MonkeyPatch) -> None:
    s = _profile(monkeypatch, "gpu")
    assert (s.llm.mode, s.llm.model, s.llm.quantization, s.llm.device) == (
        "hf",
        "Qwen/Qwen2.5-7B-Instruct",
        "4bit",
        "cuda",
    )
    assert s.llm.adapter is None  # optional: set HEALTHBOT_LLM__ADAPTER to a LoRA trained for this base
    assert s.llm.merge_adapter is False
    assert s.embedding.device == "cuda"


def test_vllm_profile_talks_to_the_lora_module(monkeypatch: pytest.MonkeyPatch) -> None:
    s = _profile(monkeypatch, "vllm")
    assert (s.llm.base_url, s.llm.remote_model) == ("http://127.0.0.1:8000/v1", "healthbot")


def test_profiles_apply_in_order_and_env_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    s = _profile(monkeypatch, "gpu, mock")
    assert s.llm.mode == "mock"  # mock comes last
    assert s.llm.model == "Qwen/Qwen2.5-7B-Instruct"  # deep merge keeps gpu's sibling keys
    assert s.embedding.mode == "mock"
    assert s.embedding.device == "cuda"
    monkeypatch.setenv("HEALTHBOT_LLM__QUANTIZATION", "8bit")
    assert load_settings().llm.quantization == "8bit"


def test_profiles_apply_over_the_given_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("llm:\n  max_new_tokens: 77\n  mode: hf\n")
    _clean(monkeypatch)
    monkeypatch.setenv("HEALTHBOT_PROFILES", "mock")
    s = load_settings(cfg)
    assert (s.llm.mode, s.llm.max_new_tokens) == ("mock", 77)


def test_no_profiles_keeps_the_built_in_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    s = _profile(monkeypatch, "")
    assert (s.llm.mode, s.data_dir) == ("hf", Path("data"))


def test_unknown_profile_names_the_available_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SettingsError) as exc:
        _profile(monkeypatch, "cpu,tpu")
    msg = str(exc.value)
    assert "'tpu'" in msg and "HEALTHBOT_PROFILES" in msg
    assert all(name in msg.split("available:")[1] for name in PROFILES)
    assert "\n" not in msg


def test_unknown_profile_is_one_line_from_the_cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import app

    _clean(monkeypatch)
    monkeypatch.setenv("HEALTHBOT_PROFILES", "tpu")
    assert app.main([]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown settings profile 'tpu'") and "Traceback" not in err


def test_mock_profile_answers_without_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fastapi.testclient import TestClient

    import app
    from chatbot.prepare import prepare_index

    s = _profile(monkeypatch, "mock", data_dir=tmp_path / "data")
    assert (s.llm.mode, s.embedding.mode) == ("mock", "mock")
    prepare_index(s)  # the starter topics, embedded by the mock embedder
    web = app.create_app(s)
    with TestClient(web) as client:
        r = client.post(
            "/v1/chat/completions",
            json={"model": "healthbot", "messages": [{"role": "user", "content": "What helps a tension headache?"}]},
        )
    assert r.status_code == 200, r.text
    answer = r.json()["choices"][0]["message"]["content"]
    assert answer.strip()
