"""`python -m chatbot ask|chat` over a small index built with the mock embedder."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from chatbot.__main__ import main
from chatbot.cli_chat import build_parser_args, run_chat
from chatbot.settings import Settings
from knowledge.documents import Document
from knowledge.embedding import MockEmbedder
from knowledge.index import build_index, chunker_config


@pytest.fixture
def env(settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    docs = [
        Document(
            "asthma",
            "Asthma is a long-term condition in which the airways narrow and swell, causing wheezing and "
            "shortness of breath. Inhalers that relieve or prevent symptoms are the main treatment.",
            title="Asthma",
            url="https://www.nhlbi.nih.gov/health/asthma",
            source="starter",
            license="CC BY 4.0",
        ),
        Document(
            "flu",
            "Influenza is a contagious respiratory illness caused by flu viruses. A yearly flu vaccine "
            "lowers the risk of getting sick.",
            title="Influenza",
            url="https://www.cdc.gov/flu/",
            source="starter",
        ),
    ]
    build_index(
        docs, settings.index_dir, MockEmbedder(256), config=chunker_config(settings.knowledge, settings.embedding)
    )
    config = tmp_path / "healthbot.yaml"
    config.write_text(
        f"data_dir: {settings.data_dir}\nllm: {{mode: mock}}\nembedding: {{mode: mock, dimension: 256}}\n"
        "knowledge: {min_score: 0.05}\n",
        encoding="utf-8",
    )
    return config


def test_ask_streams_answer_then_sources(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(env), "ask", "--mode", "generative", "How is asthma treated?"]) == 0
    out = capsys.readouterr().out
    assert "[1]" in out and "Sources:\n[1] Asthma - https://www.nhlbi.nih.gov/health/asthma" in out


def test_ask_json(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(env), "ask", "--json", "--age", "6", "Is the flu contagious?"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["citations"][0]["doc_id"] == "flu"
    assert data["triage"]["label"] in ("ok", "clarify") and "profile_used" in data["flags"]
    assert data["query"]["retrieval"].endswith("children")


def test_ask_without_index_is_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The environment outranks the YAML file; CI may point HEALTHBOT_DATA_DIR at a built index.
    monkeypatch.delenv("HEALTHBOT_DATA_DIR", raising=False)
    config = tmp_path / "c.yaml"
    config.write_text(f"data_dir: {tmp_path / 'empty'}\nllm: {{mode: mock}}\nembedding: {{mode: mock}}\n")
    assert main(["--config", str(config), "ask", "What is asthma?"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no knowledge index") and "prepare" in err and "Traceback" not in err


def test_chat_loop_reset_and_eof(env: Path) -> None:
    args = build_parser_args(["--config", str(env), "chat", "--mode", "extractive"])
    stdin = io.StringIO("How is the flu prevented?\nand is it contagious?\n/reset\nWhat is asthma?\n")
    out = io.StringIO()
    assert run_chat(args, stdin=stdin, out=out) == 0
    text = out.getvalue()
    assert text.count("bot> ") == 3 and "(conversation cleared)" in text
    assert "vaccine" in text and "Asthma" in text


def test_chat_quit(env: Path) -> None:
    args = build_parser_args(["--config", str(env), "chat"])
    out = io.StringIO()
    assert run_chat(args, stdin=io.StringIO("/quit\nWhat is asthma?\n"), out=out) == 0
    assert "bot> " not in out.getvalue()


def test_checked_text_is_printed_again_only_when_it_reads_differently() -> None:
    from chatbot.cli_chat import same_reading

    streamed = "See a doctor if breathing is hard [1]. Rest and drink fluids [2, 3]."
    assert same_reading(streamed, "See a doctor if breathing is hard. [1] Rest and drink fluids. [2,3]")
    assert same_reading(streamed, streamed + "\n")
    assert not same_reading(streamed, "See a doctor if breathing is hard. Rest and drink fluids [2, 3].")
    assert not same_reading(streamed, "See a doctor if breathing is hard [1]. Rest and drink fluids [3].")
    assert not same_reading(streamed, "See a doctor if breathing is hard [1].")
