"""The evaluation harness end to end with the embedded model and embedder on CPU.

Corpus: the judged answers of the first three LiveQA-Med dev questions plus one small MedQuAD
source folder (a few hundred passages), so the index builds in CI time; ``--limit 3`` runs
those three questions through the whole pipeline.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest
import yaml

from chatbot.evaluation.cli import standalone_parser
from chatbot.evaluation.liveqa import read_qrels, read_questions

pytestmark = [pytest.mark.integration, pytest.mark.slow]

LIMIT = 3


@pytest.fixture(scope="module")
def liveqa_config(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from tests.conftest import shared_data_dir

    shared = shared_data_dir()
    live = shared / "liveqa_med_dev"
    if not (live / "questions.xml").is_file() or not (shared / "MedQuAD").is_dir():
        pytest.skip(f"LiveQA-Med dev data not found under {shared} (set HEALTHBOT_SHARED_DATA)")
    tmp = tmp_path_factory.mktemp("eval")
    ids = [q.id for q in read_questions(live / "questions.xml")[:LIMIT]]
    qrels = read_qrels(live / "qrels.txt")
    wanted = {d for q in ids for d in qrels.get(q, {})}
    rows = [r for r in csv.DictReader(io.StringIO((live / "judged_answers.csv").read_text(encoding="utf-8")))]
    subset = tmp / "judged_subset.csv"
    with subset.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["AnswerID", "Answer"])
        w.writeheader()
        w.writerows(r for r in rows if r["AnswerID"] in wanted)
    medquad = tmp / "MedQuAD"
    shutil.copytree(shared / "MedQuAD" / "9_CDC_QA", medquad / "9_CDC_QA")
    config = tmp / "eval.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "data_dir": str(tmp / "data"),
                "shared_data": str(shared),
                "knowledge": {"sources": [f"csv:{subset}", f"medquad:{medquad}"]},
                # short answers keep the CPU run inside CI's budget
                "llm": {"max_new_tokens": 48},
            }
        ),
        encoding="utf-8",
    )
    from chatbot.settings import load_settings
    from knowledge.index import ensure_index

    ensure_index(load_settings(config))
    return config, tmp


def test_evaluate_liveqa_subset_with_embedded_model(liveqa_config: tuple[Path, Path]) -> None:
    config, tmp = liveqa_config
    out = tmp / "report"
    args = standalone_parser().parse_args(
        ["--config", str(config), "evaluate", "--suite", "liveqa", "--limit", str(LIMIT), "--output", str(out)]
    )
    assert args.func(args) == 0
    lines = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    assert len(lines) == LIMIT
    for rec in lines:
        assert rec["text"].strip()
        assert rec["timings"]["total_s"] > 0
        met = rec["metrics"]
        assert met["rouge_l"] is not None and met["emb_sim"] is not None
        assert met["baseline_rouge_l"] is not None
    # every judged answer of these questions is indexed, so retrieval finds some of them
    judged = [r for r in lines if r["metrics"].get("rr10") is not None]
    assert judged and max(r["metrics"]["rr10"] for r in judged) > 0
    md = (out / "report.md").read_text()
    assert "MAP@10 (grade>=3)" in md and "of them in the index" in md
    for name in ("report.html", "metrics.png", "latency.png", "ratings_to_fill.csv"):
        assert (out / name).stat().st_size > 0


def test_batch_with_embedded_model(liveqa_config: tuple[Path, Path]) -> None:
    config, tmp = liveqa_config
    src, out = tmp / "in.jsonl", tmp / "out.jsonl"
    src.write_text(
        json.dumps({"id": "a", "text": "What causes high blood pressure?"})
        + "\n{broken\n"
        + json.dumps(
            {
                "id": "b",
                "messages": [
                    {"role": "user", "content": "What is asthma?"},
                    {"role": "assistant", "content": "A long-term lung condition."},
                    {"role": "user", "content": "How is it treated?"},
                ],
            }
        )
        + "\n",
        encoding="utf-8",
    )
    args = standalone_parser().parse_args(["--config", str(config), "batch", "--input", str(src), "--output", str(out)])
    assert args.func(args) == 1  # one bad line skipped
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [x["id"] for x in lines] == ["a", "b"]
    for rec in lines:
        assert rec["text"].strip() and rec["triage"] == "ok"
        assert rec["retrieved"] and rec["timings"]["total_s"] > 0


def test_evaluate_safety_sample_with_embedded_model(liveqa_config: tuple[Path, Path]) -> None:
    from chatbot.evaluation.runner import DEFAULT_SAFETY_SET

    config, tmp = liveqa_config
    if not DEFAULT_SAFETY_SET.is_file():
        pytest.skip("tests/data/triage_tuned.jsonl not present")
    rows = [json.loads(x) for x in DEFAULT_SAFETY_SET.read_text(encoding="utf-8").splitlines() if x.strip()]
    sample = []
    for label in ("emergency", "benign", "harmful", "off_topic", "injection"):
        sample += [r for r in rows if r["label"] == label and r.get("lang", "en") == "en"][:1]
    src = tmp / "safety_sample.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in sample), encoding="utf-8")
    out = tmp / "safety"
    args = standalone_parser().parse_args(
        ["--config", str(config), "evaluate", "--suite", "safety", "--input", str(src), "--output", str(out)]
    )
    assert args.func(args) == 0
    lines = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    assert len(lines) == len(sample)
    # the secret markers never reach a reply: not the system prompt's, not a planted passage's
    assert not any(r["metrics"]["system_canary_leak"] for r in lines)
    probes = [r for r in lines if "doc_canary_leak" in r["metrics"]]
    assert probes and not any(r["metrics"]["doc_canary_leak"] for r in probes)
    md = (out / "report.md").read_text()
    assert "benign false-alarm rate" in md and "Per category (eval)" in md
