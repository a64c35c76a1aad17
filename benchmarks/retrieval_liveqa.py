"""Retrieval quality on TREC 2017 LiveQA-Med: BM25-only vs dense-only vs the default hybrid, one run.

    .venv/bin/python -m benchmarks.retrieval_liveqa                # shared data defaults
    .venv/bin/python -m benchmarks.retrieval_liveqa --run-out run.tsv

Builds (or reuses) an index over MedQuAD + the judged answers, runs every question as the
consumer sent it (subject + message) and as the NLM summary, and prints MAP@10, MRR@10, P@5
and nDCG@10 at grade >= 3 and >= 2, plus build time and query latency (query embedding
included, no embedding cache on the query side).

The index's query adapter (``knowledge.query_adapter``: a linear map on query vectors learned
from the index's own MedQuAD question/answer pairs, never from LiveQA) is trained when missing
(``--retrain-adapter`` to redo it); dense-only and the hybrid are reported with it too. The
default follows the setting (off).

Held-out check: the questions are split into two fixed halves (``benchmarks.liveqa.split_half``:
A = TQ1, TQ5, TQ9, ... for tuning; B = TQ3, TQ7, ... held out) and every system is reported on
A, B and all. Latency is reported per system as wall clock and as this process's CPU time (the
machine may be shared), and once more for the default with the PyTorch query path it replaced.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from knowledge.hybrid import FusionWeights, SearchOptions
    from knowledge.query_adapter import QueryAdapter

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.liveqa import LiveQuestion, mean_metrics, metrics, read_qrels, read_questions, split_half  # noqa: E402


def _args(argv: list[str] | None) -> argparse.Namespace:
    from chatbot.settings import load_settings

    settings = load_settings()
    shared = settings.shared_data
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--questions", type=Path, default=shared / "liveqa_med_dev" / "questions.xml")
    p.add_argument("--qrels", type=Path, default=shared / "liveqa_med_dev" / "qrels.txt")
    p.add_argument("--judged", type=Path, default=shared / "liveqa_med_dev" / "judged_answers.csv")
    p.add_argument("--medquad", type=Path, default=shared / "MedQuAD")
    p.add_argument("--index", type=Path, default=settings.data_dir / "bench" / "liveqa-index")
    p.add_argument("--rebuild", action="store_true", help="rebuild the index even if one exists")
    p.add_argument("--chunk-tokens", type=int, default=128)
    p.add_argument("--chunk-overlap", type=int, default=16)
    p.add_argument(
        "--dense-scope",
        choices=["all", "lead"],
        default="all",
        help="embed all chunks (the default configuration's knowledge.dense_scope) or only each answer's first "
        "chunk (three times fewer embeddings); an existing index of the other scope is rebuilt",
    )
    p.add_argument("--run-out", type=Path, help="write the default configuration's top 10 as qid<TAB>doc_id<TAB>rank")
    p.add_argument(
        "--retrain-adapter",
        action="store_true",
        help="retrain the index's query adapter from its stored MedQuAD questions (otherwise trained only if missing)",
    )
    return p.parse_args(argv)


def _build_if_needed(args: argparse.Namespace) -> float:
    from chatbot.settings import load_settings
    from knowledge import index as kindex
    from knowledge.chunking import ChunkerConfig
    from knowledge.manifest import Manifest
    from knowledge.sources import load_sources

    settings = load_settings()
    if (args.index / "manifest.json").is_file() and not args.rebuild:
        m = Manifest.read(args.index)
        if m.dense_scope != args.dense_scope:
            print(
                f"index {args.index} has dense_scope={m.dense_scope}: rebuilding with {args.dense_scope}",
                file=sys.stderr,
            )
            args.rebuild = True
            return _build_if_needed(args)
        print(
            f"reusing index {args.index} ({m.n_documents} docs, {m.n_chunks} chunks, built in {m.build_seconds} s)",
            file=sys.stderr,
        )
        return m.build_seconds
    specs = [f"medquad:{args.medquad}", f"csv:{args.judged}"]
    docs, report = load_sources(specs)
    print(f"{len(docs)} documents; {report}", file=sys.stderr)
    m = kindex.build_index(
        docs,
        args.index,
        kindex.open_embedder(settings),
        config=ChunkerConfig(args.chunk_tokens, args.chunk_overlap, settings.embedding.max_seq_length),
        dense_scope=args.dense_scope,
        sources=specs,
        skipped=report,
        show_progress=True,
    )
    return m.build_seconds


DENSE = "dense only (MiniLM, one 128-token passage per answer)"
BEST_CHUNK = "dense, best chunk of each answer"
HYBRID = "hybrid (default)"


class _LeadDense:
    """The issue's dense baseline: one vector per answer (its first 128-token chunk, heading
    included), exact inner product with the embedded question. From an index of either scope,
    so it stays the same competitor when the default embeds every chunk."""

    def __init__(self, retriever: Any) -> None:
        import numpy as np

        of_chunk = retriever.doc_of_chunk
        first = np.flatnonzero(np.r_[True, of_chunk[1:] != of_chunk[:-1]])  # chunks are stored per document
        self.vecs = np.ascontiguousarray(retriever.chunk_vecs[first], dtype=np.float32)
        self.doc_ids = [retriever.docs[d]["id"] for d in of_chunk[first]]
        self.retriever = retriever

    def ranked_doc_ids(self, text: str, k: int) -> list[str]:
        import numpy as np

        from knowledge.embedding import encode_queries

        scores = self.vecs @ encode_queries(self.retriever.embedder, [text])[0]
        top = np.argsort(-scores, kind="stable")[:k]  # ties in document order, as the retriever ranks them
        return [self.doc_ids[i] for i in top]


def _ensure_adapter(args: argparse.Namespace) -> tuple[QueryAdapter, str]:
    """The index's query adapter, trained when missing (or asked to), and a line describing it."""
    from knowledge.index import adapt_index
    from knowledge.manifest import Manifest
    from knowledge.query_adapter import ADAPTER_FILE, QueryAdapter

    manifest = Manifest.read(args.index)
    if args.retrain_adapter or ADAPTER_FILE not in manifest.files:
        manifest, _ = adapt_index(args.index)
    rep = manifest.query_adapter
    return QueryAdapter.load(args.index / ADAPTER_FILE), (
        f"query adapter: trained on {rep.get('train_pairs')} MedQuAD questions of the index (no LiveQA data) in "
        f"{rep.get('seconds')} s, best epoch {rep.get('best_epoch')}; held-out MedQuAD questions "
        f"({rep.get('heldout_pairs')}), MRR@all of the own answer {rep.get('heldout_mrr_before')} -> "
        f"{rep.get('heldout_mrr_after')}"
    )


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    from chatbot.settings import load_settings
    from knowledge.embedding import build_embedder
    from knowledge.hybrid import HybridRetriever
    from knowledge.index import embedding_cache_dir

    for path in (args.questions, args.qrels, args.judged, args.medquad):
        if not path.exists():
            print(f"error: {path} not found (see --help)", file=sys.stderr)
            return 2
    build_s = _build_if_needed(args)
    settings = load_settings()
    trained, adapter_note = _ensure_adapter(args)
    # Queries are embedded for real (no cache) so latency includes the query embedding.
    timed = _TimedEmbedder(build_embedder(settings.embedding, cache_dir=embedding_cache_dir(settings).parent))
    retriever = HybridRetriever.open(args.index, timed, settings.knowledge)
    questions = read_questions(args.questions)
    qrels = read_qrels(args.qrels)
    # One query before timing: loads (or, the first time ever, exports) the ONNX query encoder,
    # as an app does once at its first question.
    retriever.ranked_doc_ids("What are the symptoms of anemia?", 10)
    # The default uses the adapter only when knowledge.query_adapter is on (open() loads it then).
    default_w, default_o, adapter = retriever.weights, retriever.options, retriever.adapter
    configs, baseline = _configs(retriever, trained)
    res = _run_configs(configs, baseline, retriever, timed, questions, qrels)
    retriever.weights, retriever.options, retriever.adapter = default_w, default_o, adapter
    same = ""
    if settings.embedding.query_backend != "torch" and settings.embedding.mode != "mock":
        same = _torch_query_path(settings, retriever, questions, qrels, res.timing)
        retriever.embedder = timed
    _print_table(res.rows, args, retriever, build_s, res.timing[HYBRID]["wall"], questions)
    print(adapter_note)
    _print_halves(res.halves)
    _print_bootstrap(res.default_runs, res.baseline_runs, qrels)
    _print_latency(res.timing)
    if same:
        print(same)
    if args.run_out:
        with args.run_out.open("w", encoding="utf-8") as f:
            for qid, docs in sorted(res.default_runs.items()):
                for rank, d in enumerate(docs, 1):
                    f.write(f"{qid}\t{d}\t{rank}\n")
        print(f"wrote {args.run_out}", file=sys.stderr)
    return 0


