"""The learned triage stage: training, loading, combining with the rules, the same-day level.

A small model is trained here on a handful of messages with the mock embedder, so the tests
check the plumbing (thresholds, categories, combination, the reply) without MiniLM.
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import pytest

from chatbot import prompts
from chatbot.safety import triage
from chatbot.safety.learned import TriageModel, TriageModelError
from finetune import triage as trainer
from knowledge.embedding import MockEmbedder

EMBED = MockEmbedder(384)


def _encode(texts: list[str]):  # type: ignore[no-untyped-def]
    return EMBED.encode(texts)


# Invented wordings the rules do not know ("everyone has a thumping head"), so the classifier
# is the only stage that can raise them.
EMERGENCY = {
    "stroke": [
        "grandad's words are all jumbled and one side of his smile has gone",
        "mum's words come out jumbled and her smile is lopsided",
        "his words are jumbled up and the smile on one side dropped",
        "my wife's words are jumbled and her smile is crooked",
        "jumbled words and a lopsided smile on my neighbour",
        "my uncle's words are jumbled, half his smile is gone",
    ],
    "carbon_monoxide": [
        "everyone in the flat has a thumping head and the cat is sleepy, heater on all night",
        "whole family thumping heads since the heater went on and the dog is sleepy",
        "thumping head for all of us in the flat and the heater smells odd",
        "the heater has been on and we all have thumping heads and feel sick",
        "thumping heads for me and my kids since the heater started, the cat is sleepy",
        "flatmates and I all have a thumping head near the heater",
    ],
}
URGENT = [
    "a bit wheezy since this morning but managing at rest",
    "wheezy since this morning, fine sitting down",
    "a little wheezy since this morning when walking",
    "wheezy since this morning but I can talk fine",
    "been wheezy since this morning, ok at rest",
    "mildly wheezy since this morning",
]
ROUTINE = [
    "what vitamins are good for hair",
    "how much water should I drink a day",
    "is coffee bad for sleep",
    "best stretches for a stiff back after gardening",
    "can I take my vitamins with breakfast",
    "how long does a cold usually last",
    "what foods have lots of iron",
    "how do I store insulin pens when travelling",
    "tips for sleeping better on night shifts",
    "what does a healthy breakfast look like",
    "how often should I replace my toothbrush",
    "is walking every day enough exercise",
]


def _write_training(tmp_path: Path) -> Path:
    path = tmp_path / "triage_train_test.jsonl"
    lines = [{"text": t, "label": "emergency", "category": cat} for cat, ts in EMERGENCY.items() for t in ts]
    lines += [{"text": t, "label": "urgent", "category": "asthma_attack"} for t in URGENT]
    lines += [{"text": t, "label": "routine", "category": "none"} for t in ROUTINE]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> TriageModel:
    tmp = tmp_path_factory.mktemp("triage_model")
    path = _write_training(tmp)
    result = trainer.train(trainer.load([path]), _encode, recall=0.98, urgent_recall=0.85, c=10.0)
    import numpy as np

    np.savez_compressed(tmp / "m.npz", **result["weights"])
    meta = {k: result[k] for k in ("categories", "emergency_threshold", "urgent_threshold")}
    (tmp / "m.json").write_text(json.dumps(meta), encoding="utf-8")
    return TriageModel.load(_encode, tmp / "m.npz", tmp / "m.json")


def test_classifier_raises_what_the_rules_miss_with_its_reason(model: TriageModel) -> None:
    message = "everyone in our flat has a thumping head and the cat is sleepy since the heater went on"
    assert triage(message).label == "ok"  # the rules alone do not know this wording
    result = triage(message, model=model)
    assert result.label == "emergency" and result.source == "classifier"
    assert result.category == "carbon_monoxide"  # the data category's guidance key
    assert "classifier: carbon_monoxide" in result.reason and result.score is not None
    assert result.message == prompts.emergency_message("carbon_monoxide")


def test_rules_still_decide_when_they_fire(model: TriageModel) -> None:
    result = triage("I have crushing chest pain spreading to my left arm", model=model)
    assert result.label == "emergency" and result.source.startswith("rules") and result.category == "chest_pain"


def test_urgent_is_ok_with_same_day_care(model: TriageModel) -> None:
    result = triage("I've been a bit wheezy since this morning but I'm managing", model=model)
    assert result.label == "ok" and result.care == "same_day"
    assert triage("what foods have lots of iron", model=model).care == ""


def test_trainer_refuses_the_heldout_set(tmp_path: Path) -> None:
    held = tmp_path / trainer.HELDOUT_NAME
    held.write_text(json.dumps({"text": "x", "label": "routine"}) + "\n", encoding="utf-8")
    with pytest.raises(trainer.TrainingSetError, match="held-out"):
        trainer.load([held])


def test_trainer_names_a_bad_line(tmp_path: Path) -> None:
    bad = tmp_path / "triage_train_bad.jsonl"
    bad.write_text('{"text": "a", "label": "maybe"}\n', encoding="utf-8")
    with pytest.raises(trainer.TrainingSetError, match=r":1: label 'maybe'"):
        trainer.load([bad])


def test_missing_weights_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TriageModelError, match="not readable"):
        TriageModel.load(_encode, tmp_path / "none.npz", tmp_path / "none.json")


def test_shipped_weights_load_and_match_their_metadata() -> None:
    from chatbot.safety.categories import DATA_CATEGORIES
    from chatbot.safety.learned import META_PATH, MODEL_PATH

    meta = json.loads(META_PATH.read_text(encoding="utf-8"))
    assert set(meta["categories"]) == set(DATA_CATEGORIES)
    assert trainer.HELDOUT_NAME not in meta["trained_on"]
    assert meta["messages"] >= 1500
    loaded = TriageModel.load(lambda texts: EMBED.encode(texts), MODEL_PATH, META_PATH)
    assert loaded.level_w.shape[1] == 3 and loaded.cat_w.shape[1] == len(DATA_CATEGORIES)


def test_same_day_note_comes_first_in_the_reply(settings, health_chunks, model: TriageModel) -> None:  # type: ignore[no-untyped-def]
    from chatbot.dialogue.service import DialogueService
    from chatbot.llm.mock import MockGenerator
    from tests.conftest import FakeRetriever

    s = settings.model_copy(update={"knowledge": settings.knowledge.model_copy(update={"min_score": 0.1})})
    service = DialogueService(
        s,
        generator=MockGenerator(),
        retriever=FakeRetriever(health_chunks),
        embedder=MockEmbedder(256),
        triage=partial(triage, model=model),
    )
    events = list(service.stream("I've been a bit wheezy since this morning, is that asthma?"))
    deltas = [e.text for e in events if e.kind == "delta"]
    assert deltas[0].startswith(prompts.SAME_DAY_NOTE)
    reply = events[-1].reply
    assert reply is not None and reply.text.startswith(prompts.SAME_DAY_NOTE)
    assert "same_day_care" in reply.flags and reply.triage.care == "same_day"
