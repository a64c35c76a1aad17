"""Base model versus base + adapter on the held-out test split, with the same passages.

Metrics per example: answer NLL (mean per-token negative log-likelihood of the reference
target + EOS given the prompt), ROUGE-L and embedding cosine similarity of the generation
against the reference, repeated-4-gram rate, whether generation stopped on its own (EOS before
``max_new_tokens``), whether it cites a passage ([n] with a valid n) and the gold one. Decoding is
plain greedy, without the run-time repetition penalty or n-gram ban, so the numbers show what
the weights do, not what the decoding guards hide. Differences come with paired-bootstrap
intervals.

Generation is batched and shares work across prompts (:mod:`finetune.batched_scorer`).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from finetune.batched_scorer import BatchedScorer, Generation, common_prefix
from finetune.config import EvalConfig, FinetuneError

if TYPE_CHECKING:
    from chatbot.settings import Settings

log = logging.getLogger(__name__)

_CITE = re.compile(r"\[(\d+)\]")
_WORD = re.compile(r"\w+")
_DECLINE = re.compile(
    r"\b(?:don'?t|do not|doesn'?t|does not|did not|cannot|can'?t)\s+(?:cover|answer|contain|mention|include|find|say)"
    r"|\bnot (?:covered|mentioned|included)\b|\bno (?:information|mention)\b",
    re.IGNORECASE,
)

# metric -> (label, higher is better?)
METRICS: dict[str, tuple[str, bool | None]] = {
    "nll": ("answer NLL (nats/token, lower is better)", False),
    "rouge_l": ("ROUGE-L F1 vs reference", True),
    "embedding_similarity": ("embedding cosine similarity vs reference (MiniLM)", True),
    "repetition": ("repeated 4-gram rate (lower is better)", False),
    "stopped": ("share stopping on their own (EOS before the cap)", True),
    "cites": ("share citing a passage [n]", True),
    "cites_gold": ("share citing the gold passage (answerable questions)", True),
    "declines": ("share saying the sources don't cover it (no-source questions)", True),
    "words": ("words per answer", None),
}


def repetition_rate(text: str, n: int = 4) -> float:
    """Share of the word n-grams that repeat an earlier one (0 = no repetition)."""
    words = _WORD.findall(text.lower())
    grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
    if not grams:
        return 0.0
    return 1.0 - len(set(grams)) / len(grams)


def cited_numbers(text: str, num_passages: int) -> set[int]:
    return {int(m) for m in _CITE.findall(text) if 1 <= int(m) <= num_passages}


def strip_citations(text: str) -> str:
    return " ".join(_CITE.sub("", text).split())


def score_model(
    model: Any,
    tokenizer: Any,
    examples: Sequence[dict[str, Any]],
    cfg: EvalConfig,
    label: str,
    cache: ResultCache | None = None,
) -> tuple[list[Generation], float]:
    """Generations + NLL for every example (batched; cached ones are not run again), and the
    generation seconds they took."""
    from tqdm.auto import tqdm

    from finetune.train import prompt_text

    model.eval()
    todo = [i for i, ex in enumerate(examples) if cache is None or ex["id"] not in cache.done]
    results: dict[int, tuple[Generation, float]] = {}
    if cache is not None:
        results = {i: cache.done[ex["id"]] for i, ex in enumerate(examples) if ex["id"] in cache.done}
        if results:
            log.info("%s: %d of %d results reused from %s", label, len(results), len(examples), cache.path)
    if todo:
        prompts = {
            i: tokenizer(prompt_text(tokenizer, examples[i]["messages"]), add_special_tokens=False)["input_ids"]
            for i in todo
        }
        refs = {
            i: tokenizer(examples[i]["target"], add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
            for i in todo
        }
        plist = list(prompts.values())
        scorer = BatchedScorer(model, tokenizer.eos_token_id, tokenizer.pad_token_id, plist[0][: common_prefix(plist)])
        scorer.decode = tokenizer.decode
        # Similar lengths in a batch waste less padding; results go back to their examples.
        order = sorted(todo, key=lambda i: len(prompts[i]))
        for start in tqdm(range(0, len(order), cfg.batch_size), desc=f"evaluating {label}", unit="batch"):
            idx = order[start : start + cfg.batch_size]
            t0 = time.perf_counter()
            gens = scorer.run([prompts[i] for i in idx], [refs[i] for i in idx], cfg.max_new_tokens)
            took = time.perf_counter() - t0
            if cache is not None:
                cache.add([examples[i]["id"] for i in idx], gens, took)
            for i, g in zip(idx, gens, strict=True):
                results[i] = (g, took / len(idx))
    ordered = [results[i] for i in range(len(examples))]
    return [g for g, _ in ordered], sum(sec for _, sec in ordered)


def example_metrics(ex: dict[str, Any], gen: Generation, num_passages: int) -> dict[str, float | None]:
    from chatbot.evaluation.metrics import rouge_l

    text = strip_citations(gen.text)
    cited = cited_numbers(gen.text, num_passages)
    answerable = not ex["no_source"]
    return {
        "nll": gen.nll,
        "rouge_l": rouge_l(text, ex["reference"]),
        "repetition": repetition_rate(gen.text),
        "stopped": float(gen.stopped),
        "cites": float(bool(cited)),
        "cites_gold": float(ex["gold_index"] in cited) if answerable else None,
        "declines": None if answerable else float(bool(_DECLINE.search(gen.text))),
        "words": float(len(text.split())),
    }


def _fmt(v: float | None, metric: str) -> str:
    if v is None:
        return "–"
    return f"{v:.1f}" if metric == "words" else f"{v:.3f}"


def markdown_table(summary: dict[str, Any]) -> str:
    lines = [
        f"Held-out {summary['split']} split: {summary['n']} questions ({summary['n_no_source']} with no relevant "
        f"passage), {summary['num_passages']} passages each, greedy decoding, max {summary['max_new_tokens']} new tokens.",
        "",
        "| metric | base | base + adapter | difference (95% CI) |",
        "|---|---|---|---|",
    ]
    for key, (label, _) in METRICS.items():
        m = summary["metrics"].get(key)
        if not m:
            continue
        ci = m.get("ci")
        diff = f"{m['diff']:+.3f}" + (f" [{ci[0]:+.3f}, {ci[1]:+.3f}]" if ci else "")
        lines.append(f"| {label} | {_fmt(m['base'], key)} | {_fmt(m['adapter'], key)} | {diff} |")
    lines.append("")
    lines.append(
        f"Generation time: base {summary['seconds']['base']:.0f} s, adapter {summary['seconds']['adapter']:.0f} s "
        f"(batch {summary['batch_size']}, {summary['device']})."
    )
    return "\n".join(lines)


def summarize(rows: list[dict[str, Any]], resamples: int) -> dict[str, Any]:
    from chatbot.evaluation.bootstrap import paired_bootstrap

    out: dict[str, Any] = {}
    for key in METRICS:
        a = [r["base"][key] for r in rows]
        b = [r["adapter"][key] for r in rows]
        d = paired_bootstrap(key, a, b, resamples=resamples)
        if d is None:
            continue
        out[key] = {"base": d.mean_a, "adapter": d.mean_b, "diff": d.diff, "ci": [d.low, d.high], "n": d.n}
    return out


def sample_indices(total: int, limit: int | None) -> list[int]:
    """A fixed, nested sample of the split: the first ``limit`` of one seeded permutation, so a
    smaller evaluation is a subset of a larger one (and their cached results are shared). The
    split is stored sorted by source; its first rows would all come from one or two NIH sites."""
    import random

    order = list(range(total))
    random.Random(0).shuffle(order)
    return sorted(order if limit is None else order[:limit])


class ResultCache:
    """Per-example results of one model on one dataset, appended batch by batch.

    Keyed by the model's identity (base weights + adapter weights), the dataset manifest and the
    generation cap. An interrupted evaluation keeps what it finished, a larger sample reuses a
    smaller one, and comparing several adapters runs the base once.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.done: dict[str, tuple[Generation, float]] = {}
        try:
            lines = path.read_text().splitlines()
        except OSError:
            lines = []
        for line in lines:
            try:
                row = json.loads(line)
                self.done[row["id"]] = (Generation(**row["generation"]), float(row["seconds"]))
            except (ValueError, KeyError, TypeError):
                continue  # a line cut by a kill mid-write

    def add(self, ids: Sequence[str], gens: Sequence[Generation], seconds: float) -> None:
        from dataclasses import asdict

        self.path.parent.mkdir(parents=True, exist_ok=True)
        share = seconds / max(1, len(ids))
        with self.path.open("a", encoding="utf-8") as f:
            for i, g in zip(ids, gens, strict=True):
                f.write(json.dumps({"id": i, "generation": asdict(g), "seconds": share}) + "\n")
                self.done[i] = (g, share)


