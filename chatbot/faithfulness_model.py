"""The paraphrase stage of the faithfulness checker: a logistic model over a few features.

When no rule of :mod:`chatbot.faithfulness` has decided a sentence, the question left is whether
the passage says it in other words. Word coverage alone rejects good plain-language paraphrases
("clear up" for "get better") and passes added facts with one new word; with the count of words
the passage never uses and the embedding similarity, a logistic model separates them better.
Two weight sets: with the similarity (the product, which has the embedder) and without it.

Trained on the dev side (``faithfulness_dev.jsonl`` + ``faithfulness_train.jsonl``) only by :mod:`chatbot.faithfulness_train`
(``python -m chatbot.faithfulness_train``); weights live in ``chatbot/data/faithfulness_model.json``,
read once on first use.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

MODEL_PATH = Path(__file__).resolve().parent / "data" / "faithfulness_model.json"
FEATURES = ("coverage", "core_coverage", "order", "new_terms", "salient_new", "new_share", "length", "similarity")
# A word rarer than this (Zipf scale, wordfreq) is a medical term, a name or a figure: new in a
# sentence, it is a new claim. Common words ("reason", "whole", "despite") are how people rephrase.
SALIENT_ZIPF = 4.0


@dataclass(frozen=True)
class Features:
    coverage: float  # share of the sentence's content words in its best passage unit
    core_coverage: float  # ...in the best single passage sentence
    order: float  # how much of the shared words keep the passage's order
    new_terms: int  # content words the passage never uses
    salient_new: int  # of those, rare words (terms, names)
    new_share: float
    length: int  # content words in the sentence
    similarity: float | None  # embedding cosine to the closest passage sentence (None: no embedder)
    new: tuple[str, ...] = ()
    unit: str = ""

    def vector(self, with_similarity: bool) -> list[float]:
        v = [
            self.coverage,
            self.core_coverage,
            self.order,
            min(self.new_terms, 4) / 4,
            min(self.salient_new, 3) / 3,
            self.new_share,
            min(self.length, 20) / 20,
        ]
        return [*v, self.similarity or 0.0] if with_similarity else v


@lru_cache(maxsize=20_000)
def salient(word: str) -> bool:
    from wordfreq import zipf_frequency  # frequency tables ship in the wheel: works offline

    return zipf_frequency(word, "en") < SALIENT_ZIPF


@lru_cache(maxsize=1)
def _weights() -> dict[str, Any]:
    return dict(json.loads(MODEL_PATH.read_text(encoding="utf-8")))


def probability(features: Features) -> float:
    key = "with_similarity" if features.similarity is not None else "without_similarity"
    w = _weights()[key]
    z = w["bias"] + sum(a * b for a, b in zip(w["coef"], features.vector(key == "with_similarity"), strict=True))
    return 1.0 / (1.0 + math.exp(-z))


def threshold(with_similarity: bool) -> float:
    return float(_weights()["with_similarity" if with_similarity else "without_similarity"]["threshold"])
