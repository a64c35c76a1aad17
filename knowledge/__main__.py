"""``python -m knowledge build | add | adapt | search | stats``: the knowledge base's command line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from chatbot.errors import HealthbotError

if TYPE_CHECKING:
    from chatbot.settings import Settings


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m knowledge", description="Build and query the healthbot knowledge index."
    )
    p.add_argument("--config", help="settings YAML (default: $HEALTHBOT_CONFIG)")
    sub = p.add_subparsers(dest="command", required=True)

    b = sub.add_parser("build", help="index sources into a new index directory (replaces it atomically)")
    b.add_argument(
        "--source",
        action="append",
        default=[],
        metavar="SPEC",
        help="starter | medquad:DIR | csv:FILE | jsonl:FILE | folder:DIR (repeatable; "
        "default: knowledge.sources from settings)",
    )
    b.add_argument("--out", type=Path, help="index directory (default: settings index_dir)")
    b.add_argument("--faiss", choices=["flat", "ivf", "hnsw"], help="FAISS index type (default: settings)")

    a = sub.add_parser("add", help="add documents to an existing index, embedding only the new ones")
    a.add_argument("--source", action="append", required=True, metavar="SPEC")
    a.add_argument("--index", type=Path, help="index directory (default: settings index_dir)")

    ad = sub.add_parser(
        "adapt", help="(re)train the query adapter of an existing index from its stored questions (no re-embedding)"
    )
    ad.add_argument("--index", type=Path, help="index directory (default: settings index_dir)")
    ad.add_argument("--epochs", type=int, default=None, help="training epochs (default: AdapterConfig)")

    s = sub.add_parser("search", help="search an index")
    s.add_argument("query")
    s.add_argument("--index", type=Path, help="index directory (default: settings index_dir)")
    s.add_argument("-k", type=int, default=5)
    s.add_argument("--json", action="store_true", help="print hits as JSON lines")

    t = sub.add_parser("stats", help="describe an index")
    t.add_argument("--index", type=Path, help="index directory (default: settings index_dir)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except HealthbotError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    from chatbot.settings import load_settings

    settings = load_settings(args.config)
    if args.command == "build":
        return _build(args, settings)
    if args.command == "add":
        return _add(args, settings)
    index_dir = args.index or settings.index_dir
    if args.command == "adapt":
        return _adapt(args, settings, index_dir)
    if args.command == "stats":
        return _stats(index_dir)
    return _search(args, settings, index_dir)


def _build(args: argparse.Namespace, settings: Settings) -> int:
    from knowledge import index as kindex
    from knowledge.sources import load_sources

    specs = args.source or list(settings.knowledge.sources)
    docs, report = load_sources(specs)
    print(f"{len(docs)} documents from {len(specs)} source(s); {report}", file=sys.stderr)
    out = args.out or settings.index_dir
    manifest = kindex.build_index(
        docs,
        out,
        kindex.open_embedder(settings),
        config=kindex.chunker_config(settings.knowledge, settings.embedding),
        faiss_index=args.faiss or settings.knowledge.faiss_index,
        sources=specs,
        skipped=report,
        show_progress=True,
        query_adapter=settings.knowledge.query_adapter,
    )
    print(
        f"indexed {manifest.n_documents} documents as {manifest.n_chunks} chunks in {out} "
        f"({manifest.build_seconds:.1f} s)"
    )
    return 0


def _add(args: argparse.Namespace, settings: Settings) -> int:
    from knowledge import index as kindex
    from knowledge.sources import load_sources

    docs, report = load_sources(args.source)
    out = args.index or settings.index_dir
    manifest, added = kindex.add_documents(
        out,
        docs,
        kindex.open_embedder(settings),
        sources=args.source,
        show_progress=True,
        # On: (re)train it; off: keep an adapter only if the index already had one.
        query_adapter=settings.knowledge.query_adapter or None,
    )
    print(
        f"added {added} new documents ({len(docs) - added} already indexed; {report}); "
        f"index now {manifest.n_documents} documents, {manifest.n_chunks} chunks"
    )
    return 0


def _adapt(args: argparse.Namespace, settings: Settings, index_dir: Path) -> int:
    from knowledge import index as kindex
    from knowledge.query_adapter import AdapterConfig

    config = AdapterConfig(epochs=args.epochs) if args.epochs is not None else AdapterConfig()
    _, rep = kindex.adapt_index(index_dir, config)
    print(
        f"query adapter trained on {rep.train_pairs} stored questions in {rep.seconds:.1f} s; held-out "
        f"({rep.heldout_pairs} questions) MRR of the own answer {rep.heldout_mrr_before:.3f} -> "
        f"{rep.heldout_mrr_after:.3f} (epoch {rep.best_epoch}); saved in {index_dir}"
    )
    if not settings.knowledge.query_adapter:
        print("note: knowledge.query_adapter is off in the settings, so searches will not use it")
    return 0


def _stats(index_dir: Path) -> int:
    from dataclasses import asdict

    from knowledge.manifest import Manifest

    m = Manifest.read(index_dir)
    m.verify_files(index_dir)
    info = asdict(m)
    info["files"] = len(m.files)
    info["size_mb"] = round(sum((index_dir / f).stat().st_size for f in m.files) / 1e6, 1)
    print(json.dumps(info, indent=2))
    return 0


def _search(args: argparse.Namespace, settings: Settings, index_dir: Path) -> int:
    from knowledge import index as kindex

    retriever = kindex.open_retriever(index_dir, kindex.open_embedder(settings), settings.knowledge)
    hits = retriever.search(args.query, args.k)
    threshold = settings.knowledge.min_score
    if args.json:
        for h in hits:
            print(
                json.dumps(
                    {
                        "doc_id": h.doc_id,
                        "chunk_id": h.chunk.id,
                        "score": round(h.score, 4),
                        "scores": h.scores,
                        "title": h.chunk.title,
                        "url": h.chunk.url,
                        "source": h.chunk.source,
                        "text": h.chunk.text,
                    },
                    ensure_ascii=False,
                )
            )
        return 0
    if not hits or hits[0].score < threshold:
        print(f"(no source scores above knowledge.min_score={threshold}: nothing relevant)")
    for i, h in enumerate(hits, 1):
        mark = "" if h.score >= threshold else "  [below threshold]"
        print(f"{i}. {h.score:.3f} {h.chunk.title} [{h.doc_id}]{mark}")
        print(f"   {h.chunk.url}  {' '.join(f'{k}={v:.2f}' for k, v in h.scores.items())}")
        print(f"   {h.chunk.text[:200]}{'...' if len(h.chunk.text) > 200 else ''}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
