"""Question-type detection: consumer phrasings, yes/no, population, lazy weights, training."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from chatbot import question_type as qt
from chatbot import question_type_train as qtt

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("question", "label", "yes_no", "population"),
    [
        ("I have had a dry cough for three weeks, should I worry?", "care", True, None),
        ("What is asthma?", "definition", False, None),
        ("what can I take for a headache", "treatment", False, None),
        ("Can I take ibuprofen while pregnant?", "medicine", True, "pregnancy"),
        ("my toddler has a rash, what causes it", "causes", False, "child"),
        ("Is a cough for three weeks serious?", "care", True, None),
        ("When should I see a doctor for a fever?", "care", False, None),
        ("Do I need to go to the ER for a sprained ankle?", "care", True, None),
        ("How long does the flu last?", "outlook", False, None),
        ("Will my sore throat go away on its own?", "outlook", True, None),
        ("What are the side effects of metformin?", "medicine", False, None),
        ("How much paracetamol can I give my 4 year old?", "medicine", False, "child"),
        ("How is diabetes treated?", "treatment", False, None),
        ("What are the signs of a stroke?", "symptoms", False, None),
        ("Is chickenpox contagious?", "risk", True, None),
        ("Is lupus hereditary?", "risk", True, None),
        ("How can I prevent kidney stones?", "prevention", False, None),
        ("How is celiac disease diagnosed?", "tests", False, None),
        ("What is the prognosis for pancreatic cancer?", "outlook", False, None),
        ("I am breastfeeding, is it ok to take antihistamines?", "medicine", True, "pregnancy"),
        ("my daughter is 30 and has migraines, what helps?", "treatment", False, None),
        ("Are there any support groups for people with ALS?", "other", True, None),
    ],
)
def test_consumer_phrasings(question: str, label: str, yes_no: bool, population: str | None) -> None:
    result = qt.detect(question)
    assert (result.label, result.is_yes_no, result.population) == (label, yes_no, population)


def test_record_is_consistent() -> None:
    result = qt.detect("Can I take ibuprofen while pregnant?")
    assert set(result.scores) == set(qt.LABELS)
    assert result.scores[result.label] == result.score == max(result.scores.values())
    assert sum(result.scores.values()) == pytest.approx(1.0, abs=1e-5)
    assert result.matched[0] == result.label == "medicine"


def test_secondary_types_are_kept() -> None:
    result = qt.detect("What causes shingles and how is it treated?")
    assert set(result.matched) == {"causes", "treatment"}
    assert result.label == result.matched[0]


def test_story_does_not_outvote_the_question() -> None:
    message = "I had a CT scan last week and the symptoms were checked by my GP. Is it contagious?"
    assert qt.question_part(message) == "is it contagious?"
    assert qt.detect(message).label == "risk"


def test_learned_stage_covers_template_free_forms() -> None:
    # No rule fires here; the stemmed n-grams ("treat") carry it.
    assert qt.rule_labels("What are the treatments for gout?") == ()
    assert qt.detect("What are the treatments for gout?").label == "treatment"
    assert qt.detect("What are the symptoms of gout?").label == "symptoms"


def test_detect_is_deterministic() -> None:
    question = "My son has had a fever for two days, is this serious and what can I give him?"
    assert qt.detect(question) == qt.detect(question)


def test_import_does_not_load_weights() -> None:
    code = (
        "import sys, chatbot.question_type as q; "
        "assert q._shipped_model.cache_info().currsize == 0; "
        "assert 'numpy' not in sys.modules, 'numpy imported at import time'"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)


def test_shipped_weights_load() -> None:
    assert qt.MODEL_PATH.stat().st_size < 2_000_000
    model = qt.load_model()
    assert model.labels == qt.LABELS
    assert len(model.vocab) > 50
    assert model.weights.shape == (len(model.vocab), len(qt.LABELS))


def _synthetic() -> list[qtt.LabelledQuestion]:
    forms = {
        "What are the symptoms of X ?": "symptoms",
        "What causes X ?": "causes",
        "What are the treatments for X ?": "treatment",
        "Is X inherited ?": "risk",
    }
    topics = ["flu", "gout", "asthma", "lupus", "acne", "mumps"]
    return [
        qtt.LabelledQuestion(f"d{i}", form.replace("X", t), qtt.mask_focus(form.replace("X", t), t), "", label)
        for i, t in enumerate(topics)
        for form, label in forms.items()
    ]


def test_training_is_deterministic(tmp_path: Path) -> None:
    questions = _synthetic()
    vocab = qtt.build_vocab(questions, min_docs=2)
    assert "gout" not in vocab and "symptom" in vocab  # the topic is masked, the form kept
    paths = [tmp_path / "a.npz", tmp_path / "b.npz"]
    for path in paths:
        qtt.save_model(qtt.fit(questions, vocab, iters=100), path)
    assert paths[0].read_bytes() == paths[1].read_bytes()
    model = qt.load_model(paths[0])
    assert qt.detect("What are the symptoms of measles?", model).label == "symptoms"
    assert qt.detect("What causes measles?", model).label == "causes"


def test_mask_focus() -> None:
    assert qtt.mask_focus("What causes Lyme disease ?", "Lyme Disease") == "What causes ?"
    assert qtt.mask_focus("What causes Lyme's disease ?", "Lyme disease (borreliosis)") == "What causes Lyme's ?"


def test_bootstrap_interval() -> None:
    acc = qtt.accuracy_interval([True] * 30 + [False] * 10)
    assert acc.value == pytest.approx(0.75)
    assert acc.low < 0.75 < acc.high
    assert acc == qtt.accuracy_interval([True] * 30 + [False] * 10)  # fixed seed


def test_every_medquad_qtype_is_mapped(shared_data: Path) -> None:
    questions = qtt.read_medquad(shared_data / "MedQuAD")
    assert len(questions) > 40_000
    assert {q.qtype for q in questions} <= set(qtt.QTYPE_LABELS)
    assert set(qtt.QTYPE_LABELS.values()) <= set(qt.LABELS)


def test_medquad_held_out_accuracy(shared_data: Path) -> None:
    _, held_out = qtt.split_by_document(qtt.read_medquad(shared_data / "MedQuAD"), seed=0)
    correct = [qt.detect(q.text).label == q.label for q in held_out[::10]]
    assert sum(correct) / len(correct) > 0.97


def test_liveqa_types_are_mapped(shared_data: Path) -> None:
    path = shared_data / "liveqa_med_dev" / "questions.xml"
    if not path.exists():
        pytest.skip(f"no LiveQA dev questions at {path}")
    items = qtt.read_liveqa(path)
    assert len(items) == 51
    assert {t for q in items for t in q.types} <= set(qtt.LIVEQA_LABELS)