def cache_for(settings: Settings, key: dict[str, Any]) -> ResultCache:
    import hashlib

    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]
    return ResultCache(settings.data_dir / "finetune" / "eval_cache" / f"{key['model']}-{digest}.jsonl")


def file_sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def evaluate(cfg: EvalConfig, settings: Settings) -> dict[str, Any]:
    """Evaluate, write ``<output>.json``, ``<output>.md`` and ``<output>_examples.jsonl``, return the report.

    Base-model results are cached under ``<data_dir>/finetune/eval_cache`` keyed by the base
    weights, the dataset, the sample and the generation cap, so comparing several adapters (or
    scoring the base while an adapter is still training, ``--base-only true``) runs the base once.
    """
    import torch

    from finetune.metadata import base_identity, check_base_matches
    from finetune.train import load_model, load_tokenizer, local_checkpoint, resolve_checkpoint

    adapter_dir, meta = _adapter_and_metadata(cfg)
    base_model, gguf_file = _base_model(cfg, adapter_dir, meta)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    manifest, examples, num_passages = _sampled_examples(cfg, settings)
    n = len(examples)

    checkpoint = resolve_checkpoint(base_model, gguf_file, settings.model_cache_dir)
    local = local_checkpoint(checkpoint)
    if adapter_dir is not None:
        check_base_matches(adapter_dir, local)
    tokenizer = load_tokenizer(checkpoint)
    base_digest = base_identity(local)[1]
    common = {
        "format": 1,
        "data": manifest.get("manifest_sha256"),
        "split": cfg.split,
        "max_new_tokens": cfg.max_new_tokens,
    }
    base_cache = cache_for(settings, {**common, "model": "base", "base": base_digest})
    model = load_model(checkpoint, "none")
    base_gens, base_s = score_model(model, tokenizer, examples, cfg, "base", base_cache)
    if adapter_dir is None:
        return {
            "base_cache": str(base_cache.path),
            "n": n,
            "seconds": {"base": base_s},
            "markdown": f"base model scored on {n} examples ({base_s:.0f} s of generation); cached in {base_cache.path}",
        }

    adapter_weights = adapter_dir / "adapter_model.safetensors"
    adapter_digest = file_sha256(adapter_weights) if adapter_weights.is_file() else str(adapter_dir.resolve())
    tuned_cache = cache_for(settings, {**common, "model": "adapter", "base": base_digest, "adapter": adapter_digest})
    tuned_gens, tuned_s = _score_merged(model, adapter_dir, tokenizer, examples, cfg, tuned_cache)
    del model
    return _report(
        cfg,
        settings,
        adapter_dir,
        meta,
        base_model,
        manifest,
        examples,
        num_passages,
        base_gens,
        base_s,
        tuned_gens,
        tuned_s,
    )