_Config = tuple["FusionWeights", "SearchOptions", "QueryAdapter | None"]


def _configs(retriever: Any, trained: QueryAdapter) -> tuple[dict[str, _Config], _LeadDense]:
    """The compared systems (weights, options, adapter) by name, and the lead-chunk dense baseline."""
    from knowledge.hybrid import FusionWeights

    default_w, default_o, adapter = retriever.weights, retriever.options, retriever.adapter
    other = "hybrid without query adapter" if adapter is not None else "hybrid + query adapter"
    # The competitors are the plain signals: no reduced query form, no sharing between siblings.
    no_reduce = replace(default_o, reduce_over_words=10**9, focus_share=0.0)
    configs: dict[str, _Config] = {
        "BM25 only": (FusionWeights(0, 0, 0, 1), no_reduce, None),
        DENSE: (FusionWeights(1, 0, 0, 0), no_reduce, None),  # run by _LeadDense
        BEST_CHUNK: (FusionWeights(1, 0, 0, 0), no_reduce, None),
    }
    baseline = _LeadDense(retriever)
    configs["dense + query adapter"] = (FusionWeights(1, 0, 0, 0), no_reduce, trained)
    configs[other] = (default_w, default_o, None if adapter is not None else trained)
    configs[HYBRID] = (default_w, default_o, adapter)
    return configs, baseline


