"""Training throughput of `python -m finetune train` (Trainer + peft, LoRA and 4-bit QLoRA)
next to a bare peft + torch loop, on the same examples and base model, in one run:

    .venv/bin/python benchmarks/finetune_throughput.py --examples 16 --threads 2
    .venv/bin/python benchmarks/finetune_throughput.py --base-model PATH_OR_ID --max-length 512

Every variant sees the same examples exactly once: the seeded sample of N training rows that
`train --train-examples N` takes, minus those longer than --max-length (one epoch, batch 1,
same LoRA rank/targets/learning rate, no evaluation, no checkpoint inside the timed part), so
tokens/s is (sum of example lengths) / (seconds of the training loop). The bare loop is the floor of
overhead: tokenized tensors, forward, backward, AdamW step, nothing else. It needs a dataset
from `python -m finetune build-data` (default: <data_dir>/finetune/dataset).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def bare_loop(cfg: Any, checkpoint: Any, encoded: list[dict[str, list[int]]]) -> float:
    """peft + torch only: the same model, LoRA config, optimizer and examples as the Trainer."""
    import torch

    from finetune.train import load_model, peft_model

    torch.manual_seed(cfg.seed)
    model = peft_model(load_model(checkpoint, cfg.quantization), cfg)
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=cfg.learning_rate)
    t0 = time.perf_counter()
    for ex in encoded:
        ids = torch.tensor([ex["input_ids"]])
        labels = torch.tensor([ex["labels"]])
        loss = model(input_ids=ids, labels=labels).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    return time.perf_counter() - t0


def _parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--examples", type=int, default=16, help="training examples (= optimizer steps) per variant")
    ap.add_argument("--base-model", default="embedded")
    ap.add_argument("--dataset-dir", default="")
    ap.add_argument("--max-length", type=int, default=448)
    ap.add_argument("--lora-r", type=int, default=16)
    ap.add_argument("--lora-layers", type=int, default=None, help="LoRA in the top N blocks only (default: all)")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--variants", default="trainer-lora,trainer-qlora,bare-lora,bare-qlora")
    ap.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="run every variant this many times, order reversed each round; the table shows the fastest round",
    )
    return ap.parse_args()


def _common_config(args: argparse.Namespace, dataset_dir: Path) -> dict[str, Any]:
    """TrainConfig fields every variant shares: one epoch, batch 1, no evaluation or checkpoint."""
    return dict(
        base_model=args.base_model,
        dataset_dir=str(dataset_dir),
        max_length=args.max_length,
        max_steps=-1,
        num_epochs=1.0,
        per_device_batch_size=1,
        gradient_accumulation_steps=1,
        lora_r=args.lora_r,
        lora_alpha=2 * args.lora_r,
        lora_layers=args.lora_layers,
        eval_steps=0,
        save_steps=10**6,
        logging_steps=10**6,
        train_examples=args.examples,
        gradient_checkpointing=False,
        threads=args.threads,
        learning_rate=2e-4,
        warmup_ratio=0.0,
    )


def _encoded_examples(args: argparse.Namespace, dataset_dir: Path, checkpoint: Any) -> list[dict[str, list[int]]]:
    from finetune.data import load_split
    from finetune.train import load_tokenizer, tokenize_split

    tokenizer = load_tokenizer(checkpoint)
    # Exactly what train() trains on: the same seeded sample, the same length filter.
    raw = load_split(dataset_dir, "train").shuffle(seed=0).select(range(args.examples))
    encoded_ds, _ = tokenize_split(raw, tokenizer, args.max_length)
    return [encoded_ds[i] for i in range(len(encoded_ds))]


def _run_variants(
    args: argparse.Namespace,
    variants: list[str],
    common: dict[str, Any],
    settings: Any,
    checkpoint: Any,
    encoded: list[dict[str, list[int]]],
    tokens: int,
) -> dict[str, list[tuple[int, float]]]:
    """(steps, seconds) of every round of every variant."""
    from finetune.config import TrainConfig
    from finetune.train import train

    work = Path(tempfile.mkdtemp(prefix="ft-bench-"))
    runs: dict[str, list[tuple[int, float]]] = {v: [] for v in variants}
    for round_ in range(args.rounds):
        # Alternating order so warm-up and drifting machine load don't favour one variant.
        for variant in variants if round_ % 2 == 0 else variants[::-1]:
            quant = "4bit" if variant.endswith("qlora") else "none"
            cfg = TrainConfig(
                quantization=quant,
                run_name=variant,
                output_dir=str(work / f"{variant}-{round_}"),
                checkpoint_dir=str(work / f"{variant}-{round_}-ckpt"),
                **common,
            )
            if variant.startswith("trainer"):
                metrics = train(cfg, settings)
                seconds = float(metrics["train_runtime_s"])
                steps = int(metrics["global_step"])
            else:
                seconds = bare_loop(cfg, checkpoint, encoded)
                steps = len(encoded)
            runs[variant].append((steps, seconds))
            print(f"round {round_ + 1} {variant}: {tokens / seconds:.1f} tokens/s", flush=True)
    return runs


def _print_table(
    args: argparse.Namespace, rows: list[tuple[str, int, int, float, list[float]]], examples: int, tokens: int
) -> None:
    import torch

    print()
    print(
        f"base {args.base_model}, {examples} examples ({tokens} tokens, max_length {args.max_length}), "
        f"LoRA r={args.lora_r} layers={args.lora_layers or 'all'}, batch 1, threads {torch.get_num_threads()}"
    )
    bare = {v: tok / sec for v, _, tok, sec, _ in rows if v.startswith("bare")}
    print(f"{args.rounds} rounds, fastest shown; range = tokens/s of the slowest and fastest round")
    print("| variant | steps | tokens | seconds | tokens/s | range | vs bare loop |")
    print("|---|---|---|---|---|---|---|")
    for variant, steps, tok, sec, secs in rows:
        ref = bare.get("bare-" + variant.split("-", 1)[1])
        ratio = f"{tok / sec / ref:.2f}x" if ref else "-"
        print(
            f"| {variant} | {steps} | {tok} | {sec:.1f} | {tok / sec:.1f} | {tok / secs[-1]:.1f}-{tok / secs[0]:.1f} | {ratio} |"
        )


def main() -> None:
    args = _parse_args()

    import torch

    from chatbot.settings import load_settings
    from finetune.train import resolve_checkpoint

    if args.threads:
        torch.set_num_threads(args.threads)
    settings = load_settings()
    dataset_dir = Path(args.dataset_dir) if args.dataset_dir else settings.data_dir / "finetune" / "dataset"
    common = _common_config(args, dataset_dir)
    checkpoint = resolve_checkpoint(args.base_model, None, settings.model_cache_dir)
    encoded = _encoded_examples(args, dataset_dir, checkpoint)
    tokens = sum(len(e["input_ids"]) for e in encoded)

    variants = args.variants.split(",")
    runs = _run_variants(args, variants, common, settings, checkpoint, encoded, tokens)
    rows = []
    for variant in variants:
        secs = sorted(sec for _, sec in runs[variant])
        # The fastest round: other processes on the machine only ever slow a round down.
        rows.append((variant, runs[variant][0][0], tokens, secs[0], secs))
    _print_table(args, rows, len(encoded), tokens)


if __name__ == "__main__":
    main()
