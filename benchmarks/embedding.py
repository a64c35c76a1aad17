"""Embedding throughput and retrieval quality: our index build and ONNX backends vs bare encode.

    .venv/bin/python -m benchmarks.embedding --threads 1            # throughput, 256 MedQuAD chunks
    .venv/bin/python -m benchmarks.embedding --threads 1 --map      # + LiveQA MAP@10 per backend

Throughput rows, measured in one run on the same chunk texts and thread count:
- ``bare encode [torch]``: ``SentenceTransformer.encode`` (batch 64, normalised), the competitor;
- ``index build [torch]``: ``knowledge.index.build_index`` end to end (chunking, embedding without
  the cache, FAISS, BM25), as passages per second of the chunks it produced;
- ``embedder [onnx]`` / ``[onnx-int8]``: ``knowledge.onnx_embedder.OnnxEmbedder`` (the
  ``embedding.backend`` setting), fp32 and dynamic int8, with cosine agreement to the torch vectors,
  and ``index build [onnx-int8]``;
- ``embedder [openvino]`` / ``[openvino-int8]``: the same ONNX graphs run by the OpenVINO runtime
  (``openvino`` from requirements-dev.txt; a benchmark row only, not a product backend);
- sentence-transformers' own ``backend="onnx"`` / ``"openvino"`` when their packages import
  (they need optimum-onnx / optimum-intel, which pin transformers below this project's version).

``--map`` then builds one index per backend over the same corpus, the 1,065 judged LiveQA answers
plus a fixed random sample of MedQuAD answers (``--sample``, seed 0), with the protocol of
``benchmarks/retrieval_liveqa.py`` (128-token chunks, overlap 16, dense_scope lead), and prints
MAP@10 of dense-only and default hybrid retrieval for each. Embeddings go through the on-disk
cache (per backend), so a rerun only pays for what changed.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

BACKENDS = ("torch", "onnx", "onnx-int8")


def _medquad_docs(medquad: Path) -> list[Any]:
    from knowledge.sources.medquad import read_medquad

    part = medquad / "5_NIDDK_QA"
    docs, _ = read_medquad(part if part.is_dir() else medquad)
    return docs


def _st_native(backend: str, model_path: str) -> Any:
    """sentence-transformers' own backend loader; raises when optimum & co. are missing."""
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(model_path, device="cpu", backend=backend)  # type: ignore[arg-type]


