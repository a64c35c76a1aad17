"""Dense search at scale: exact (flat) vs IVF vs HNSW on MedQuAD vectors and synthetic corpora.

    .venv/bin/python -m benchmarks.retrieval_scale                      # MedQuAD + 100k + 1M
    .venv/bin/python -m benchmarks.retrieval_scale --sizes 100000 --kinds flat,ivf

For every corpus, side by side in one table: build time, index memory (serialized size, which
is what the index holds in RAM) and the process's resident memory after the build, single-query
latency p50/p95 (one thread, k=10) and recall@10 against exact inner-product search.

Corpora:
- ``MedQuAD``: the FAISS rows of the LiveQA benchmark index (``benchmarks.retrieval_liveqa``),
  i.e. the MiniLM vectors of the answers' first chunks;
- ``synthetic N``: N vectors drawn around the real MedQuAD chunk vectors' own structure. The
  real chunk vectors are clustered (spherical k-means, 256 clusters); each synthetic vector is
  a real vector moved a random fraction (0-50%) of the way towards another real vector of the
  same cluster, plus isotropic noise of norm ``--noise``, normalised. So the corpus keeps the
  real clusters' sizes, spread and anisotropy instead of well-separated Gaussian blobs (the
  previous generator, on which every setting scored recall 1.000).

Queries are real and held out: the MiniLM vectors of MedQuAD's stored questions (the index's
``question_vectors.npy``), which are never used to generate a corpus. A question vector sits
much farther from its nearest answer chunk (median cosine 0.80) than a perturbed corpus point.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def _normalise(x: np.ndarray) -> np.ndarray:
    x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return x


def cluster(real: np.ndarray, k: int = 256, seed: int = 0) -> np.ndarray:
    """Cluster id of every real vector (spherical k-means)."""
    import faiss

    km = faiss.Kmeans(real.shape[1], k, niter=20, seed=seed, spherical=True, verbose=False)
    km.train(real)
    return km.index.search(real, 1)[1][:, 0]


def synthetic(
    n: int, real: np.ndarray, labels: np.ndarray, *, noise: float = 0.3, seed: int = 0, step: int = 100_000
) -> np.ndarray:
    """``n`` unit vectors around ``real``'s cluster structure (see the module docstring)."""
    rng = np.random.default_rng(seed)
    order = np.argsort(labels, kind="stable")
    starts = np.searchsorted(labels[order], np.arange(labels.max() + 2))
    dim = real.shape[1]
    out = np.empty((n, dim), dtype=np.float32)
    for lo in range(0, n, step):
        m = min(step, n - lo)
        a = rng.integers(0, len(real), m)
        lab = labels[a]
        size = starts[lab + 1] - starts[lab]
        b = order[starts[lab] + (rng.random(m) * size).astype(np.int64)]
        t = rng.uniform(0.0, 0.5, (m, 1)).astype(np.float32)
        x = real[a] + t * (real[b] - real[a])
        x += (noise / np.sqrt(dim)) * rng.standard_normal((m, dim)).astype(np.float32)
        out[lo : lo + m] = _normalise(x)
    return out


def pick_queries(questions: np.ndarray, n: int, seed: int = 1) -> np.ndarray:
    keep = questions[np.linalg.norm(questions, axis=1) > 0]
    rng = np.random.default_rng(seed)
    return np.ascontiguousarray(keep[rng.choice(len(keep), min(n, len(keep)), replace=False)], dtype=np.float32)


def build(kind: str, vectors: np.ndarray, params: dict[str, int], centroids: np.ndarray | None = None) -> Any:
    """A FAISS index of ``kind`` over ``vectors``; IVF kinds reuse ``centroids`` when given."""
    import faiss

    n, dim = vectors.shape
    index: Any
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind in ("ivf", "ivf-sq8"):
        nlist = params["nlist"]
        quantizer = faiss.IndexFlatIP(dim)
        if centroids is not None:
            # A trained coarse quantizer with nlist entries: FAISS then skips k-means.
            quantizer.add(centroids)
        if kind == "ivf":
            index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        else:
            index = faiss.IndexIVFScalarQuantizer(
                quantizer, dim, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
            )
        rng = np.random.default_rng(0)
        # FAISS's minimum of 39 training points per list: k-means dominates a 1M build on 2 cores.
        index.train(vectors[rng.choice(n, min(n, nlist * 39), replace=False)])
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


def rss_mb() -> float:
    """Resident memory of this process now (Linux), in MB."""
    try:
        with open("/proc/self/statm") as f:
            import os

            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
    except OSError:
        return float("nan")