def _adapter_and_metadata(cfg: EvalConfig) -> tuple[Path | None, dict[str, Any]]:
    """The adapter directory to evaluate (None: base only) and its verified healthbot metadata."""
    from finetune.metadata import verify_adapter

    adapter_dir = Path(cfg.adapter).expanduser() if cfg.adapter else None
    meta: dict[str, Any] = {}
    if adapter_dir is not None:
        if not (adapter_dir / "adapter_config.json").is_file():
            raise FinetuneError(f"no peft adapter at {adapter_dir} (adapter_config.json missing)")
        meta = verify_adapter(adapter_dir) or {}
    return adapter_dir, meta


def _base_model(cfg: EvalConfig, adapter_dir: Path | None, meta: dict[str, Any]) -> tuple[str, str | None]:
    """The base model and GGUF file: from the command line, else from the adapter's metadata."""
    from chatbot.settings import EMBEDDED

    base_model = cfg.base_model or meta.get("base_model") or (EMBEDDED if cfg.base_only else None)
    if not base_model:
        raise FinetuneError(f"adapter {adapter_dir} has no healthbot_adapter.json; pass --base-model")
    gguf_file = cfg.gguf_file if cfg.base_model else (meta.get("hyperparameters") or {}).get("gguf_file")
    return base_model, gguf_file


