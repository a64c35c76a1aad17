"""Learned second stage of the red-flag triage: a linear classifier over the message.

The rules in :mod:`chatbot.safety.triage` are precise and explainable but only know the
wordings they were written for. This stage scores any wording: features are the sentence
embedding of the message (all-MiniLM-L6-v2, the embedded default embedder, int8) and hashed
character and word n-grams of its normalised text (typos, Spanish, slang the English embedder
misses). Two logistic-regression heads and their thresholds, trained by :mod:`finetune.triage`:

* ``level``: routine | urgent | emergency (softmax), the emergency threshold chosen on
  out-of-fold scores for recall, so that it errs towards raising the alarm;
* ``category``: which emergency it looks like, so the first-aid text fits (a gut bleed is
  not a wound);
* the urgent threshold, for "see a doctor today" cases that are not emergencies.

Inference is two matrix products (well under a millisecond) plus one embedding of the
message with the int8 MiniLM (a few milliseconds on one core); measured by
``benchmarks/triage_eval.py``. Weights live in ``chatbot/data/triage_model.npz`` with their
metadata (training files, thresholds, validation numbers) in ``triage_model.json``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chatbot.errors import HealthbotError
from chatbot.safety.lexicon import normalize

if TYPE_CHECKING:
    import numpy as np
    from scipy.sparse import csr_matrix

DATA = Path(__file__).resolve().parents[1] / "data"
MODEL_PATH = DATA / "triage_model.npz"
META_PATH = DATA / "triage_model.json"
LEVELS = ("routine", "urgent", "emergency")
# Character n-grams inside word boundaries; 2**15 buckets keep collisions rare for the
# vocabulary of short messages while the weights stay small.
HASH_FEATURES = 2**15
NGRAMS = (3, 5)
# Word unigrams and bigrams ("lol", "last year", "co alarm") on top: out of fold they cut the
# classifier's false alarms on look-alikes from 7.7% to 6.3% at the same recall.
WORD_FEATURES = 2**15
EMBED_DIM = 384
# The category head uses the embedding and character columns only (fewer weights to ship).
CATEGORY_COLUMNS = EMBED_DIM + HASH_FEATURES

Encode = Callable[[list[str]], "np.ndarray"]
# The embedded MiniLM with int8 weights (onnxruntime): 3.7 ms a message on one core against
# 20 ms for fp32 (p95 6 vs 31 ms on the held-out messages), for vectors the heads were trained on.
EMBEDDING_BACKEND = "onnx-int8"


class TriageModelError(HealthbotError, RuntimeError):
    """The classifier's weight file is missing, unreadable or was built for another embedder."""


@dataclass(frozen=True)
class LearnedFinding:
    level: str  # routine | urgent | emergency, after the thresholds
    emergency_p: float
    urgent_p: float
    category: str  # most likely emergency category (for the guidance text)
    category_p: float
    # The classifier is sure enough that this is no emergency to overrule a rule match (a figure
    # of speech, a question about a device); the floor is set by the trainer so that no training
    # emergency is lost out of fold.
    overrules_rules: bool = False

    def reason(self) -> str:
        return f"classifier: {self.category} p={self.emergency_p:.2f} (urgent p={self.urgent_p:.2f})"


def hasher() -> tuple[Any, Any]:
    """The character and word hashing vectorizers (stateless: nothing to fit or ship)."""
    from sklearn.feature_extraction.text import HashingVectorizer

    chars = HashingVectorizer(
        analyzer="char_wb", ngram_range=NGRAMS, n_features=HASH_FEATURES, alternate_sign=False, norm="l2"
    )
    words = HashingVectorizer(
        analyzer="word", ngram_range=(1, 2), n_features=WORD_FEATURES, alternate_sign=False, norm="l2"
    )
    return chars, words


def features(texts: Sequence[str], encode: Encode, vectorizers: tuple[Any, Any] | None = None) -> csr_matrix:
    """[embedding | character n-grams | word n-grams], one sparse row per text; the layout the
    weights expect. The hashed parts read the normalised text (lower case, no accents)."""
    from scipy.sparse import csr_matrix, hstack

    chars, words = vectorizers or hasher()
    norm = [normalize(t) for t in texts]
    dense = encode(list(texts))
    return hstack([csr_matrix(dense), chars.transform(norm), words.transform(norm)], format="csr")


class TriageModel:
    """The trained heads with their thresholds; ``score`` gives one message's finding."""

    def __init__(self, weights: dict[str, np.ndarray], meta: dict[str, Any], encode: Encode) -> None:
        self.meta = meta
        self.encode = encode
        self.level_w = weights["level_w"].astype("float32")  # (features, 3)
        self.level_b = weights["level_b"].astype("float32")
        self.cat_w = weights["cat_w"].astype("float32")  # (features, categories)
        self.cat_b = weights["cat_b"].astype("float32")
        self.categories: list[str] = list(meta["categories"])
        self.emergency_threshold = float(meta["emergency_threshold"])
        self.urgent_threshold = float(meta["urgent_threshold"])
        self.rule_floor = float(meta.get("rule_floor", 0.0))
        self._vectorizers = hasher()

    @classmethod
    def load(cls, encode: Encode, path: Path = MODEL_PATH, meta_path: Path = META_PATH) -> TriageModel:
        import numpy as np

        try:
            with np.load(path) as npz:
                weights = {k: npz[k] for k in npz.files}
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise TriageModelError(f"triage classifier not readable ({path}): {err}") from None
        missing = {"level_w", "level_b", "cat_w", "cat_b"} - set(weights)
        if missing:
            raise TriageModelError(f"triage classifier {path} lacks {sorted(missing)}; retrain it")
        return cls(weights, meta, encode)

    def probabilities(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Level probabilities (n, 3) and category probabilities (n, categories)."""
        x = features(texts, self.encode, self._vectorizers)
        # The category head may use only the leading (embedding) columns: fewer weights to ship.
        xc = x[:, : self.cat_w.shape[0]]
        return _softmax(x @ self.level_w + self.level_b), _softmax(xc @ self.cat_w + self.cat_b)

    def score(self, message: str) -> LearnedFinding:
        levels, cats = self.probabilities([message])
        emergency_p, urgent_p = float(levels[0, 2]), float(levels[0, 1])
        best = int(cats[0].argmax())
        if emergency_p >= self.emergency_threshold:
            level = "emergency"
        elif urgent_p + emergency_p >= self.urgent_threshold:
            level = "urgent"
        else:
            level = "routine"
        return LearnedFinding(
            level, emergency_p, urgent_p, self.categories[best], float(cats[0, best]), emergency_p < self.rule_floor
        )


def _softmax(z: np.ndarray) -> np.ndarray:
    import numpy as np

    z = np.asarray(z, dtype="float64")
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)
