"""The shipped triage (rules + the learned stage on the embedded MiniLM) on the wordings the
issues named, and as a quality gate on the held-out set (recall first)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest

from chatbot import prompts
from chatbot.safety import triage
from chatbot.safety.evaluate import HELDOUT_SET, HELDOUT_SET_V2
from chatbot.safety.learned import TriageModel

pytestmark = pytest.mark.integration


@cache
def model() -> TriageModel:
    from chatbot.safety.learned import EMBEDDING_BACKEND
    from chatbot.settings import EmbeddingSettings
    from knowledge.embedding import build_embedder, encode_queries

    embedder = build_embedder(EmbeddingSettings(backend=EMBEDDING_BACKEND))
    return TriageModel.load(lambda texts: encode_queries(embedder, texts))


@pytest.mark.parametrize(
    "message",
    [
        "I had a stroke at 40, can I still drive?",
        "I was in a car accident two months ago and my neck is still stiff, is physio useful?",
        "Last year's chest pain turned out to be reflux, can I stop my omeprazole?",
        "My dad had a heart attack in 2019, is it safe for him to fly?",
    ],
)
def test_history_is_history(message: str) -> None:
    result = triage(message, model=model())
    assert result.label == "ok", result.reason


@pytest.mark.parametrize(
    ("message", "category"),
    [
        ("I had a stroke at 40 and now my arm went numb an hour ago", "stroke"),
        ("my dad keeps vomiting stuff that looks like coffee grounds and he's pale", "gi_bleeding"),
        ("everyone at home has a pounding headache and feels sick since we lit the old gas heater", "carbon_monoxide"),
    ],
)
def test_current_emergencies_get_their_own_guidance(message: str, category: str) -> None:
    result = triage(message, model=model())
    assert result.label == "emergency" and result.category == category, result.reason
    assert result.message == prompts.emergency_message(category)


def test_spanish_emergency_is_answered_in_spanish() -> None:
    result = triage("mi marido de repente no puede hablar bien y se le cae la cara de un lado", model=model())
    assert result.label == "emergency" and result.message.startswith(prompts.EMERGENCY_LEAD_ES)


@pytest.mark.parametrize(("path", "max_false_alarms"), [(HELDOUT_SET, 0.125), (HELDOUT_SET_V2, 0.11)])
def test_heldout_quality_gate(path: Path, max_false_alarms: float) -> None:
    # Figures at commit (README, triage section): first set recall 0.996, false alarms 0.119;
    # second set 0.996 and 0.107 (the target is 0.05: not met). The gate is the issue's
    # recall bar and a false-alarm ceiling just above today's, so a regression fails; tighten it
    # when the false alarms come down. Only pass/fail is reported: the second set's messages are
    # never printed.
    items = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
    alarms = {i["id"]: triage(i["text"], model=model()).label == "emergency" for i in items}
    emergencies = [i["id"] for i in items if i["label"] == "emergency"]
    routine = [i["id"] for i in items if i["label"] == "routine"]
    recall = sum(alarms[i] for i in emergencies) / len(emergencies)
    false_alarms = sum(alarms[i] for i in routine) / len(routine)
    assert recall >= 0.97 and false_alarms <= max_false_alarms, f"{path.name}: {recall:.3f} / {false_alarms:.3f}"
