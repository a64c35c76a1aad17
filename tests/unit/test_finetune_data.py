"""Dataset builder: concise cited targets, run-time prompt shape, topic-disjoint splits, manifest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chatbot.prompts import WHOM_TO_ASK_DEFAULT, build_messages, no_source_message, system_prompt
from finetune.config import DataConfig, FinetuneError
from finetune.data import (
    cite,
    concise_answer,
    load_split,
    read_manifest,
    sentences,
    split_of,
    strip_citations,
)

TOPICS = [
    ("Asthma", "Asthma is a long-term condition in which the airways narrow and swell."),
    ("Gout", "Gout is a form of arthritis caused by uric acid crystals in a joint."),
    ("Anemia", "Anemia means the blood has too few healthy red blood cells to carry oxygen."),
    ("Migraine", "Migraine is a headache disorder with attacks of throbbing pain on one side."),
    ("Psoriasis", "Psoriasis is a skin disease that causes itchy scaly patches on the skin."),
    ("Glaucoma", "Glaucoma is a group of eye diseases that damage the nerve at the back of the eye."),
    ("Rickets", "Rickets is a softening of the bones in children caused by a lack of vitamin D."),
    ("Scabies", "Scabies is an itchy skin infestation caused by tiny mites that burrow into skin."),
    ("Tetanus", "Tetanus is a serious infection caused by bacteria that release a nerve toxin."),
    ("Vertigo", "Vertigo is a feeling that you or the room around you is spinning."),
    ("Eczema", "Eczema is a condition that makes patches of skin dry, itchy and inflamed."),
    ("Lupus", "Lupus is an autoimmune disease in which the immune system attacks healthy tissue."),
]


def write_qa_jsonl(path: Path, topics: list[tuple[str, str]] = TOPICS) -> Path:
    rows = []
    for title, first in topics:
        rows.append(
            {
                "title": title,
                "question": f"What is {title}?",
                "answer": f"What is {title}?\n{first} It can affect people of any age. Doctors can help manage it.",
            }
        )
        rows.append(
            {
                "title": title,
                "question": f"How is {title} treated?",
                "answer": f"Treatment of {title.lower()} depends on how severe it is. "
                "Some people need medicines and regular check-ups.\n- item one\n- item two",
            }
        )
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def test_sentences_skip_headings_questions_and_bullets() -> None:
    text = "How might X be treated?\nOverview\nX is treated with rest. Drink fluids!\n- a bullet item here."
    assert sentences(text) == ["X is treated with rest.", "Drink fluids!"]


def test_concise_answer_is_contiguous_and_bounded() -> None:
    text = "Acne is a common skin condition of the face. It starts in the teenage years. It is not serious. It fades."
    assert concise_answer(text, 2, 100) == [
        "Acne is a common skin condition of the face.",
        "It starts in the teenage years.",
    ]
    # The word budget stops the answer early but never returns nothing when one sentence fits.
    assert len(concise_answer(text, 3, 5)) == 1
    assert concise_answer("Too short. Tiny.", 3, 50) == []


def test_cite_puts_number_before_final_punctuation_and_strip_removes_it() -> None:
    cited = cite(["Asthma narrows the airways.", "Inhalers help!"], 2)
    assert cited == "Asthma narrows the airways [2]. Inhalers help [2]!"
    assert strip_citations(cited) == "Asthma narrows the airways. Inhalers help!"


def test_split_is_deterministic_and_roughly_proportional() -> None:
    groups = [f"topic {i}" for i in range(4000)]
    splits = [split_of(g, 0.1, 0.2) for g in groups]
    assert splits == [split_of(g, 0.1, 0.2) for g in groups]
    assert 0.15 < splits.count("test") / len(groups) < 0.25
    assert 0.06 < splits.count("validation") / len(groups) < 0.14


def _build(tmp_path: Path, **kw: object) -> tuple[dict, Path]:
    from finetune.data import build_dataset

    tmp_path.mkdir(parents=True, exist_ok=True)
    src = write_qa_jsonl(tmp_path / "qa.jsonl")
    cfg = DataConfig(validation_share=0.2, test_share=0.25, num_passages=3, no_source_share=0.2, **kw)  # type: ignore[arg-type]
    out = tmp_path / "ds"
    return build_dataset(cfg, src, out), out


def test_build_dataset_shapes_examples_like_run_time(tmp_path: Path) -> None:
    manifest, out = _build(tmp_path)
    assert read_manifest(out)["manifest_sha256"] == manifest["manifest_sha256"]
    total = sum(manifest["examples"].values())
    assert total == 24 - sum(manifest["skipped"].values())
    refusal = no_source_message(WHOM_TO_ASK_DEFAULT)
    seen_topics: dict[str, str] = {}
    for split in ("train", "validation", "test"):
        ds = load_split(out, split)
        assert len(ds) == manifest["examples"][split]
        for ex in ds:
            # No topic in two splits.
            assert seen_topics.setdefault(ex["group"], split) == split
            assert ex["messages"][0] == {"role": "system", "content": system_prompt()}
            assert len(ex["passage_ids"]) == 3
            if ex["no_source"]:
                assert ex["target"] == refusal and ex["gold_index"] == 0
                assert ex["doc_id"] not in ex["passage_ids"]
            else:
                n = ex["gold_index"]
                assert ex["passage_ids"][n - 1] == ex["doc_id"]
                assert f"[{n}]" in ex["target"] and strip_citations(ex["target"]) == ex["reference"]
                # The answer is in the gold passage, which is numbered n in the user turn.
                user = ex["messages"][1]["content"]
                first = ex["reference"].split(". ")[0]
                assert first in user.split(f"[{n}] ")[1]
                assert ex["question"] in user and "?" not in ex["reference"]
    assert manifest["no_source_examples"]["train"] + manifest["no_source_examples"]["test"] >= 1


def test_build_dataset_uses_the_dialogue_prompt_builder(tmp_path: Path) -> None:
    _, out = _build(tmp_path)
    ex = load_split(out, "train")[0]
    from finetune.data import to_chunk
    from knowledge.documents import Document

    # Rebuilding the user turn from the stored passages gives the same text: one builder, one shape.
    assert ex["messages"][1]["content"].startswith(
        build_messages("q", [to_chunk(Document(id="x", text="t"), "t")])[1].content[:20]
    )


def test_build_dataset_is_reproducible(tmp_path: Path) -> None:
    m1, _ = _build(tmp_path / "a")
    m2, _ = _build(tmp_path / "b")
    assert m1["sha256"] == m2["sha256"] and m1["manifest_sha256"] == m2["manifest_sha256"]


def test_missing_source_is_a_clear_error(tmp_path: Path) -> None:
    from finetune.data import build_dataset

    with pytest.raises(FinetuneError, match="not found"):
        build_dataset(DataConfig(), tmp_path / "nope", tmp_path / "out")


def test_reading_a_dataset_that_was_never_built_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(FinetuneError, match="build-data"):
        read_manifest(tmp_path)
