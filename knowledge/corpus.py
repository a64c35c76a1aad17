"""An index directory's corpus in memory: reading it back, checking its embedder, BM25 tokens.

Shared by the builder (:mod:`knowledge.index`) and the retriever (:mod:`knowledge.hybrid`),
so neither imports the other to read what the other wrote (the index opens the retriever).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from knowledge.errors import KnowledgeError
from knowledge.examples import EXAMPLES_FILE, read_examples
from knowledge.manifest import Manifest

if TYPE_CHECKING:
    import numpy as np

    from knowledge.embedding import Embedder


def bm25_tokenize(texts: list[str]) -> Any:
    import bm25s
    import Stemmer

    return bm25s.tokenize(texts, stopwords="en", stemmer=Stemmer.Stemmer("english"), show_progress=False)


def bm25_query_tokens(text: str) -> list[str]:
    import bm25s
    import Stemmer

    out = bm25s.tokenize(
        [text], stopwords="en", stemmer=Stemmer.Stemmer("english"), return_ids=False, show_progress=False
    )
    return list(out[0]) if out else []


class Corpus:
    """Everything an index directory stores, in memory."""

    def __init__(
        self,
        docs: list[dict[str, Any]],
        chunks: list[dict[str, Any]],
        chunk_vecs: np.ndarray,
        question_vecs: np.ndarray,
        title_vecs: np.ndarray,
        texts: dict[str, str] | None = None,
        dense_rows: np.ndarray | None = None,
        example_vecs: np.ndarray | None = None,
    ) -> None:
        self.docs = docs
        self.example_vecs = example_vecs  # knowledge.examples: one row per example question
        self.dense_rows = dense_rows
        self.chunks = chunks
        self.chunk_vecs = chunk_vecs
        self.question_vecs = question_vecs
        self.title_vecs = title_vecs
        self.texts = texts or {}  # doc id -> full text, only known while building (for the corpus hash)


def read_corpus(index_dir: Path, manifest: Manifest | None = None) -> tuple[Manifest, Corpus]:
    import numpy as np

    manifest = manifest or Manifest.read(index_dir)
    manifest.verify_files(index_dir)
    try:
        docs = [json.loads(line) for line in (index_dir / "docs.jsonl").read_text(encoding="utf-8").splitlines()]
        chunks = [json.loads(line) for line in (index_dir / "chunks.jsonl").read_text(encoding="utf-8").splitlines()]
        cv = np.load(index_dir / "chunk_vectors.npy")
        qv = np.load(index_dir / "question_vectors.npy")
        tv = np.load(index_dir / "title_vectors.npy")
        rows = np.load(index_dir / "dense_rows.npy")
    except (ValueError, OSError) as err:
        raise KnowledgeError(f"index at {index_dir} is corrupt ({err}): rebuild it") from None
    if (
        len(docs) != manifest.n_documents
        or len(chunks) != manifest.n_chunks
        or cv.shape
        != (
            manifest.n_chunks,
            manifest.dimension,
        )
    ):
        raise KnowledgeError(f"index at {index_dir} does not match its manifest counts: rebuild it")
    if rows.size and (rows.min() < 0 or rows.max() >= len(chunks)):
        raise KnowledgeError(f"index at {index_dir} has dense rows outside its chunks: rebuild it")
    examples = read_examples(index_dir, docs, manifest.dimension, EXAMPLES_FILE in manifest.files)
    return manifest, Corpus(docs, chunks, cv, qv, tv, dense_rows=rows, example_vecs=examples)


def check_embedder(manifest: Manifest, embedder: Embedder, index_dir: Path) -> None:
    if manifest.embedder != embedder.name or manifest.dimension != embedder.dimension:
        raise KnowledgeError(
            f"index at {index_dir} was built with embedder {manifest.embedder} (dim {manifest.dimension}) but "
            f"the configured embedder is {embedder.name} (dim {embedder.dimension}): rebuild the index or "
            "change embedding.model"
        )