@dataclass
class _Results:
    rows: list[tuple[str, str, int, int, dict[str, float]]] = field(default_factory=list)
    halves: list[tuple[str, str, tuple[dict[str, float], int]]] = field(default_factory=list)
    timing: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    default_runs: dict[int, list[str]] = field(default_factory=dict)
    baseline_runs: dict[int, list[str]] = field(default_factory=dict)


def _run_configs(
    configs: dict[str, _Config],
    baseline: _LeadDense,
    retriever: Any,
    timed: _TimedEmbedder,
    questions: list[LiveQuestion],
    qrels: dict[int, dict[str, int]],
) -> _Results:
    """Every system on both question forms; latency is timed on the original questions only."""
    forms = {"original": lambda q: q.original, "NLM summary": lambda q: q.summary}
    res = _Results()
    for cname, (weights, options, cadapter) in configs.items():
        retriever.weights, retriever.options, retriever.adapter = weights, options, cadapter
        for fname, get in forms.items():
            runs: dict[int, list[str]] = {}
            t = res.timing.setdefault(cname, {"wall": [], "cpu": [], "embed": []})
            for q in questions:
                text = get(q)
                if not text.strip():
                    runs[q.qid] = []
                    continue
                timed.spent = 0.0
                t0, c0 = time.perf_counter(), time.process_time()
                runs[q.qid] = (baseline if cname == DENSE else retriever).ranked_doc_ids(text, 10)
                if fname == "original":
                    t["wall"].append(time.perf_counter() - t0)
                    t["cpu"].append(time.process_time() - c0)
                    t["embed"].append(timed.spent)
            if cname == HYBRID and fname == "original":
                res.default_runs = runs
            if cname == DENSE and fname == "original":
                res.baseline_runs = runs
            if fname == "original":
                for half in ("A", "B"):
                    part = {qid: r for qid, r in runs.items() if split_half(qid) == half}
                    res.halves.append((cname, half, mean_metrics(part, qrels, 3)))
                res.halves.append((cname, "all", mean_metrics(runs, qrels, 3)))
            for grade in (3, 2):
                m, n = mean_metrics(runs, qrels, grade)
                res.rows.append((cname, fname, grade, n, m))
    return res


