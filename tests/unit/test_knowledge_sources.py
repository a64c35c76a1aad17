"""Source readers: good inputs, and every kind of bad input is skipped with a count or a clear error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from knowledge.errors import KnowledgeError
from knowledge.sources import STARTER_DIR, load_source, load_sources, parse_spec
from knowledge.sources._common import focus_from_question
from knowledge.sources.csv_source import parse_judged_answer

MEDQUAD_XML = """<?xml version="1.0" encoding="UTF-8"?>
<Document id="0000007_3" source="CancerGov" url="https://www.cancer.gov/x">
<Focus>Childhood Liver Cancer</Focus>
<QAPairs>
  <QAPair pid="1"><Question qid="q1" qtype="information">What is (are) Childhood Liver Cancer ?</Question>
    <Answer>Key Points
        - Childhood liver cancer is a disease.   Malignant cells form in the liver.</Answer></QAPair>
  <QAPair pid="4"><Question qid="q4" qtype="symptoms">What are the symptoms of Childhood Liver Cancer ?</Question>
    <Answer>A lump in the abdomen.</Answer></QAPair>
  <QAPair pid="5"><Question qid="q5" qtype="treatment">What are the treatments for Childhood Liver Cancer ?</Question>
    <Answer></Answer></QAPair>
</QAPairs>
</Document>
"""


def _medquad(tmp_path: Path) -> Path:
    root = tmp_path / "MedQuAD"
    (root / "1_CancerGov_QA").mkdir(parents=True)
    (root / "1_CancerGov_QA" / "0000007_3.xml").write_text(MEDQUAD_XML, encoding="utf-8")
    (root / "1_CancerGov_QA" / "0000008_1.xml").write_text("<Document><QAPairs><QAPair>", encoding="utf-8")
    (root / "10_MPlus_ADAM_QA").mkdir()
    (root / "10_MPlus_ADAM_QA" / "0000001.xml").write_text(
        '<Document id="1" url="u"><Focus>X</Focus><QAPairs><QAPair pid="1"><Question>Q?</Question>'
        "</QAPair></QAPairs></Document>",
        encoding="utf-8",
    )
    return root


def test_medquad_ids_fields_and_skips(tmp_path: Path) -> None:
    docs, report = load_source(f"medquad:{_medquad(tmp_path)}")
    assert [d.id for d in docs] == ["CancerGov_0000007_3_Sec1.txt", "CancerGov_0000007_3_Sec4.txt"]
    d = docs[0]
    assert d.title == "Childhood Liver Cancer"
    assert d.question == "What is (are) Childhood Liver Cancer ?"
    assert d.url == "https://www.cancer.gov/x"
    assert d.source == "MedQuAD/CancerGov"
    assert "MedQuAD" in d.license and "CC BY 4.0" in d.license
    assert d.text.startswith("Key Points\n- Childhood liver cancer is a disease. Malignant")
    assert report.counts["malformed XML files"] == 1
    assert report.counts["QA pairs without answer text"] == 2
    assert "malformed XML" in str(report)


def test_missing_paths_and_bad_specs_are_clear_errors(tmp_path: Path) -> None:
    for spec in (
        f"medquad:{tmp_path / 'nope'}",
        f"csv:{tmp_path / 'x.csv'}",
        f"jsonl:{tmp_path / 'x.jsonl'}",
        f"folder:{tmp_path / 'nope'}",
    ):
        with pytest.raises(KnowledgeError, match="not found"):
            load_source(spec)
    for spec in ("pdf:/x", "medquad:", "nonsense"):
        with pytest.raises(KnowledgeError, match="bad source"):
            parse_spec(spec)
    assert parse_spec("starter") == ("starter", STARTER_DIR)


def test_judged_csv_parses_question_url_answer(tmp_path: Path) -> None:
    path = tmp_path / "judged.csv"
    path.write_text(
        "AnswerID,Answer\n"
        'ADAM_0000011_Sec1.txt,"Question: Do you have information about Abdominal CT scan (Also called: CT abdomen)\n'
        'URL: https://medlineplus.gov/ct\nAnswer: Summary : An abdominal CT scan is an imaging method."\n'
        'GHR_1_Sec1.txt,""\n'
        ',"orphan"\n'
        'plain_1,"Just text."\n',
        encoding="utf-8",
    )
    docs, report = load_source(f"csv:{path}")
    assert [d.id for d in docs] == ["ADAM_0000011_Sec1.txt", "plain_1"]
    assert docs[0].title == "Abdominal CT scan"
    assert docs[0].url == "https://medlineplus.gov/ct"
    assert docs[0].text == "Summary : An abdominal CT scan is an imaging method."
    assert docs[0].source == "MedQuAD/ADAM"
    assert report.counts == {"rows without answer text": 1, "rows without id": 1}


def test_csv_wrong_columns_empty_and_non_utf8(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(KnowledgeError, match="AnswerID,Answer"):
        load_source(f"csv:{bad}")
    empty = tmp_path / "empty.csv"
    empty.write_text("  \n", encoding="utf-8")
    with pytest.raises(KnowledgeError, match="empty or not UTF-8"):
        load_source(f"csv:{empty}")
    latin = tmp_path / "latin.csv"
    latin.write_bytes("AnswerID,Answer\nx,caf\xe9\n".encode("latin-1"))
    with pytest.raises(KnowledgeError, match="empty or not UTF-8"):
        load_source(f"csv:{latin}")


def test_jsonl_reader_counts_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "docs.jsonl"
    lines = [
        json.dumps({"id": "a", "title": "A", "text": "Alpha text.", "url": "http://a", "source": "s", "lang": "en"}),
        "{not json",
        json.dumps(["list"]),
        json.dumps({"id": "b", "text": ""}),
        json.dumps({"text": "no id"}),
        "",
        json.dumps({"id": 7, "text": "Seven.", "question": "What is seven?"}),
    ]
    path.write_text("\n".join(lines), encoding="utf-8")
    docs, report = load_source(f"jsonl:{path}")
    assert [d.id for d in docs] == ["a", "7"]
    assert docs[0].metadata == {"lang": "en"} and docs[0].url == "http://a"
    assert docs[1].question == "What is seven?" and docs[1].source == "docs"
    assert report.total == 4


def test_folder_reader_front_matter_sections_and_skips(tmp_path: Path) -> None:
    (tmp_path / "asthma.md").write_text(
        "---\nid: starter-asthma\ntitle: Asthma\nsources:\n  - https://a.example/1\n  - https://a.example/2\n"
        "license: CC BY 4.0\n---\n## What it is\nA lung condition.\n\n## Symptoms\nWheezing.\n",
        encoding="utf-8",
    )
    (tmp_path / "plain.txt").write_text("Just some notes about sleep.", encoding="utf-8")
    (tmp_path / "empty.md").write_text("\n\n", encoding="utf-8")
    (tmp_path / "broken.md").write_text("---\ntitle: [unclosed\n---\nBody", encoding="utf-8")
    (tmp_path / "binary.md").write_bytes(b"\xff\xfe\x00bad")
    (tmp_path / "image.png").write_bytes(b"png")
    docs, report = load_source(f"folder:{tmp_path}")
    by_id = {d.id: d for d in docs}
    asthma = by_id["starter-asthma"]
    assert asthma.title == "Asthma" and asthma.url == "https://a.example/1"
    assert asthma.metadata["sources"] == ["https://a.example/1", "https://a.example/2"]
    assert [s[0] for s in asthma.metadata["sections"]] == ["What it is", "Symptoms"]
    assert asthma.license == "CC BY 4.0"
    plain = by_id[f"{tmp_path.name}-plain"]
    assert plain.title == "plain" and plain.text == "Just some notes about sleep."
    assert report.counts == {
        "empty files": 1,
        "files with malformed front matter": 1,
        "non-UTF-8 files": 1,
        "files that are not .md/.txt": 1,
    }


def test_load_sources_drops_duplicate_ids(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text(json.dumps({"id": "x", "text": "one"}) + "\n", encoding="utf-8")
    docs, report = load_sources([f"jsonl:{path}", f"jsonl:{path}"])
    assert len(docs) == 1 and report.counts["duplicate ids"] == 1
    with pytest.raises(KnowledgeError, match="no sources"):
        load_sources([])


@pytest.mark.parametrize(
    ("question", "focus"),
    [
        ("What is (are) Acne ?", "Acne"),
        ("What are the symptoms of Noonan syndrome ?", "Noonan syndrome"),
        ("Do you have information about Abdominal CT scan (Also called: CT abdomen)", "Abdominal CT scan"),
        ("What is (are) Acquired hemophilia ? (Also called: Acquired haemophilia)", "Acquired hemophilia"),
        ("how can botulism be prevented?", "how can botulism be prevented"),
    ],
)
def test_focus_from_question(question: str, focus: str) -> None:
    assert focus_from_question(question) == focus


def test_parse_judged_answer_plain_cell() -> None:
    assert parse_judged_answer("  just   an answer ") == (None, "", "just an answer")