class _OpenVinoSession:
    """Runs an ONNX graph with the OpenVINO runtime behind onnxruntime's ``session.run`` call."""

    def __init__(self, path: Path, threads: int) -> None:
        import openvino as ov

        core = ov.Core()
        self.compiled = core.compile_model(
            core.read_model(str(path)), "CPU", {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY"}
        )
        self.names = [i.get_any_name() for i in self.compiled.inputs]

    def run(self, _outputs: Any, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        return [self.compiled({n: feeds[n] for n in self.names})[self.compiled.output(0)]]


def _embedder(settings: Any, backend: str, threads: int) -> Any:
    from knowledge.onnx_embedder import OnnxEmbedder
    from knowledge.st_embedder import SentenceTransformerEmbedder

    if backend == "torch":
        return SentenceTransformerEmbedder(settings.embedding)
    if backend.startswith("openvino"):
        # OpenVINO reads our ONNX exports directly (optimum-intel would replace torch and
        # transformers): the same batching and pooling, another runtime.
        emb = _embedder(settings, "onnx" + backend[len("openvino") :], threads)
        graph = emb._encoder.path
        if backend.endswith("int8"):
            graph = graph.with_name(f"{graph.stem}.qint8.onnx")
        emb._encoder.session = _OpenVinoSession(graph, threads)
        emb._encoder.input_names = emb._encoder.session.names
        emb.name = emb.name.replace("[onnx", "[openvino")
        return emb
    variant: Any = backend
    return OnnxEmbedder(settings.embedding, variant, cache_dir=settings.data_dir / "cache" / "onnx", threads=threads)


def _timed(fn: Any) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def throughput(settings: Any, args: argparse.Namespace) -> list[tuple[str, float, str]]:
    from knowledge import index as kindex
    from knowledge.chunking import Chunker, embedding_text
    from knowledge.st_embedder import resolve_model_path

    torch_emb = _embedder(settings, "torch", args.threads)
    config = kindex.chunker_config(settings.knowledge, settings.embedding)
    chunker = Chunker(torch_emb.count_tokens, config, torch_emb.count_tokens_batch)
    docs: list[Any] = []
    chunks: list[Any] = []
    for d in _medquad_docs(args.medquad):
        got = chunker.chunk(d)
        if len(chunks) + len(got) > args.n:
            break
        docs.append(d)
        chunks.extend(got)
    texts = [embedding_text(c) for c in chunks]
    tokens = sum(torch_emb.count_tokens_batch(texts))
    print(
        f"{len(texts)} chunks from {len(docs)} MedQuAD answers, {tokens / len(texts):.0f} tokens/chunk on average; "
        f"{args.threads} threads; batch {settings.embedding.batch_size}; max_seq_length {torch_emb.max_seq_length}"
    )
    bs = settings.embedding.batch_size
    rows: list[tuple[str, float, str]] = []
    # The competitor: the bare SentenceTransformer, no wrapper of ours.
    st = torch_emb.model
    st.encode(texts[:16], batch_size=bs)  # warm-up
    ref, dt = _timed(lambda: np.asarray(st.encode(texts, batch_size=bs, normalize_embeddings=True)))
    rows.append(("bare encode [torch]", len(texts) / dt, f"{dt:.1f} s"))

    def build(embedder: Any, label: str) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            m, dt = _timed(lambda: kindex.build_index(docs, Path(tmp) / "idx", embedder, config=config))
        rows.append((f"index build [{label}] (chunk + embed + FAISS + BM25)", m.n_chunks / dt, f"{m.n_chunks} chunks"))

    build(torch_emb, "torch")
    for backend in [b for b in args.backends.split(",") if b and b != "torch"]:
        if backend in ("st-onnx", "st-openvino"):
            try:
                model = _st_native(backend[3:], resolve_model_path(settings.embedding.model))
            except Exception as err:  # absent optional packages are reported, not fatal
                rows.append((f"sentence-transformers backend={backend[3:]!r}", float("nan"), _short(err)))
                continue
            model.max_seq_length = torch_emb.max_seq_length
            model.encode(texts[:16], batch_size=bs)
            vecs, dt = _timed(lambda m=model: np.asarray(m.encode(texts, batch_size=bs, normalize_embeddings=True)))
        else:
            emb, _load_s = _timed(lambda b=backend: _embedder(settings, b, args.threads))
            emb.encode(texts[:16])
            vecs, dt = _timed(lambda e=emb: e.encode(texts))
        cos = np.sum(ref * vecs, axis=1)
        rows.append(
            (
                f"embedder [{backend}]",
                len(texts) / dt,
                f"{dt:.1f} s; cosine to torch mean {cos.mean():.4f}, min {cos.min():.4f}",
            )
        )
        if backend == "onnx-int8":
            build(emb, backend)
    return rows


def _short(err: BaseException) -> str:
    return "unavailable: " + " ".join(str(err).split())[:110]


def map_rows(settings: Any, args: argparse.Namespace, backends: list[str]) -> list[tuple[str, ...]]:
    from benchmarks.liveqa import mean_metrics, read_qrels, read_questions
    from knowledge import index as kindex
    from knowledge.chunking import ChunkerConfig
    from knowledge.embed_cache import CachedEmbedder
    from knowledge.hybrid import FusionWeights, HybridRetriever
    from knowledge.sources import load_sources

    judged, _ = load_sources([f"csv:{args.judged}"])
    medquad, _ = load_sources([f"medquad:{args.medquad}"])
    judged_ids = {d.id for d in judged}
    pool = sorted((d for d in medquad if d.id not in judged_ids), key=lambda d: d.id)
    sample = random.Random(0).sample(pool, min(args.sample, len(pool)))
    docs = judged + sample
    print(
        f"\nMAP corpus: {len(judged)} judged LiveQA answers + {len(sample)} MedQuAD answers sampled with seed 0 "
        f"from {len(pool)} = {len(docs)} documents; 128-token chunks, overlap 16, dense_scope lead"
    )
    questions = read_questions(args.questions)
    qrels = read_qrels(args.qrels)
    config = ChunkerConfig(128, 16, settings.embedding.max_seq_length)
    out: list[tuple[str, ...]] = []
    for backend in backends:
        emb = CachedEmbedder(_embedder(settings, backend, args.threads), settings.data_dir / "cache" / "embeddings")
        where = settings.data_dir / "bench" / f"embedding-map-{backend}"
        _m, build_s = _timed(
            lambda e=emb, w=where: kindex.build_index(docs, w, e, config=config, dense_scope="lead", show_progress=True)
        )
        retriever = HybridRetriever.open(where, emb, settings.knowledge)
        # Dense-only as in benchmarks/retrieval_liveqa.py: the plain signal, no reduced query, no sharing.
        no_reduce = replace(retriever.options, reduce_over_words=10**9, focus_share=0.0)
        configs = {
            "dense only": (FusionWeights(1, 0, 0, 0), no_reduce),
            "hybrid (default)": (retriever.weights, retriever.options),
        }
        for cname, (weights, options) in configs.items():
            retriever.weights, retriever.options = weights, options
            runs = {q.qid: retriever.ranked_doc_ids(q.original, 10) if q.original.strip() else [] for q in questions}
            m3, n3 = mean_metrics(runs, qrels, 3)
            m2, _ = mean_metrics(runs, qrels, 2)
            out.append(
                (
                    backend,
                    cname,
                    f"{m3['MAP@10']:.4f}",
                    f"{m2['MAP@10']:.4f}",
                    f"{m3['nDCG@10']:.4f}",
                    str(n3),
                    f"{build_s:.0f} s ({emb.misses} embedded, {emb.hits} cached)",
                )
            )
    return out


def main(argv: list[str] | None = None) -> int:
    import torch

    from chatbot.settings import load_settings

    settings = load_settings()
    shared = settings.shared_data
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--medquad", type=Path, default=shared / "MedQuAD")
    p.add_argument("--questions", type=Path, default=shared / "liveqa_med_dev" / "questions.xml")
    p.add_argument("--qrels", type=Path, default=shared / "liveqa_med_dev" / "qrels.txt")
    p.add_argument("--judged", type=Path, default=shared / "liveqa_med_dev" / "judged_answers.csv")
    p.add_argument("--n", type=int, default=256, help="number of chunks for the throughput rows")
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--backends", default="torch,onnx,onnx-int8,openvino,openvino-int8,st-onnx,st-openvino")
    p.add_argument("--no-throughput", action="store_true", help="skip the throughput rows")
    p.add_argument("--map", action="store_true", help="also measure LiveQA MAP@10 per backend")
    p.add_argument("--map-backends", default="torch,onnx-int8")
    p.add_argument("--sample", type=int, default=5000, help="MedQuAD answers added to the judged ones for --map")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)

    if not args.no_throughput:
        rows = throughput(settings, args)
        base = rows[0][1]
        print()
        print("| path | passages/s | vs bare torch encode | note |")
        print("|---|---|---|---|")
        for name, rate, note in rows:
            ratio = f"{rate / base:.2f}x" if rate == rate else "-"
            print(f"| {name} | {rate:.1f} | {ratio} | {note} |")
    if args.map:
        mrows = map_rows(settings, args, [b for b in args.map_backends.split(",") if b])
        print()
        print(
            "| backend | retrieval | MAP@10 grade>=3 | MAP@10 grade>=2 | nDCG@10 grade>=3 | questions | index build |"
        )
        print("|---|---|---|---|---|---|---|")
        for r in mrows:
            print("| " + " | ".join(r) + " |")
        ref = {r[1]: float(r[2]) for r in mrows if r[0] == "torch"}
        for r in mrows:
            if r[0] != "torch" and ref.get(r[1]):
                print(f"{r[0]} {r[1]}: MAP@10 (grade>=3) {100 * (float(r[2]) / ref[r[1]] - 1):+.1f}% vs torch")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
