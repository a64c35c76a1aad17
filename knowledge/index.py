"""Build, persist, load and extend the hybrid index (FAISS dense + bm25s lexical + stored questions).

An index directory holds::

    manifest.json        embedder, dimension, chunking, corpus hash, counts, file checksums
    docs.jsonl           one document a line (id, title, question, url, source, licence, metadata)
    chunks.jsonl         one chunk a line (doc index, position, text, title, heading, section)
    chunk_vectors.npy    dense vectors of the chunks' embedding text
    question_vectors.npy dense vectors of each document's stored question (zeros when none)
    title_vectors.npy    dense vectors of each document's title / focus
    dense.faiss          FAISS index over the chunk vectors (flat, IVF or HNSW)
    dense_rows.npy       which chunk each FAISS row is (all chunks, or first chunks with dense_scope=lead)
    bm25/                bm25s index over heading + chunk text (stemmed, stopwords removed)
    query_adapter.npy    optional: linear query adapter learned from the stored questions (knowledge.query_adapter)

Builds are written to a temporary sibling directory and renamed into place, so a killed
build leaves the previous index loadable (:mod:`knowledge.atomic_dir`, which also cleans up
after builds killed with SIGKILL). What goes into the directory is written by
:mod:`knowledge.index_files`. Embeddings go through the on-disk cache.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from knowledge.atomic_dir import _swap_into_place, recover_interrupted_build
from knowledge.chunking import Chunker, ChunkerConfig
from knowledge.corpus import Corpus, check_embedder, read_corpus
from knowledge.documents import Chunk, Document
from knowledge.errors import KnowledgeError
from knowledge.examples import encode_examples
from knowledge.index_files import _chunk_record, _doc_record, _encode_corpus, _write_corpus
from knowledge.manifest import Manifest, corpus_hash, file_sha256
from knowledge.query_adapter import ADAPTER_FILE, MIN_PAIRS

if TYPE_CHECKING:
    from chatbot.settings import EmbeddingSettings, KnowledgeSettings, Settings
    from knowledge.embedding import Embedder
    from knowledge.query_adapter import AdapterConfig, AdapterReport
    from knowledge.retrieval import Retriever
    from knowledge.sources import SkipReport

log = logging.getLogger(__name__)

DATA_FILES = ("docs.jsonl", "chunks.jsonl", "chunk_vectors.npy", "question_vectors.npy", "title_vectors.npy")


# ----------------------------------------------------------------------------- helpers


def embedding_cache_dir(settings: Settings) -> Path:
    return settings.data_dir / "cache" / "embeddings"


def open_embedder(settings: Settings, *, cached: bool = True) -> Embedder:
    """The configured embedder, wrapped in the on-disk cache (mock embedders are not cached)."""
    from knowledge.embedding import build_embedder

    emb = build_embedder(settings.embedding, cache_dir=settings.data_dir / "cache")
    if not cached or settings.embedding.mode == "mock":
        return emb
    from knowledge.embed_cache import CachedEmbedder

    return CachedEmbedder(emb, embedding_cache_dir(settings))


def lexical_text(chunk: Chunk) -> str:
    """BM25 sees the title and stored question too: the focus entity is the strongest lexical cue."""
    parts = [chunk.title, chunk.question or "", chunk.text]
    return "\n".join(p for p in parts if p)


def _fit_query_adapter(
    corpus: Corpus, directory: Path, config: AdapterConfig | None = None, *, min_pairs: int = MIN_PAIRS
) -> AdapterReport | None:
    """Train the query adapter from the corpus's stored questions and save it in ``directory``.

    None (and no file) when the corpus has fewer than ``min_pairs`` stored questions.
    """
    from knowledge.query_adapter import corpus_pairs, train_adapter

    queries, positives, pool, groups = corpus_pairs(corpus.docs, corpus.chunks, corpus.question_vecs, corpus.chunk_vecs)
    if len(queries) < min_pairs:
        return None
    adapter, report = train_adapter(queries, positives, pool, groups, config)
    adapter.save(directory / ADAPTER_FILE)
    log.info("query adapter: %s", report)
    return report


def adapt_index(
    index_dir: Path, config: AdapterConfig | None = None, *, min_pairs: int = MIN_PAIRS
) -> tuple[Manifest, AdapterReport]:
    """(Re)train the query adapter of an existing index from its stored vectors (nothing is re-embedded).

    The adapter file is replaced first, then the manifest listing its checksum, each by a rename.
    """
    index_dir = Path(index_dir)
    recover_interrupted_build(index_dir)
    manifest = Manifest.read(index_dir)
    # The old adapter is about to be replaced: a damaged or missing one must not stop its own fix.
    manifest.files.pop(ADAPTER_FILE, None)
    manifest, corpus = read_corpus(index_dir, manifest)
    report = _fit_query_adapter(corpus, index_dir, config, min_pairs=min_pairs)
    if report is None:
        n = sum(1 for d in corpus.docs if d.get("question"))
        raise KnowledgeError(
            f"index at {index_dir} has {n} documents with a stored question; a query adapter needs at least {min_pairs}"
        )
    manifest.files[ADAPTER_FILE] = file_sha256(index_dir / ADAPTER_FILE)
    manifest.query_adapter = report.as_dict()
    manifest.write(index_dir)
    return manifest, report


def _materialize(
    corpus: Corpus,
    out_dir: Path,
    *,
    embedder: Embedder,
    chunker_config: ChunkerConfig,
    faiss_kind: str,
    sources: list[str],
    skipped: dict[str, int],
    started: float,
    c_hash: str,
    dense_scope: str = "all",
    query_adapter: bool = False,
) -> Manifest:
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    recover_interrupted_build(out_dir)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-{os.getpid()}-", dir=out_dir.parent))
    try:
        files = _write_corpus(corpus, tmp, faiss_kind, dense_scope)
        adapter_report = _fit_query_adapter(corpus, tmp) if query_adapter else None
        if adapter_report is not None:
            files[ADAPTER_FILE] = file_sha256(tmp / ADAPTER_FILE)
        manifest = Manifest(
            embedder=embedder.name,
            dimension=embedder.dimension,
            max_seq_length=chunker_config.max_seq_length,
            chunk_tokens=chunker_config.chunk_tokens,
            chunk_overlap=chunker_config.overlap_tokens,
            faiss_index=faiss_kind,
            dense_scope=dense_scope,
            corpus_hash=c_hash,
            n_documents=len(corpus.docs),
            n_chunks=len(corpus.chunks),
            sources=sources,
            skipped=skipped,
            files=files,
            created=datetime.now(UTC).isoformat(timespec="seconds"),
            build_seconds=round(time.perf_counter() - started, 2),
            query_adapter=adapter_report.as_dict() if adapter_report is not None else {},
        )
        manifest.write(tmp)
        _swap_into_place(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


def chunker_config(knowledge: KnowledgeSettings, embedding: EmbeddingSettings) -> ChunkerConfig:
    return ChunkerConfig(knowledge.chunk_tokens, knowledge.chunk_overlap, embedding.max_seq_length)


# ----------------------------------------------------------------------------- public API


def build_index(
    docs: list[Document],
    out_dir: Path,
    embedder: Embedder,
    *,
    config: ChunkerConfig,
    faiss_index: str = "flat",
    dense_scope: str = "all",
    sources: list[str] | None = None,
    skipped: SkipReport | None = None,
    show_progress: bool = False,
    query_adapter: bool = False,
) -> Manifest:
    """Chunk, embed and index ``docs`` into ``out_dir`` (atomically replacing what was there).

    With ``query_adapter`` and at least ``MIN_PAIRS`` documents with a stored question, a query
    adapter is trained on them and saved with the index.
    """
    started = time.perf_counter()
    if not docs:
        raise KnowledgeError("no documents to index: every source was empty or skipped")
    ids = [d.id for d in docs]
    if len(set(ids)) != len(ids):
        raise KnowledgeError("duplicate document ids; load sources with knowledge.sources.load_sources")
    chunker = Chunker(embedder.count_tokens, config, getattr(embedder, "count_tokens_batch", None))
    chunks, chunk_vecs, q_vecs, t_vecs = _encode_corpus(docs, embedder, chunker, show_progress, dense_scope)
    index_of = {d.id: i for i, d in enumerate(docs)}
    records = [_doc_record(d) for d in docs]
    corpus = Corpus(
        records,
        [_chunk_record(c, index_of[c.doc_id]) for c in chunks],
        chunk_vecs,
        q_vecs,
        t_vecs,
        example_vecs=encode_examples(records, embedder),
    )
    return _materialize(
        corpus,
        out_dir,
        embedder=embedder,
        chunker_config=config,
        faiss_kind=faiss_index,
        sources=list(sources or []),
        skipped=dict(skipped.counts) if skipped else {},
        started=started,
        c_hash=corpus_hash([(d.id, d.text) for d in docs]),
        dense_scope=dense_scope,
        query_adapter=query_adapter,
    )


def add_documents(
    index_dir: Path,
    docs: list[Document],
    embedder: Embedder,
    *,
    sources: list[str] | None = None,
    show_progress: bool = False,
    query_adapter: bool | None = None,
) -> tuple[Manifest, int]:
    """Add new documents to an existing index, embedding only them (ids already present are skipped).

    Returns the new manifest and the number of documents added. Lexical and FAISS structures are
    rebuilt from the stored vectors (seconds); the expensive embeddings are not recomputed. The
    query adapter is retrained when ``query_adapter`` is true, or is None and the index had one.
    """
    import numpy as np

    started = time.perf_counter()
    recover_interrupted_build(Path(index_dir))
    manifest, corpus = read_corpus(index_dir)
    check_embedder(manifest, embedder, index_dir)
    known = {d["id"] for d in corpus.docs}
    new = [d for d in docs if d.id not in known]
    seen: set[str] = set()
    new = [d for d in new if not (d.id in seen or seen.add(d.id))]  # type: ignore[func-returns-value]
    if not new:
        return manifest, 0
    config = ChunkerConfig(manifest.chunk_tokens, manifest.chunk_overlap, manifest.max_seq_length)
    chunker = Chunker(embedder.count_tokens, config, getattr(embedder, "count_tokens_batch", None))
    chunks, cv, qv, tv = _encode_corpus(new, embedder, chunker, show_progress, manifest.dense_scope)
    base = len(corpus.docs)
    index_of = {d.id: base + i for i, d in enumerate(new)}
    new_records = [_doc_record(d) for d in new]
    old_examples = corpus.example_vecs if corpus.example_vecs is not None else np.zeros((0, manifest.dimension))
    merged = Corpus(
        corpus.docs + new_records,
        corpus.chunks + [_chunk_record(c, index_of[c.doc_id]) for c in chunks],
        np.concatenate([corpus.chunk_vecs, cv]),
        np.concatenate([corpus.question_vecs, qv]),
        np.concatenate([corpus.title_vecs, tv]),
        example_vecs=np.concatenate([old_examples, encode_examples(new_records, embedder)]).astype(np.float32),
    )
    # The corpus hash chains the old one with the new documents, since old texts are not stored whole.
    c_hash = corpus_hash([("__previous__", manifest.corpus_hash), *[(d.id, d.text) for d in new]])
    skipped = dict(manifest.skipped)
    skipped["ids already in the index"] = skipped.get("ids already in the index", 0) + (len(docs) - len(new))
    result = _materialize(
        merged,
        index_dir,
        embedder=embedder,
        chunker_config=config,
        faiss_kind=manifest.faiss_index,
        sources=sorted(set(manifest.sources) | set(sources or [])),
        skipped=skipped,
        started=started,
        c_hash=c_hash,
        dense_scope=manifest.dense_scope,
        query_adapter=bool(manifest.query_adapter) if query_adapter is None else query_adapter,
    )
    return result, len(new)


def open_retriever(index_dir: Path, embedder: Embedder, knowledge: KnowledgeSettings | None = None) -> Retriever:
    from knowledge.hybrid import HybridRetriever

    recover_interrupted_build(Path(index_dir))
    return HybridRetriever.open(Path(index_dir), embedder, knowledge)


def load_retriever(settings: Settings) -> Retriever:
    """The retriever over ``settings.index_dir`` with the configured embedder.

    Raises KnowledgeError when the index is missing, corrupt or built with another embedder.
    """
    return open_retriever(settings.index_dir, open_embedder(settings), settings.knowledge)


def source_fingerprint(specs: list[str]) -> str:
    """Cheap staleness check of sources: paths, sizes and modification times of their files."""
    import hashlib

    from knowledge.sources import parse_spec

    h = hashlib.sha256()
    for spec in specs:
        _kind, path = parse_spec(spec)
        h.update(spec.encode())
        if path is None or not path.exists():
            h.update(b"missing")
            continue
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for p in files:
            st = p.stat()
            h.update(f"{p}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()


def ensure_index(settings: Settings, *, show_progress: bool = False) -> Path:
    """Build the default index from ``settings.knowledge.sources`` unless an up-to-date one exists."""
    from knowledge.embedding import encode_queries
    from knowledge.sources import load_sources

    out = settings.index_dir
    recover_interrupted_build(out)
    specs = list(settings.knowledge.sources)
    fingerprint = source_fingerprint(specs)
    stamp = out / "sources.fingerprint"
    embedder = open_embedder(settings)
    # Makes (once) and loads the ONNX query encoder here, at start-up, not at the first question.
    encode_queries(embedder, ["warm up"])
    if stamp.is_file() and stamp.read_text(encoding="utf-8").strip() == fingerprint:
        try:
            manifest = Manifest.read(out)
            check_embedder(manifest, embedder, out)
            config = chunker_config(settings.knowledge, settings.embedding)
            if (manifest.chunk_tokens, manifest.chunk_overlap, manifest.faiss_index, manifest.dense_scope) == (
                config.chunk_tokens,
                config.overlap_tokens,
                settings.knowledge.faiss_index,
                settings.knowledge.dense_scope,
            ):
                return out
        except KnowledgeError:
            pass  # stale or damaged: rebuild below
    docs, report = load_sources(specs)
    build_index(
        docs,
        out,
        embedder,
        config=chunker_config(settings.knowledge, settings.embedding),
        faiss_index=settings.knowledge.faiss_index,
        dense_scope=settings.knowledge.dense_scope,
        sources=specs,
        skipped=report,
        show_progress=show_progress,
        query_adapter=settings.knowledge.query_adapter,
    )
    # Written after the swap: a stamp without a finished index never exists.
    stamp.write_text(fingerprint, encoding="utf-8")
    return out