def configs_for(n: int, kinds: list[str], args: argparse.Namespace) -> list[tuple[str, dict[str, int], list[int]]]:
    out: list[tuple[str, dict[str, int], list[int]]] = []
    if "flat" in kinds:
        out.append(("flat", {}, [0]))
    nlist = int(4 * np.sqrt(n))
    for kind in ("ivf", "ivf-sq8"):
        if kind in kinds and n >= 10_000:
            out.append((kind, {"nlist": nlist}, [int(v) for v in args.nprobe.split(",")]))
    if "hnsw" in kinds and n <= args.hnsw_max:
        out.append(("hnsw", {"M": args.hnsw_m, "efc": args.hnsw_efc}, [int(v) for v in args.ef_search.split(",")]))
    return out


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--index",
        type=Path,
        default=REPO / "data" / "bench" / "liveqa-index",
        help="MedQuAD index built by benchmarks.retrieval_liveqa (its vectors feed every corpus)",
    )
    p.add_argument("--sizes", default="100000,1000000", help="synthetic corpus sizes")
    p.add_argument("--kinds", default="flat,ivf,ivf-sq8,hnsw")
    p.add_argument("--nprobe", default="16,32,64,128,256")
    p.add_argument("--ef-search", default="32,64,128")
    p.add_argument("--hnsw-m", type=int, default=32)
    p.add_argument("--hnsw-efc", type=int, default=128)
    p.add_argument("--hnsw-max", type=int, default=200_000, help="largest corpus that gets an HNSW build")
    p.add_argument("--noise", type=float, default=0.3, help="norm of the isotropic noise of synthetic vectors")
    p.add_argument("--queries", type=int, default=200)
    p.add_argument("--threads", type=int, default=1, help="FAISS threads for queries (builds use all cores)")
    return p


def main(argv: list[str] | None = None) -> int:
    import faiss

    args = _parser().parse_args(argv)
    kinds = args.kinds.split(",")
    if not (args.index / "chunk_vectors.npy").is_file():
        print(f"error: {args.index} has no vectors; run benchmarks.retrieval_liveqa first", file=sys.stderr)
        return 2
    chunk_vecs = np.ascontiguousarray(np.load(args.index / "chunk_vectors.npy"), dtype=np.float32)
    real = chunk_vecs[np.linalg.norm(chunk_vecs, axis=1) > 0]
    rows = np.load(args.index / "dense_rows.npy")
    queries = pick_queries(np.load(args.index / "question_vectors.npy"), args.queries)
    build_threads = faiss.omp_get_max_threads()
    t0 = time.perf_counter()
    labels = cluster(real)
    print(
        f"real vectors: {len(real)} MedQuAD chunk vectors clustered into 256 in {time.perf_counter() - t0:.1f} s; "
        f"{len(queries)} held-out MedQuAD question vectors as queries; k=10; queries on {args.threads} thread(s), "
        f"builds on {build_threads}; synthetic noise {args.noise}"
    )
    corpora: list[tuple[str, Any]] = [(f"MedQuAD ({len(rows)})", lambda: np.ascontiguousarray(chunk_vecs[rows]))]
    for size in [int(s) for s in args.sizes.split(",") if s]:
        corpora.append((f"synthetic {size // 1000}k", lambda s=size: synthetic(s, real, labels, noise=args.noise)))
    print()
    print("| corpus | index | settings | build s | index MB | RSS MB | p50 ms | p95 ms | recall@10 |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, make in corpora:
        # The corpus is made in the call, so nothing here keeps it alive once its rows are printed.
        _bench_corpus(name, make(), queries, kinds, args, build_threads)
    return 0


def _bench_corpus(
    name: str, vecs: np.ndarray, queries: np.ndarray, kinds: list[str], args: argparse.Namespace, build_threads: int
) -> None:
    """Build every index kind over one corpus and print a table row per search setting."""
    import faiss

    n = len(vecs)
    faiss.omp_set_num_threads(build_threads)
    t0 = time.perf_counter()
    flat = build("flat", vecs, {})
    flat_s = time.perf_counter() - t0
    truth = flat.search(queries, 10)[1]
    centroids = None
    for kind, params, sweep in configs_for(n, kinds, args):
        faiss.omp_set_num_threads(build_threads)
        t0 = time.perf_counter()
        shared = kind.startswith("ivf") and centroids is not None
        index: Any = flat if kind == "flat" else build(kind, vecs, params, centroids)
        build_s = flat_s if kind == "flat" else time.perf_counter() - t0
        if kind.startswith("ivf") and centroids is None:
            centroids = index.quantizer.reconstruct_n(0, index.nlist)
        mem = len(faiss.serialize_index(index)) / 1e6
        rss = rss_mb()
        faiss.omp_set_num_threads(args.threads)
        for value in sweep:
            knob = ""
            if kind.startswith("ivf"):
                index.nprobe = value
                knob = f"nprobe={value}"
            elif kind == "hnsw":
                index.hnsw.efSearch = value
                knob = f"efSearch={value}"
            p50, p95, recall = measure(index, queries, None if kind == "flat" else truth)
            desc = ", ".join([*(f"{k}={v}" for k, v in params.items()), *([knob] if knob else [])]) or "exact"
            desc += " (IVF centroids reused)" if shared else ""
            print(
                f"| {name} | {kind} | {desc} | {build_s:.1f} | {mem:.0f} | {rss:.0f} | {p50:.2f} | "
                f"{p95:.2f} | {recall:.3f} |",
                flush=True,
            )
        if index is not flat:
            del index
            gc.collect()
    del flat, vecs
    gc.collect()


if __name__ == "__main__":
    raise SystemExit(main())
