"""Dense search at scale: exact (flat) vs IVF vs HNSW on the MedQuAD index and synthetic corpora.

    .venv/bin/python -m benchmarks.retrieval_scale                      # MedQuAD + 100k + 1M
    .venv/bin/python -m benchmarks.retrieval_scale --sizes 100000 --kinds flat,ivf

For every corpus: build time, index memory (serialized size), single-query latency p50/p95
(one thread, k=10) and recall@10 against exact inner-product search, side by side in one
table. Synthetic corpora are clustered unit vectors (a mixture of 1,000 directions with
noise), since uniformly random vectors have no neighbours worth finding; queries are
perturbed corpus points.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def synthetic(n: int, dim: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((1000, dim)).astype(np.float32)
    out = np.empty((n, dim), dtype=np.float32)
    step = 100_000
    for start in range(0, n, step):
        m = min(step, n - start)
        # Points spread around their centre with noise comparable to the centre's own norm.
        out[start : start + m] = centers[rng.integers(0, 1000, m)] + 0.6 * rng.standard_normal((m, dim)).astype(
            np.float32
        )
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out


def queries_from(vectors: np.ndarray, n: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    dim = vectors.shape[1]
    # Noise of norm ~0.3 (per-coordinate sd 0.3/sqrt(dim)): a query near, not on, a corpus point.
    q = vectors[rng.integers(0, len(vectors), n)] + (0.3 / np.sqrt(dim)) * rng.standard_normal((n, dim)).astype(
        np.float32
    )
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    return q.astype(np.float32)


def build(kind: str, vectors: np.ndarray, params: dict[str, int]) -> Any:
    import faiss

    n, dim = vectors.shape
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind == "ivf":
        nlist = params["nlist"]
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
        rng = np.random.default_rng(0)
        train = vectors[rng.choice(n, min(n, nlist * 50), replace=False)]
        index.train(train)
    else:
        index = faiss.IndexHNSWFlat(dim, params["M"], faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = params["efc"]
    index.add(vectors)
    return index


def measure(index: Any, queries: np.ndarray, truth: np.ndarray | None, k: int = 10) -> tuple[float, float, float]:
    lat = []
    found = []
    for q in queries:
        t0 = time.perf_counter()
        _, ids = index.search(q[None, :], k)
        lat.append(time.perf_counter() - t0)
        found.append(ids[0])
    lat.sort()
    p95 = lat[min(len(lat) - 1, round(0.95 * (len(lat) - 1)))]
    if truth is None:
        recall = 1.0
    else:
        recall = float(np.mean([len(set(f) & set(t)) / k for f, t in zip(found, truth, strict=True)]))
    return statistics.median(lat) * 1000, p95 * 1000, recall


def medquad_vectors(index_dir: Path) -> tuple[np.ndarray, np.ndarray] | None:
    path = index_dir / "chunk_vectors.npy"
    if not path.is_file():
        return None
    vecs = np.load(path)
    rows = np.load(index_dir / "dense_rows.npy") if (index_dir / "dense_rows.npy").is_file() else None
    if rows is not None:
        vecs = vecs[rows]
    return np.ascontiguousarray(vecs, dtype=np.float32), queries_from(vecs, 200)


def main(argv: list[str] | None = None) -> int:
    import faiss

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--index",
        type=Path,
        default=REPO / "data" / "bench" / "liveqa-index",
        help="MedQuAD index built by benchmarks.retrieval_liveqa (skipped if absent)",
    )
    p.add_argument("--sizes", default="100000,1000000", help="synthetic corpus sizes")
    p.add_argument("--kinds", default="flat,ivf,hnsw")
    p.add_argument("--queries", type=int, default=200)
    p.add_argument("--dim", type=int, default=384)
    p.add_argument("--threads", type=int, default=1, help="FAISS threads for queries (builds use all cores)")
    args = p.parse_args(argv)
    kinds = args.kinds.split(",")
    corpora: list[tuple[str, np.ndarray, np.ndarray]] = []
    mq = medquad_vectors(args.index)
    if mq is not None:
        corpora.append((f"MedQuAD ({len(mq[0])})", mq[0], mq[1][: args.queries]))
    for size in [int(s) for s in args.sizes.split(",") if s]:
        vecs = synthetic(size, args.dim)
        corpora.append((f"synthetic {size // 1000}k", vecs, queries_from(vecs, args.queries)))
    print("| corpus | index | settings | build s | memory MB | p50 ms | p95 ms | recall@10 |")
    print("|---|---|---|---|---|---|---|---|")
    for name, vecs, queries in corpora:
        n = len(vecs)
        flat = build("flat", vecs, {})
        faiss.omp_set_num_threads(args.threads)
        truth = flat.search(queries, 10)[1]
        configs: list[tuple[str, dict[str, int], list[tuple[str, int]]]] = []
        if "flat" in kinds:
            configs.append(("flat", {}, [("exact", 0)]))
        if "ivf" in kinds and n >= 10_000:
            nlist = int(4 * np.sqrt(n))
            configs.append(("ivf", {"nlist": nlist}, [("nprobe", v) for v in (8, 16, 32, 64)]))
        if "hnsw" in kinds:
            configs.append(
                ("hnsw", {"M": 32, "efc": 40 if n > 500_000 else 80}, [("efSearch", v) for v in (32, 64, 128)])
            )
        for kind, params, sweeps in configs:
            faiss.omp_set_num_threads(max(1, faiss.omp_get_max_threads()))
            t0 = time.perf_counter()
            index = flat if kind == "flat" else build(kind, vecs, params)
            build_s = 0.0 if kind == "flat" else time.perf_counter() - t0
            mem = len(faiss.serialize_index(index)) / 1e6
            faiss.omp_set_num_threads(args.threads)
            for knob, value in sweeps:
                if knob == "nprobe":
                    index.nprobe = value
                elif knob == "efSearch":
                    index.hnsw.efSearch = value
                p50, p95, recall = measure(index, queries, None if kind == "flat" else truth)
                desc = ", ".join(f"{k}={v}" for k, v in params.items()) + (f", {knob}={value}" if value else "")
                print(
                    f"| {name} | {kind} | {desc.strip(', ') or '-'} | {build_s:.1f} | {mem:.0f} | {p50:.2f} | "
                    f"{p95:.2f} | {recall:.3f} |",
                    flush=True,
                )
            if kind != "flat":
                del index
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