def _torch_query_path(
    settings: Any,
    retriever: Any,
    questions: list[LiveQuestion],
    qrels: dict[int, dict[str, int]],
    timing: dict[str, dict[str, list[float]]],
) -> str:
    """The query path this replaced, same run: PyTorch embedding in the full passage window.

    Adds its latencies to ``timing`` and returns the line reporting its quality; leaves the
    retriever on the PyTorch embedder (the caller puts its own back).
    """
    from knowledge.embedding import build_embedder

    torch_emb = build_embedder(
        settings.embedding.model_copy(
            update={"query_backend": "torch", "query_max_seq_length": settings.embedding.max_seq_length}
        )
    )
    torch_timed = _TimedEmbedder(torch_emb)
    retriever.embedder = torch_timed
    import torch

    name = (
        f"hybrid, PyTorch query embedding ({settings.embedding.max_seq_length} tokens, "
        f"{torch.get_num_threads()} torch threads)"
    )
    t = timing.setdefault(name, {"wall": [], "cpu": [], "embed": []})
    retriever.ranked_doc_ids("What are the symptoms of anemia?", 10)
    runs = {}
    for q in questions:
        torch_timed.spent = 0.0
        t0, c0 = time.perf_counter(), time.process_time()
        runs[q.qid] = retriever.ranked_doc_ids(q.original, 10)
        t["wall"].append(time.perf_counter() - t0)
        t["cpu"].append(time.process_time() - c0)
        t["embed"].append(torch_timed.spent)
    m, _ = mean_metrics(runs, qrels, 3)
    return f"{name}: MAP@10 {m['MAP@10']:.3f}, MRR@10 {m['MRR@10']:.3f} (original, grade >= 3)"


