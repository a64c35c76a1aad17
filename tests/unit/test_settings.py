from pathlib import Path

import pytest

from chatbot.settings import SettingsError, load_settings


def _clean(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("HEALTHBOT_"):
            monkeypatch.delenv(key)


def test_defaults_run_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    _clean(monkeypatch)
    s = load_settings()
    assert s.llm.model == "embedded"
    assert s.embedding.model == "embedded"
    assert s.data_dir == Path("data")
    assert s.index_dir == Path("data") / "index"


def test_yaml_then_env_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _clean(monkeypatch)
    cfg = tmp_path / "c.yaml"
    cfg.write_text("llm:\n  mode: mock\n  max_new_tokens: 50\ndata_dir: /tmp/x\n")
    s = load_settings(cfg)
    assert (s.llm.mode, s.llm.max_new_tokens, s.data_dir) == ("mock", 50, Path("/tmp/x"))
    monkeypatch.setenv("HEALTHBOT_LLM__MAX_NEW_TOKENS", "70")
    monkeypatch.setenv("HEALTHBOT_DATA_DIR", str(tmp_path / "d"))
    s = load_settings(cfg)
    assert s.llm.max_new_tokens == 70
    assert s.llm.mode == "mock"  # nested env override keeps the YAML's sibling keys
    assert s.data_dir == tmp_path / "d"


def test_config_from_env_var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _clean(monkeypatch)
    cfg = tmp_path / "c.yaml"
    cfg.write_text("llm:\n  quantization: 4bit\n")
    monkeypatch.setenv("HEALTHBOT_CONFIG", str(cfg))
    assert load_settings().llm.quantization == "4bit"


@pytest.mark.parametrize(
    ("yaml_text", "needle"),
    [
        ("llm:\n  mode: gpt5\n", "llm.mode"),
        ("llm:\n  temperature: 7\n", "llm.temperature"),
        ("knowledge:\n  chunk_tokens: 50\n  chunk_overlap: 60\n", "chunk_overlap"),
        ("nonsense_key: 1\n", "nonsense_key"),
        ("llm: [unclosed\n", "could not read settings"),
    ],
)
def test_invalid_settings_say_which_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, yaml_text: str, needle: str
) -> None:
    _clean(monkeypatch)
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(yaml_text)
    with pytest.raises(SettingsError) as exc:
        load_settings(cfg)
    assert needle in str(exc.value)
    assert "\n" not in str(exc.value)


def test_missing_config_file(monkeypatch: pytest.MonkeyPatch) -> None:
    _clean(monkeypatch)
    with pytest.raises(SettingsError, match="not found"):
        load_settings("/nonexistent/healthbot.yaml")
