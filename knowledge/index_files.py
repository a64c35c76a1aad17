"""What an index build writes: chunked and embedded documents, their records, FAISS and BM25.

The directory layout is described in :mod:`knowledge.index`; this module fills a directory,
:mod:`knowledge.atomic_dir` puts it in place.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from knowledge.chunking import Chunker, embedding_text
from knowledge.corpus import Corpus, bm25_tokenize
from knowledge.documents import Chunk, Document
from knowledge.examples import EXAMPLES_FILE, example_questions
from knowledge.manifest import file_sha256

if TYPE_CHECKING:
    import numpy as np

    from knowledge.embedding import Embedder


def _faiss_index(vectors: np.ndarray, kind: str) -> Any:
    import faiss
    import numpy as np

    n, dim = vectors.shape
    index: Any
    if kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
    elif kind == "ivf" and n >= 2 * 39:
        nlist = max(1, min(int(4 * np.sqrt(n)), n // 39))
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        index.train(vectors)
    else:  # flat, or too few vectors to train IVF centroids
        index = faiss.IndexFlatIP(dim)
    if n:
        index.add(vectors)
    return index


def _doc_record(doc: Document) -> dict[str, Any]:
    d = asdict(doc)
    d.pop("text")
    d["metadata"] = {k: v for k, v in doc.metadata.items() if k != "sections"}
    return d


def _chunk_record(chunk: Chunk, doc_index: int) -> dict[str, Any]:
    return {
        "d": doc_index,
        "p": chunk.position,
        "text": chunk.text,
        "title": chunk.title,
        "heading": chunk.metadata.get("heading", ""),
        "section": chunk.metadata.get("section", ""),
    }


def _encode_corpus(
    docs: list[Document], embedder: Embedder, chunker: Chunker, show_progress: bool, dense_scope: str = "all"
) -> tuple[list[Chunk], np.ndarray, np.ndarray, np.ndarray]:
    import numpy as np

    chunks = chunker.chunk_all(docs)
    dim = embedder.dimension
    if dense_scope == "lead":
        # Only each document's first chunk is embedded; later chunks share its vector (they stay
        # searchable through BM25), which halves embedding time on long-answer corpora.
        lead_rows = [i for i, c in enumerate(chunks) if c.position == 0]
        lead_vecs = embedder.encode([embedding_text(chunks[i]) for i in lead_rows], show_progress=show_progress)
        row_of_doc = {chunks[i].doc_id: r for r, i in enumerate(lead_rows)}
        chunk_vecs = lead_vecs.reshape(-1, dim)[[row_of_doc[c.doc_id] for c in chunks]]
    else:
        chunk_vecs = embedder.encode([embedding_text(c) for c in chunks], show_progress=show_progress)
    with_q = [i for i, d in enumerate(docs) if d.question]
    question_vecs = np.zeros((len(docs), dim), dtype=np.float32)
    if with_q:
        question_vecs[with_q] = embedder.encode([docs[i].question or "" for i in with_q])
    title_vecs = np.zeros((len(docs), dim), dtype=np.float32)
    with_t = [i for i, d in enumerate(docs) if d.title]
    if with_t:
        title_vecs[with_t] = embedder.encode([docs[i].title for i in with_t])
    return chunks, chunk_vecs.reshape(-1, dim), question_vecs, title_vecs


def _dense_rows(corpus: Corpus, dense_scope: str) -> np.ndarray:
    """Chunk rows that own a vector in FAISS (all, or the first chunk of each document)."""
    import numpy as np

    if dense_scope == "lead":
        return np.array([i for i, c in enumerate(corpus.chunks) if c["p"] == 0], dtype=np.int64)
    return np.arange(len(corpus.chunks), dtype=np.int64)


def _write_corpus(corpus: Corpus, directory: Path, faiss_kind: str, dense_scope: str = "all") -> dict[str, str]:
    import bm25s
    import faiss
    import numpy as np

    with (directory / "docs.jsonl").open("w", encoding="utf-8") as f:
        for d in corpus.docs:
            f.write(json.dumps(d, ensure_ascii=False) + "\n")
    with (directory / "chunks.jsonl").open("w", encoding="utf-8") as f:
        for c in corpus.chunks:
            f.write(json.dumps(c, ensure_ascii=False) + "\n")
    np.save(directory / "chunk_vectors.npy", corpus.chunk_vecs.astype(np.float32))
    np.save(directory / "question_vectors.npy", corpus.question_vecs.astype(np.float32))
    np.save(directory / "title_vectors.npy", corpus.title_vecs.astype(np.float32))
    dense_rows = _dense_rows(corpus, dense_scope)
    np.save(directory / "dense_rows.npy", dense_rows)
    vecs = np.ascontiguousarray(corpus.chunk_vecs[dense_rows], dtype=np.float32)
    faiss.write_index(_faiss_index(vecs, faiss_kind), str(directory / "dense.faiss"))
    # Example questions join the lexical text of their document's first chunk (doc2query style):
    # patients' words ("bitten tongue", "wet bed") that the topic's prose does not use lift the
    # document, while its other chunks keep competing on their own words (added to every chunk,
    # they hid a topic's "When to seek care" chunk behind its other sections).
    asked = {i: " ".join(example_questions(d)) for i, d in enumerate(corpus.docs) if example_questions(d)}
    lex = []
    for c in corpus.chunks:
        extra = asked.get(c["d"], "") if c["p"] == 0 else ""
        parts = (c["title"], corpus.docs[c["d"]].get("question") or "", extra, c["text"])
        lex.append("\n".join(p for p in parts if p))
    retriever = bm25s.BM25()
    if lex:
        retriever.index(bm25_tokenize(lex), show_progress=False)
    (directory / "bm25").mkdir()
    retriever.save(str(directory / "bm25"), show_progress=False)
    if corpus.example_vecs is not None and len(corpus.example_vecs):
        np.save(directory / EXAMPLES_FILE, corpus.example_vecs.astype(np.float32))
    files = {}
    for path in sorted(directory.rglob("*")):
        if path.is_file() and path.name != "manifest.json":
            files[path.relative_to(directory).as_posix()] = file_sha256(path)
    return files