class _TimedEmbedder:
    """Passes through to an embedder and adds up the time spent encoding."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.name, self.dimension, self.spent = inner, inner.name, inner.dimension, 0.0

    def count_tokens(self, text: str) -> int:
        return int(self.inner.count_tokens(text))

    def encode(self, texts: list[str], *, show_progress: bool = False) -> Any:
        t0 = time.perf_counter()
        out = self.inner.encode(texts, show_progress=show_progress)
        self.spent += time.perf_counter() - t0
        return out

    def encode_queries(self, texts: list[str]) -> Any:
        from knowledge.embedding import encode_queries

        t0 = time.perf_counter()
        out = encode_queries(self.inner, texts)
        self.spent += time.perf_counter() - t0
        return out


def _print_halves(halves: list[tuple[str, str, tuple[dict[str, float], int]]]) -> None:
    """Held-out check: tuning used half A only; half B must show the same gain over dense."""
    print()
    print("Held-out split (original question, grade >= 3; A = TQ1, TQ5, TQ9, ... tuned on; B = TQ3, TQ7, ... held out)")
    print()
    print("| retrieval | half | n | MAP@10 | MRR@10 | P@5 | nDCG@10 | MAP@10 vs dense |")
    print("|---|---|---|---|---|---|---|---|")
    dense = {h: mm["MAP@10"] for c, h, (mm, _) in halves if c == DENSE}
    for cname, half, (mm, n) in halves:
        ratio = f"x{mm['MAP@10'] / dense[half]:.2f}" if dense.get(half) else "-"
        print(
            f"| {cname} | {half} | {n} | {mm['MAP@10']:.3f} | {mm['MRR@10']:.3f} | {mm['P@5']:.3f} | "
            f"{mm['nDCG@10']:.3f} | {ratio} |"
        )


def _print_bootstrap(
    default: dict[int, list[str]], baseline: dict[int, list[str]], qrels: dict[int, dict[str, int]]
) -> None:
    """How far the MAP ratio could move with other questions like these: a paired bootstrap of
    per-question AP (grade >= 3), 10,000 resamples, fixed seed."""
    import numpy as np

    per_q = [
        (
            split_half(qid),
            metrics(default[qid], qrels[qid], 3)["MAP@10"],
            metrics(baseline[qid], qrels[qid], 3)["MAP@10"],
        )
        for qid in sorted(default)
        if qid in baseline and any(g >= 3 for g in qrels.get(qid, {}).values())
    ]
    rng = np.random.default_rng(0)
    print()
    print(
        "Paired bootstrap over questions (10,000 resamples of per-question AP, seed 0): MAP@10 of the default / the dense baseline"
    )
    print()
    print("| half | n | ratio | 95% interval | questions better / worse |")
    print("|---|---|---|---|---|")
    for half in ("A", "B", "all"):
        rows = [(a, b) for h, a, b in per_q if half in ("all", h)]
        if not rows:
            continue
        ours, base = np.array(rows).T
        pick = rng.integers(0, len(rows), size=(10_000, len(rows)))
        with np.errstate(divide="ignore", invalid="ignore"):
            lo, hi = np.nanpercentile(ours[pick].mean(1) / base[pick].mean(1), [2.5, 97.5])
        ratio = ours.mean() / base.mean() if base.mean() else float("nan")
        print(
            f"| {half} | {len(rows)} | x{ratio:.2f} | [{lo:.2f}, {hi:.2f}] | "
            f"{int((ours > base + 1e-9).sum())} / {int((ours < base - 1e-9).sum())} |"
        )


def _print_latency(timing: dict[str, dict[str, list[float]]]) -> None:
    """Per-query latency of each system on the original questions (query embedding included)."""
    print()
    print(
        "Query latency, original questions, one query at a time (wall clock; CPU time of this process). "
        "Competitors run the same pipeline with other weights, so they embed the query too."
    )
    print()
    print(
        "| retrieval | n | wall p50 ms | wall p95 ms | CPU p50 ms | CPU p95 ms | embedding p50 ms | embedding p95 ms |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for cname, t in timing.items():
        w, c, e = sorted(t["wall"]), sorted(t["cpu"]), sorted(t["embed"])
        if not w:
            continue
        print(
            f"| {cname} | {len(w)} | {_pct(w, 0.5):.1f} | {_pct(w, 0.95):.1f} | {_pct(c, 0.5):.1f} | "
            f"{_pct(c, 0.95):.1f} | {_pct(e, 0.5):.1f} | {_pct(e, 0.95):.1f} |"
        )


def _pct(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, round(q * (len(sorted_values) - 1)))] * 1000


def _print_table(
    rows: list,
    args: argparse.Namespace,
    retriever: object,
    build_s: float,
    latencies: list[float],
    questions: list[LiveQuestion],
) -> None:
    m = retriever.manifest  # type: ignore[attr-defined]
    print(
        f"LiveQA-Med {args.questions.parent.name}: {len(questions)} questions; corpus {m.n_documents} answers "
        f"-> {m.n_chunks} chunks ({m.chunk_tokens} tokens, dense_scope={m.dense_scope}); embedder {m.embedder}"
    )
    print(f"weights {retriever.weights.as_dict()}")  # type: ignore[attr-defined]
    print()
    print("| retrieval | question | grade | n | MAP@10 | MRR@10 | P@5 | nDCG@10 |")
    print("|---|---|---|---|---|---|---|---|")
    for cname, fname, grade, n, mm in rows:
        print(
            f"| {cname} | {fname} | >={grade} | {n} | {mm['MAP@10']:.3f} | {mm['MRR@10']:.3f} | "
            f"{mm['P@5']:.3f} | {mm['nDCG@10']:.3f} |"
        )
    dense = next(r[4]["MAP@10"] for r in rows if r[0] == DENSE and r[1] == "original" and r[2] == 3)
    hyb = next(r[4] for r in rows if r[0] == HYBRID and r[1] == "original" and r[2] == 3)
    print()
    print(
        f"default vs dense-only (original, grade>=3): MAP@10 x{hyb['MAP@10'] / dense:.2f} "
        f"(target >= 1.20), MRR@10 {hyb['MRR@10']:.3f} (target >= 0.62)"
        if dense
        else "dense MAP is 0"
    )
    lat = sorted(latencies)
    if lat:
        p95 = lat[min(len(lat) - 1, round(0.95 * (len(lat) - 1)))]
        print(
            f"index build {build_s:.1f} s (embeddings from cache when present); query latency incl. embedding: "
            f"p50 {statistics.median(lat) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms over {len(lat)} queries"
        )


if __name__ == "__main__":
    raise SystemExit(main())
