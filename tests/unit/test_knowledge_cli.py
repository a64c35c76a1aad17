"""``python -m knowledge`` build / add / search / stats with the mock embedder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from knowledge.__main__ import main


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key in ("HEALTHBOT_CONFIG", "HEALTHBOT_KNOWLEDGE__INDEX_DIR"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HEALTHBOT_EMBEDDING__MODE", "mock")
    monkeypatch.setenv("HEALTHBOT_DATA_DIR", str(tmp_path / "data"))
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "gout.md").write_text(
        "---\ntitle: Gout\nsources: [https://g]\n---\n## Symptoms\nA hot swollen big toe.\n", encoding="utf-8"
    )
    return tmp_path


def test_build_search_stats_add(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = env / "idx"
    assert main(["build", "--source", f"folder:{env / 'kb'}", "--out", str(out)]) == 0
    assert "indexed 1 documents" in capsys.readouterr().out
    assert main(["search", "--index", str(out), "--json", "-k", "1", "swollen toe"]) == 0
    hit = json.loads(capsys.readouterr().out.splitlines()[0])
    assert hit["title"] == "Gout — Symptoms" and hit["url"] == "https://g" and "bm25" in hit["scores"]
    assert main(["stats", "--index", str(out)]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["n_documents"] == 1 and stats["embedder"] == "mock-384"
    more = env / "more.jsonl"
    more.write_text(
        json.dumps({"id": "m", "title": "Migraine", "text": "Throbbing headache."}) + "\n", encoding="utf-8"
    )
    assert main(["add", "--source", f"jsonl:{more}", "--index", str(out)]) == 0
    assert "added 1 new documents" in capsys.readouterr().out
    assert main(["search", "--index", str(out), "car brakes repair"]) == 0
    assert "nothing relevant" in capsys.readouterr().out


def test_errors_are_one_line(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", "--index", str(env / "nope"), "asthma"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no index at") and err.count("\n") == 1
    assert main(["build", "--source", f"csv:{env / 'missing.csv'}", "--out", str(env / "x")]) == 2
    assert "CSV file not found" in capsys.readouterr().err
    assert not (env / "x").exists()
