"""Example questions: the ``question`` signal for documents that list the questions they answer.

A starter topic's front matter may list ``questions:`` that patients ask about it ("woke up with
a bitten tongue and a wet bed"). They are never shown or quoted; their embeddings are stored in
``example_vectors.npy`` (one row per question, in document order) and the retriever's
``question`` signal takes, for each document, the best of its stored question and its examples.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from knowledge.errors import KnowledgeError

if TYPE_CHECKING:
    import numpy as np

    from knowledge.embedding import Embedder

EXAMPLES_FILE = "example_vectors.npy"
MAX_EXAMPLES = 50  # per document: a list longer than this is a mistake, not more evidence


def example_questions(doc: dict[str, Any]) -> list[str]:
    """The document record's example questions (``metadata.questions``), cleaned."""
    raw = (doc.get("metadata") or {}).get("questions") or []
    if isinstance(raw, str):
        raw = [raw]
    return [" ".join(str(q).split()) for q in raw if str(q).strip()][:MAX_EXAMPLES]


def example_docs(docs: list[dict[str, Any]]) -> np.ndarray:
    """The document index of each example row."""
    import numpy as np

    return np.array([i for i, d in enumerate(docs) for _ in example_questions(d)], dtype=np.int64)


def encode_examples(docs: list[dict[str, Any]], embedder: Embedder) -> np.ndarray:
    import numpy as np

    texts = [q for d in docs for q in example_questions(d)]
    if not texts:
        return np.zeros((0, embedder.dimension), dtype=np.float32)
    return np.asarray(embedder.encode(texts), dtype=np.float32).reshape(len(texts), -1)


def read_examples(index_dir: Path, docs: list[dict[str, Any]], dimension: int, listed: bool) -> np.ndarray:
    """The stored example vectors; none for an index built before examples existed."""
    import numpy as np

    want = len(example_docs(docs))
    if not listed:
        if want:
            raise KnowledgeError(f"index at {index_dir} lists example questions but has no {EXAMPLES_FILE}: rebuild it")
        return np.zeros((0, dimension), dtype=np.float32)
    try:
        vecs = np.load(index_dir / EXAMPLES_FILE)
    except (ValueError, OSError) as err:
        raise KnowledgeError(f"index at {index_dir} is corrupt ({err}): rebuild it") from None
    if vecs.shape != (want, dimension):
        raise KnowledgeError(f"index at {index_dir}: {EXAMPLES_FILE} does not match its documents: rebuild it")
    return vecs
