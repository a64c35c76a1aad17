"""Faults, nothing lost: ``kill -9`` during an index build leaves the previous index whole.

A real ``python -m knowledge build`` (mock embedder, so it is quick) is killed with SIGKILL
while it writes its temporary directory; the index already in ``--out`` must still pass its
manifest's file checksums and answer a search exactly as before, and the next build must succeed
and clear what the killed one left. The kill that falls between the two renames of the swap is
too short to hit from outside, so that state is built by hand. (The same guarantees for rating
writes and training runs: tests/unit/test_storage.py and tests/integration/test_finetune_smollm.py,
both with real SIGKILLs.)
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from chatbot.settings import Settings, load_settings
from knowledge.documents import Document
from knowledge.embedding import MockEmbedder

REPO = Path(__file__).resolve().parents[2]
DIM = 256
DOCS = [
    Document(id="asthma", title="Asthma", text="Asthma narrows the airways. An inhaler opens them.", source="t"),
    Document(id="flu", title="Influenza", text="Influenza brings fever and cough. A yearly vaccine helps.", source="t"),
]
QUERY = "asthma inhaler airways"
WORDS = [
    "fever",
    "cough",
    "rash",
    "pain",
    "swelling",
    "kidney",
    "liver",
    "heart",
    "blood",
    "pressure",
    "sugar",
    "insulin",
    "sleep",
    "diet",
    "exercise",
    "allergy",
    "vaccine",
    "infection",
    "dose",
    "tablet",
    "nurse",
    "clinic",
    "symptom",
]


def _settings(tmp_path: Path) -> Settings:
    return load_settings(data_dir=tmp_path / "data", embedding={"mode": "mock", "dimension": DIM})


def _build(settings: Settings, out: Path, docs: list[Document]) -> None:
    from knowledge.index import build_index, chunker_config

    build_index(docs, out, MockEmbedder(DIM), config=chunker_config(settings.knowledge, settings.embedding))


def _answers(settings: Settings, out: Path) -> list[tuple[str, str, float]]:
    """The search result, read without the recovery step that open_retriever runs first."""
    from knowledge.hybrid import HybridRetriever

    hits = HybridRetriever.open(out, MockEmbedder(DIM), settings.knowledge).search(QUERY, 2)
    return [(h.doc_id, h.chunk.id, round(h.score, 6)) for h in hits]


def _big_corpus(path: Path, n: int = 800) -> Path:
    rng = random.Random(0)
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            text = " ".join(rng.choice(WORDS) for _ in range(300))
            f.write(json.dumps({"id": f"big{i}", "title": f"Topic {i}", "text": text}) + "\n")
    return path


def _cli_env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEALTHBOT_")}
    env |= {
        "HEALTHBOT_DATA_DIR": str(settings.data_dir),
        "HEALTHBOT_EMBEDDING__MODE": "mock",
        "HEALTHBOT_EMBEDDING__DIMENSION": str(DIM),
        "HF_HUB_OFFLINE": "1",
    }
    return env


def test_kill_9_during_index_build_keeps_the_previous_index(tmp_path: Path) -> None:
    from knowledge.manifest import Manifest

    settings = _settings(tmp_path)
    out = tmp_path / "idx"
    _build(settings, out, DOCS)
    manifest_before = (out / "manifest.json").read_text(encoding="utf-8")
    answers_before = _answers(settings, out)
    assert answers_before[0][0] == "asthma"

    corpus = _big_corpus(tmp_path / "big.jsonl")
    proc = subprocess.Popen(
        [sys.executable, "-m", "knowledge", "build", "--source", f"jsonl:{corpus}", "--out", str(out)],
        cwd=REPO,
        env=_cli_env(settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # Kill once the build is writing its new index: its temporary directory holds a file.
        deadline = time.monotonic() + 240
        while proc.poll() is None and time.monotonic() < deadline:
            if any(any(d.iterdir()) for d in tmp_path.glob(".idx.tmp-*")):
                break
            time.sleep(0.002)
    finally:
        proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL, "the build ended before it could be killed mid-write"

    leftovers = list(tmp_path.glob(".idx.tmp-*"))
    assert leftovers, "SIGKILL runs no cleanup, so the half-written directory must still be there"
    # The previous index: byte-identical manifest, every file matches its checksum, same answers.
    assert (out / "manifest.json").read_text(encoding="utf-8") == manifest_before
    Manifest.read(out).verify_files(out)
    assert _answers(settings, out) == answers_before

    # The next build is not blocked by the leftover, and removes it (its builder is dead).
    _build(settings, out, [*DOCS, Document(id="gout", title="Gout", text="Gout makes a toe hot.", source="t")])
    assert not list(tmp_path.glob(".idx.tmp-*")) and not list(tmp_path.glob(".idx.old-*"))
    assert Manifest.read(out).n_documents == 3
    assert _answers(settings, out)[0][0] == "asthma"


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_build_killed_between_the_swap_renames_is_undone_on_next_load(tmp_path: Path) -> None:
    """The state a kill between ``os.replace(out, old)`` and ``os.replace(tmp, out)`` leaves."""
    from knowledge.index import open_retriever

    settings = _settings(tmp_path)
    out = tmp_path / "idx"
    _build(settings, out, DOCS)
    answers_before = _answers(settings, out)
    pid = _dead_pid()
    os.replace(out, tmp_path / f".idx.old-{pid}-1700000000000")
    half = tmp_path / f".idx.tmp-{pid}-abcd"
    half.mkdir()
    (half / "docs.jsonl").write_text('{"id": "half', encoding="utf-8")
    # A build still running in another process: its directories are not touched.
    live = tmp_path / f".idx.tmp-{os.getppid()}-efgh"
    live.mkdir()

    retriever = open_retriever(out, MockEmbedder(DIM), settings.knowledge)
    assert [(h.doc_id, h.chunk.id, round(h.score, 6)) for h in retriever.search(QUERY, 2)] == answers_before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".idx")) == [live.name]
    shutil.rmtree(live)


def test_old_copy_left_after_a_finished_swap_is_deleted_not_restored(tmp_path: Path) -> None:
    """Killed after the second rename, before deleting the old copy: ``out`` is already the new index."""
    from knowledge.index import recover_interrupted_build
    from knowledge.manifest import Manifest

    settings = _settings(tmp_path)
    out = tmp_path / "idx"
    _build(settings, out, DOCS)
    newest = (out / "manifest.json").read_text(encoding="utf-8")
    stale = tmp_path / f".idx.old-{_dead_pid()}-1"
    shutil.copytree(out, stale)
    (stale / "docs.jsonl").write_text("", encoding="utf-8")
    recover_interrupted_build(out)
    assert (out / "manifest.json").read_text(encoding="utf-8") == newest and not stale.exists()
    Manifest.read(out).verify_files(out)
