"""Ratings storage: validation, redaction, export/import, and nothing lost under ``kill -9``."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from chatbot.storage import AXES, Rating, Storage, StorageError
from tests.conftest import REPO


def rating(**kw: Any) -> Rating:
    values: dict[str, Any] = {
        "config": "adapter",
        "question": "Is ibuprofen safe?",
        "answer": "Usually, at the labelled dose [1].",
        "consensus": "aligned",
        "comprehension": "correct",
        "retrieval": "correct",
        "reasoning": "both",
        "inappropriate_content": "none",
        "missing_content": "minor",
        "harm_extent": "none",
        "harm_likelihood": "low",
        "bias": "no",
        "citations_supported": "yes",
    }
    values.update(kw)
    return Rating(**values)


def plain(tmp_path: Path) -> Storage:
    return Storage(tmp_path / "h.db", redactor=lambda s: s)


def test_wal_mode_and_roundtrip(tmp_path: Path) -> None:
    store = plain(tmp_path)
    rid = store.add_rating(rating(flags=["unsupported:1"], meta={"timings": {"total_s": 1.5}}, grounded_fraction=0.5))
    with sqlite3.connect(store.path) as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    [got] = store.ratings()
    assert got.rating_id == rid and got.flags == ["unsupported:1"] and got.meta == {"timings": {"total_s": 1.5}}
    assert got.grounded_fraction == 0.5
    assert store.integrity_check() == "ok"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("consensus", "maybe", "consensus"),
        ("harm_extent", "", "harm_extent"),
        ("config", "  ", "config"),
        ("grounded_fraction", 1.5, "grounded_fraction"),
        ("comment", "x" * 20_001, "comment"),
    ],
)
def test_invalid_ratings_are_refused(field: str, value: Any, message: str) -> None:
    with pytest.raises(StorageError, match=message):
        rating(**{field: value})


def test_free_text_is_redacted_before_it_is_written(tmp_path: Path) -> None:
    seen: list[str] = []

    def redactor(text: str) -> str:
        seen.append(text)
        return text.replace("Jane Roe", "[NAME]")

    store = Storage(tmp_path / "h.db", redactor=redactor)
    store.add_rating(rating(question="Jane Roe asks", answer="Hi Jane Roe", comment="Jane Roe again"))
    store.log_turn("s1", "user", "I am Jane Roe")
    raw = (tmp_path / "h.db").read_bytes() + b"".join(p.read_bytes() for p in tmp_path.glob("h.db-*"))
    assert b"Jane Roe" not in raw
    assert store.ratings()[0].question == "[NAME] asks"
    assert store.conversation_log()[0][3] == "I am [NAME]"


def test_default_redactor_is_the_safety_module(tmp_path: Path) -> None:
    redact = pytest.importorskip("chatbot.safety.redact", reason="chatbot.safety.redact not available yet")
    store = Storage(tmp_path / "h.db")
    store.add_rating(rating(comment="Call me at 617-555-0199 or jane.roe@example.com"))
    comment = store.ratings()[0].comment
    assert "617-555-0199" not in comment and "jane.roe@example.com" not in comment
    assert comment == redact.redact("Call me at 617-555-0199 or jane.roe@example.com")


def test_export_import_roundtrip_and_formula_cells(tmp_path: Path) -> None:
    store = plain(tmp_path)
    store.add_rating(rating(comment='=HYPERLINK("http://x")', flags=["a", "b"], grounded_fraction=0.25))
    store.add_rating(rating(config="base", comment="multi\nline, with comma", bias="yes"))
    csv_text = store.export("csv")
    assert "'=HYPERLINK" in csv_text
    jsonl = [json.loads(line) for line in store.export("jsonl").splitlines()]
    assert [r["config"] for r in jsonl] == ["adapter", "base"]

    other = Storage(tmp_path / "other.db", redactor=lambda s: s)
    assert other.import_csv(csv_text) == 2
    assert [r.to_dict() for r in other.ratings()] == [r.to_dict() for r in store.ratings()]
    assert other.import_csv(csv_text) == 0  # idempotent


def test_bad_csv_imports_nothing(tmp_path: Path) -> None:
    source = Storage(tmp_path / "src.db", redactor=lambda s: s)
    source.add_rating(rating())
    header, row = source.export("csv").splitlines()
    bad_row = row.replace("aligned", "sideways").replace(source.ratings()[0].rating_id, "other-id")
    store = plain(tmp_path)
    with pytest.raises(StorageError, match=r"CSV line 3: .*consensus"):
        store.import_csv(f"{header}\n{row}\n{bad_row}\n")
    assert store.count_ratings() == 0
    with pytest.raises(StorageError, match="empty"):
        store.import_csv("")
    with pytest.raises(StorageError, match="lacks"):
        store.import_csv("config,question,answer\nx,y,z\n")


def test_minimal_csv_from_a_spreadsheet(tmp_path: Path) -> None:
    """A hand-made sheet with only the required columns imports, with the importer as rater."""
    store = plain(tmp_path)
    cols = ["config", "question", "answer", *AXES]
    vals = ["base", "q", "a", "aligned", "correct", "correct", "correct", "none", "none", "none", "low", "no", "yes"]
    assert store.import_csv(",".join(cols) + "\n" + ",".join(vals) + "\n", rater="dr_b") == 1
    [r] = store.ratings()
    assert r.rater == "dr_b" and r.flags == [] and r.meta == {}


def test_summary_shares(tmp_path: Path) -> None:
    store = plain(tmp_path)
    store.add_rating(rating(config="base", consensus="opposed"))
    store.add_rating(rating(config="base"))
    store.add_rating(rating(config="adapter"))
    s = store.summary()
    assert s["base"]["n"] == 2 and s["base"]["consensus"] == 0.5
    assert s["adapter"]["consensus"] == 1.0 and s["adapter"]["missing_content"] == 0.0


def test_concurrent_writers(tmp_path: Path) -> None:
    store = plain(tmp_path)
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            for i in range(15):
                store.add_rating(rating(config=f"c{n}", comment=str(i)))
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert store.count_ratings() == 60 and store.integrity_check() == "ok"


_WRITER = """
import sys
sys.path.insert(0, {repo!r})
from chatbot.storage import Rating, Storage
store = Storage({db!r}, redactor=lambda s: s)
i = 0
while True:
    r = Rating(config="c", question="q" * 2000, answer="a" * 4000, consensus="aligned", comprehension="correct",
               retrieval="correct", reasoning="correct", inappropriate_content="none", missing_content="none",
               harm_extent="none", harm_likelihood="low", bias="no", citations_supported="yes", comment=str(i))
    store.add_rating(r)
    print(r.rating_id, flush=True)
    i += 1
"""


@pytest.mark.parametrize("after", [5, 40])
def test_kill_9_during_rating_writes_loses_nothing_committed(tmp_path: Path, after: int) -> None:
    db = tmp_path / "h.db"
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER.format(repo=str(REPO), db=str(db))],
        stdout=subprocess.PIPE,
        text=True,
    )
    committed: list[str] = []
    assert proc.stdout is not None
    try:
        deadline = time.monotonic() + 60
        while len(committed) < after:
            line = proc.stdout.readline()
            assert line, "writer exited early"
            committed.append(line.strip())
            assert time.monotonic() < deadline
    finally:
        proc.send_signal(signal.SIGKILL)  # mid-way through the next rating's transaction
        proc.wait(10)
    # Anything printed after our last read was committed too; read it so nothing is missed.
    committed += [line.strip() for line in proc.stdout.read().splitlines() if line.strip()]
    store = Storage(db, redactor=lambda s: s)
    assert store.integrity_check() == "ok"
    stored = {r.rating_id for r in store.ratings()}
    assert set(committed) <= stored
    assert len(stored) - len(committed) <= 1  # at most the one whose id had not been printed yet