def _sampled_examples(cfg: EvalConfig, settings: Settings) -> tuple[dict[str, Any], list[dict[str, Any]], int]:
    """The dataset manifest, the evaluated sample of the split and the passages per prompt."""
    from finetune.data import load_split, read_manifest

    dataset_dir = Path(cfg.dataset_dir).expanduser() if cfg.dataset_dir else settings.data_dir / "finetune" / "dataset"
    manifest = read_manifest(dataset_dir)
    split = load_split(dataset_dir, cfg.split)
    if len(split) == 0:
        raise FinetuneError(f"split {cfg.split!r} of {dataset_dir} is empty")
    examples = [split[i] for i in sample_indices(len(split), cfg.limit)]
    return manifest, examples, int(manifest["config"]["num_passages"])


def _score_merged(
    model: Any,
    adapter_dir: Path,
    tokenizer: Any,
    examples: Sequence[dict[str, Any]],
    cfg: EvalConfig,
    cache: ResultCache,
) -> tuple[list[Generation], float]:
    from peft import PeftModel

    # Merged into full-precision weights: the same function as the unmerged adapter, faster.
    merged = PeftModel.from_pretrained(model, str(adapter_dir)).merge_and_unload()
    return score_model(merged, tokenizer, examples, cfg, "adapter", cache)


def _report(
    cfg: EvalConfig,
    settings: Settings,
    adapter_dir: Path,
    meta: dict[str, Any],
    base_model: str,
    manifest: dict[str, Any],
    examples: list[dict[str, Any]],
    num_passages: int,
    base_gens: list[Generation],
    base_s: float,
    tuned_gens: list[Generation],
    tuned_s: float,
) -> dict[str, Any]:
    import torch

    from knowledge.embedding import build_embedder

    embedder = build_embedder(settings.embedding)
    ref_vecs = embedder.encode([ex["reference"] for ex in examples])
    sims = {}
    for label, gens in (("base", base_gens), ("adapter", tuned_gens)):
        vecs = embedder.encode([strip_citations(g.text) or "(empty)" for g in gens])
        sims[label] = (vecs * ref_vecs).sum(axis=1)
    rows: list[dict[str, Any]] = []
    for i, ex in enumerate(examples):
        row: dict[str, Any] = {
            "id": ex["id"],
            "question": ex["question"],
            "reference": ex["reference"],
            "no_source": ex["no_source"],
            "gold_index": ex["gold_index"],
        }
        for label, gens in (("base", base_gens), ("adapter", tuned_gens)):
            m = example_metrics(ex, gens[i], num_passages)
            m["embedding_similarity"] = float(sims[label][i])
            row[label] = m
            row[f"{label}_text"] = gens[i].text
        rows.append(row)
    summary: dict[str, Any] = {
        "adapter": str(adapter_dir),
        "base_model": base_model,
        "split": cfg.split,
        "n": len(examples),
        "n_no_source": sum(1 for ex in examples if ex["no_source"]),
        "num_passages": num_passages,
        "max_new_tokens": cfg.max_new_tokens,
        "batch_size": cfg.batch_size,
        "decoding": "greedy, no repetition penalty",
        "data_manifest_sha256": manifest.get("manifest_sha256"),
        "embedder": getattr(embedder, "name", type(embedder).__name__),
        "device": "cpu" if not torch.cuda.is_available() else torch.cuda.get_device_name(0),
        "seconds": {"base": round(base_s, 1), "adapter": round(tuned_s, 1)},
        "metrics": summarize(rows, cfg.bootstrap_resamples),
    }
    md = markdown_table(summary)
    stem = Path(cfg.output).expanduser() if cfg.output else adapter_dir / "eval"
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".json").write_text(json.dumps(summary, indent=2) + "\n")
    stem.with_suffix(".md").write_text(md + "\n")
    with stem.with_name(stem.name + "_examples.jsonl").open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    if meta and stem.parent.resolve() == adapter_dir.resolve():
        from finetune.metadata import read_metadata, write_metadata

        # Re-read: the file may have been re-stamped while this (long) evaluation ran.
        meta = read_metadata(adapter_dir) or meta
        meta["evaluation"] = {k: summary[k] for k in ("split", "n", "max_new_tokens", "decoding", "metrics")}
        write_metadata(adapter_dir, meta)
    summary["markdown"] = md
    return summary
