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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--examples", type=int, default=16, help="training examples (= optimizer steps) per variant")
    ap.add_argument("--base-model", default="embedded")
    ap.add_argument("--dataset-dir", default="")
    ap.add_argument("--max-length", type=int, default=448)
    ap.add_argument("--lora-r", type=int, default=16)
    ap.add_argument("--lora-layers", type=int, default=None, help="LoRA in the top N blocks only (default: all)")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--variants", default="trainer-lora,trainer-qlora,bare-lora,bare-qlora")
    args = ap.parse_args()

    import torch

    from chatbot.settings import load_settings
    from finetune.config import TrainConfig
    from finetune.data import load_split
    from finetune.train import load_tokenizer, resolve_checkpoint, tokenize_split, train

    if args.threads:
        torch.set_num_threads(args.threads)
    settings = load_settings()
    dataset_dir = Path(args.dataset_dir) if args.dataset_dir else settings.data_dir / "finetune" / "dataset"
    work = Path(tempfile.mkdtemp(prefix="ft-bench-"))
    common = dict(
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
    checkpoint = resolve_checkpoint(args.base_model, None, settings.model_cache_dir)
    tokenizer = load_tokenizer(checkpoint)
    # Exactly what train() trains on: the same seeded sample, the same length filter.
    raw = load_split(dataset_dir, "train").shuffle(seed=0).select(range(args.examples))
    encoded_ds, _ = tokenize_split(raw, tokenizer, args.max_length)
    encoded = [encoded_ds[i] for i in range(len(encoded_ds))]
    tokens = sum(len(e["input_ids"]) for e in encoded)

    rows = []
    for variant in args.variants.split(","):
        quant = "4bit" if variant.endswith("qlora") else "none"
        cfg = TrainConfig(
            quantization=quant,
            run_name=variant,
            output_dir=str(work / variant),
            checkpoint_dir=str(work / f"{variant}-ckpt"),
            **common,
        )
        if variant.startswith("trainer"):
            metrics = train(cfg, settings)
            seconds = float(metrics["train_runtime_s"])
            steps = int(metrics["global_step"])
        else:
            seconds = bare_loop(cfg, checkpoint, encoded)
            steps = len(encoded)
        rows.append((variant, steps, tokens, seconds))
        print(f"{variant}: {tokens / seconds:.1f} tokens/s", flush=True)

    print()
    print(
        f"base {args.base_model}, {len(encoded)} examples ({tokens} tokens, max_length {args.max_length}), "
        f"LoRA r={args.lora_r} layers={args.lora_layers or 'all'}, batch 1, threads {torch.get_num_threads()}"
    )
    print("| variant | steps | tokens | seconds | tokens/s |")
    print("|---|---|---|---|---|")
    for variant, steps, tok, sec in rows:
        print(f"| {variant} | {steps} | {tok} | {sec:.1f} | {tok / sec:.1f} |")


if __name__ == "__main__":
    main()
