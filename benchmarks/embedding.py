"""Embedding throughput: our index build vs bare ``SentenceTransformer.encode`` on the same chunks.

    .venv/bin/python -m benchmarks.embedding                  # 512 MedQuAD chunks
    .venv/bin/python -m benchmarks.embedding --n 2000 --backends torch,onnx,onnx-int8

Rows, measured in one run on the same texts and thread count:
- ``bare encode``: ``SentenceTransformer.encode`` (batch 64, normalised), the competitor;
- ``index build``: ``knowledge.index.build_index`` end to end (chunking, embedding without the
  cache, FAISS, BM25), as passages per second of the chunks it produced;
- other sentence-transformers backends (``onnx``, ``onnx-int8``, ``openvino``) when their
  packages are installed, with cosine agreement to the PyTorch vectors.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def _docs(medquad: Path, n_chunks: int):  # type: ignore[no-untyped-def]
    from knowledge.sources.medquad import read_medquad

    docs, _ = read_medquad(medquad / "5_NIDDK_QA") if (medquad / "5_NIDDK_QA").is_dir() else read_medquad(medquad)
    return docs


def _st_backend(backend: str, model_path: str, threads: int):  # type: ignore[no-untyped-def]
    from sentence_transformers import SentenceTransformer

    if backend == "torch":
        return SentenceTransformer(model_path, device="cpu")
    if backend == "onnx":
        return SentenceTransformer(model_path, device="cpu", backend="onnx")
    if backend == "onnx-int8":
        from sentence_transformers import export_dynamic_quantized_onnx_model

        tmp = Path(tempfile.mkdtemp(prefix="st-onnx-"))
        model = SentenceTransformer(model_path, device="cpu", backend="onnx")
        model.save(str(tmp))
        export_dynamic_quantized_onnx_model(model, "avx2", str(tmp))
        return SentenceTransformer(
            str(tmp), device="cpu", backend="onnx", model_kwargs={"file_name": "onnx/model_qint8_avx2.onnx"}
        )
    if backend == "openvino":
        return SentenceTransformer(model_path, device="cpu", backend="openvino")
    raise ValueError(backend)


def main(argv: list[str] | None = None) -> int:
    import torch

    from chatbot.settings import load_settings
    from knowledge import index as kindex
    from knowledge.chunking import Chunker, embedding_text
    from knowledge.st_embedder import SentenceTransformerEmbedder, resolve_model_path

    settings = load_settings()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--medquad", type=Path, default=settings.shared_data / "MedQuAD")
    p.add_argument("--n", type=int, default=512, help="number of chunks")
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--backends", default="torch,onnx,onnx-int8,openvino")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)

    embedder = SentenceTransformerEmbedder(settings.embedding)
    config = kindex.chunker_config(settings.knowledge, settings.embedding)
    chunker = Chunker(embedder.count_tokens, config, embedder.count_tokens_batch)
    docs, chunks = [], []
    for d in _docs(args.medquad, args.n):
        got = chunker.chunk(d)
        if len(chunks) + len(got) > args.n:
            break
        docs.append(d)
        chunks.extend(got)
    texts = [embedding_text(c) for c in chunks]
    tokens = sum(embedder.count_tokens(t) for t in texts)
    print(
        f"{len(texts)} chunks from {len(docs)} MedQuAD answers, {tokens / len(texts):.0f} tokens/chunk on average; "
        f"{args.threads} threads; batch {settings.embedding.batch_size}; max_seq_length {embedder.max_seq_length}"
    )
    model_path = resolve_model_path(settings.embedding.model)
    rows: list[tuple[str, float, str]] = []
    reference = None
    for backend in [b for b in args.backends.split(",") if b]:
        try:
            model = _st_backend(backend, model_path, args.threads)
        except Exception as err:  # a backend whose packages are absent is reported, not fatal
            rows.append((f"bare encode [{backend}]", float("nan"), f"unavailable: {' '.join(str(err).split())[:90]}"))
            continue
        model.max_seq_length = embedder.max_seq_length
        model.encode(texts[:16], batch_size=settings.embedding.batch_size)  # warm-up
        t0 = time.perf_counter()
        vecs = model.encode(texts, batch_size=settings.embedding.batch_size, normalize_embeddings=True)
        rate = len(texts) / (time.perf_counter() - t0)
        note = ""
        if backend == "torch":
            reference = np.asarray(vecs)
        elif reference is not None:
            cos = np.sum(reference * np.asarray(vecs), axis=1)
            note = f"cosine to torch: mean {cos.mean():.4f}, min {cos.min():.4f}"
        rows.append((f"bare encode [{backend}]", rate, note))
        if backend == "torch":
            with tempfile.TemporaryDirectory() as tmp:
                t0 = time.perf_counter()
                m = kindex.build_index(docs, Path(tmp) / "idx", embedder, config=config)
                build_s = time.perf_counter() - t0
            rows.append(
                (
                    "index build (chunk + embed + FAISS + BM25)",
                    m.n_chunks / build_s,
                    f"{m.n_chunks} chunks in {build_s:.1f} s",
                )
            )
    base = next((r[1] for r in rows if r[0] == "bare encode [torch]"), float("nan"))
    print()
    print("| path | passages/s | vs bare torch encode | note |")
    print("|---|---|---|---|")
    for name, rate, note in rows:
        ratio = rate / base if base == base and rate == rate else float("nan")
        print(f"| {name} | {rate:.1f} | {ratio:.2f}x | {note} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
