"""LoRA / QLoRA training with the Hugging Face Trainer and peft.

Loss is on answer tokens only (prompt labels are -100), every target ends with the EOS token
(an adapter that never learned to stop is the classic failure), and examples longer than
``max_length`` are dropped and counted rather than cut (cutting would remove the EOS).
Checkpoints with optimizer state go to ``checkpoint_dir`` (under data_dir, never the repo);
a killed run started again with the same config resumes from the newest one.

Multi-GPU: the Trainer is accelerate-aware, so the same command runs data-parallel unchanged
under ``accelerate launch -m finetune train ...`` or ``torchrun --nproc-per-node N -m finetune
train ...``; QLoRA puts each process's 4-bit base on its own GPU.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from finetune.config import FinetuneError, TrainConfig

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from chatbot.settings import Settings

log = logging.getLogger(__name__)

LOSS_CURVE = "loss_curve.png"
TRAIN_METRICS = "train_metrics.json"


def resolve_checkpoint(base_model: str, gguf_file: str | None, cache_dir: Path) -> Path | str:
    """A loadable checkpoint for ``base_model``: GGUF models are converted once into ``cache_dir``
    (the LLM module's cache, shared with the chatbot); ids and paths are returned as they are."""
    from chatbot.llm.base import GenerationError
    from chatbot.llm.cache import ensure_checkpoint, gguf_source

    try:
        src = gguf_source(base_model, gguf_file)
        if src is not None:
            return ensure_checkpoint(src, cache_dir)
    except GenerationError as err:
        raise FinetuneError(str(err)) from None
    path = Path(base_model).expanduser()
    return path if path.exists() else base_model


def local_checkpoint(checkpoint: Path | str) -> Path:
    """The directory holding ``checkpoint`` (hub ids resolved through the local HF cache)."""
    if isinstance(checkpoint, Path):
        return checkpoint
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(checkpoint, local_files_only=True))
    except Exception:
        raise FinetuneError(
            f"base model {checkpoint!r} is neither a local path nor in the Hugging Face cache; download it first"
        ) from None


def load_tokenizer(checkpoint: Path | str) -> PreTrainedTokenizerBase:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(checkpoint))
    if tok.eos_token_id is None:
        raise FinetuneError(f"tokenizer of {checkpoint} has no EOS token; targets could not end with one")
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return tok


def load_model(checkpoint: Path | str, quantization: str, *, device_map: Any = None) -> PreTrainedModel:
    """The base model, full precision or 4-bit NF4 (bitsandbytes; works on CPU and CUDA)."""
    import torch
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    kwargs: dict[str, Any] = {"dtype": torch.float32}
    if quantization == "4bit":
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16 if torch.cuda.is_available() else torch.float32,
        )
        if device_map is None:
            if torch.cuda.is_available():
                from accelerate import PartialState

                # One full copy per process under DDP, not one model split over GPUs.
                device_map = {"": PartialState().local_process_index}
            else:
                device_map = {"": "cpu"}
    if device_map is not None:
        kwargs["device_map"] = device_map
    try:
        return AutoModelForCausalLM.from_pretrained(str(checkpoint), **kwargs)
    except (OSError, ValueError) as err:
        raise FinetuneError(f"could not load base model {checkpoint}: {' '.join(str(err).split())[:200]}") from None


def prompt_text(tokenizer: PreTrainedTokenizerBase, messages: list[dict[str, str]]) -> str:
    """The run-time prompt string: the model's chat template with the assistant turn opened."""
    from jinja2.exceptions import TemplateError

    from chatbot.llm.chat_template import render_chat

    if not getattr(tokenizer, "chat_template", None):
        raise FinetuneError("the base model's tokenizer has no chat template; use an instruct/chat model")
    try:
        # The serving path's rendering (a system message folded into the first user turn for
        # templates without a system role, e.g. Gemma-2): trained on the prompt it is served with.
        text = render_chat(tokenizer, messages, tokenize=False)
    except TemplateError as err:
        raise FinetuneError(f"the base model's chat template rejects the training prompt: {err}") from None
    assert isinstance(text, str)
    return text


def encode_example(
    tokenizer: PreTrainedTokenizerBase, messages: list[dict[str, str]], target: str, max_length: int
) -> dict[str, list[int]] | None:
    """input_ids/labels with the prompt masked and EOS appended; None when it does not fit."""
    prompt_ids = tokenizer(prompt_text(tokenizer, messages), add_special_tokens=False)["input_ids"]
    answer_ids = tokenizer(target, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    ids = prompt_ids + answer_ids
    if len(ids) > max_length:
        return None
    return {"input_ids": ids, "labels": [-100] * len(prompt_ids) + answer_ids}


def tokenize_split(dataset: Any, tokenizer: PreTrainedTokenizerBase, max_length: int) -> tuple[Any, int]:
    """Tokenized split and the number of examples dropped for length."""
    from datasets import Dataset

    rows = []
    dropped = 0
    for ex in dataset:
        enc = encode_example(tokenizer, ex["messages"], ex["target"], max_length)
        if enc is None:
            dropped += 1
        else:
            rows.append(enc)
    if not rows:
        raise FinetuneError(f"every example is longer than max_length={max_length}; raise max_length")
    return Dataset.from_list(rows), dropped


@dataclass
class Collator:
    """Right-pads a batch; padded label positions are -100 so they carry no loss."""

    pad_token_id: int

    def __call__(self, features: list[dict[str, list[int]]]) -> dict[str, Any]:
        import torch

        width = max(len(f["input_ids"]) for f in features)
        ids = torch.full((len(features), width), self.pad_token_id, dtype=torch.long)
        labels = torch.full((len(features), width), -100, dtype=torch.long)
        mask = torch.zeros((len(features), width), dtype=torch.long)
        for i, f in enumerate(features):
            n = len(f["input_ids"])
            ids[i, :n] = torch.tensor(f["input_ids"])
            labels[i, :n] = torch.tensor(f["labels"])
            mask[i, :n] = 1
        return {"input_ids": ids, "labels": labels, "attention_mask": mask}


def linear_module_names(model: Any) -> list[str]:
    """Names of the linear layers inside the transformer blocks (what peft's 'all-linear' means)."""
    import torch

    out_emb = model.get_output_embeddings()
    names = set()
    for name, module in model.named_modules():
        if module is out_emb or not name:
            continue
        # bitsandbytes' Linear4bit subclasses torch.nn.Linear, so QLoRA bases are covered too.
        if isinstance(module, torch.nn.Linear):
            names.add(name.rsplit(".", 1)[-1])
    return sorted(names)


def lora_config(cfg: TrainConfig, model: Any = None) -> Any:
    from peft import LoraConfig, TaskType

    layers = None
    targets = cfg.target_module_list
    num_layers = getattr(getattr(model, "config", None), "num_hidden_layers", None)
    if cfg.lora_layers is not None and num_layers:
        layers = list(range(max(0, num_layers - cfg.lora_layers), num_layers))
        if targets == "all-linear":
            # peft accepts a layer subset only with explicit module names.
            targets = linear_module_names(model)
    return LoraConfig(
        layers_to_transform=layers,
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=targets,
        task_type=TaskType.CAUSAL_LM,
    )


def peft_model(model: PreTrainedModel, cfg: TrainConfig) -> Any:
    from peft import get_peft_model, prepare_model_for_kbit_training

    if cfg.quantization == "4bit":
        model = prepare_model_for_kbit_training(
            model,
            use_gradient_checkpointing=cfg.gradient_checkpointing,
            gradient_checkpointing_kwargs={"use_reentrant": False},
        )
    try:
        return get_peft_model(model, lora_config(cfg, model))
    except ValueError as err:
        raise FinetuneError(f"LoRA target_modules {cfg.target_modules!r} do not fit this model: {err}") from None


class TimeBudget:
    """Trainer callback: stop and save once ``minutes`` of training have passed (CPU runs whose
    speed depends on what else the machine is doing)."""

    def __new__(cls, minutes: float) -> Any:
        from transformers import TrainerCallback

        class _TimeBudget(TrainerCallback):
            def __init__(self) -> None:
                self.start = time.perf_counter()

            def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
                self.start = time.perf_counter()

            def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> Any:
                if time.perf_counter() - self.start > minutes * 60:
                    log.warning("time budget of %.1f min reached at step %d; stopping", minutes, state.global_step)
                    control.should_training_stop = True
                    control.should_save = True
                return control

        return _TimeBudget()


def plot_loss_curve(log_history: list[dict[str, Any]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train = [(h["step"], h["loss"]) for h in log_history if "loss" in h and "step" in h]
    evals = [(h["step"], h["eval_loss"]) for h in log_history if "eval_loss" in h]
    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=100)
    if train:
        ax.plot(*zip(*train, strict=True), label="training loss (answer tokens)")
    if evals:
        ax.plot(*zip(*evals, strict=True), "o-", label="validation loss")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("cross-entropy")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def default_dirs(cfg: TrainConfig, settings: Settings) -> tuple[Path, Path, Path]:
    root = settings.data_dir / "finetune"
    dataset = Path(cfg.dataset_dir).expanduser() if cfg.dataset_dir else root / "dataset"
    output = Path(cfg.output_dir).expanduser() if cfg.output_dir else root / "adapters" / cfg.run_name
    ckpt = Path(cfg.checkpoint_dir).expanduser() if cfg.checkpoint_dir else root / "runs" / cfg.run_name
    return dataset, output, ckpt


def last_checkpoint(checkpoint_dir: Path) -> Path | None:
    from transformers.trainer_utils import get_last_checkpoint

    if not checkpoint_dir.is_dir():
        return None
    found = get_last_checkpoint(str(checkpoint_dir))
    return Path(found) if found else None


def train(cfg: TrainConfig, settings: Settings) -> dict[str, Any]:
    """Train, then write the adapter, its metadata, metrics and loss curve; returns the metrics."""
    import torch
    from transformers import Trainer, set_seed

    from finetune.data import read_manifest

    dataset_dir, output_dir, checkpoint_dir = default_dirs(cfg, settings)
    manifest = read_manifest(dataset_dir)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    set_seed(cfg.seed)
    checkpoint = resolve_checkpoint(cfg.base_model, cfg.gguf_file, settings.model_cache_dir)
    tokenizer = load_tokenizer(checkpoint)
    train_ds, eval_ds, dropped_train, dropped_eval = _training_splits(cfg, dataset_dir, tokenizer)

    model = load_model(checkpoint, cfg.quantization)
    model.config.use_cache = False  # incompatible with gradient checkpointing; off while training
    model = peft_model(model, cfg)
    trainable, total = model.get_nb_trainable_parameters()
    log.info("trainable parameters: %d of %d (%.2f%%)", trainable, total, 100 * trainable / total)

    steps = _planned_steps(cfg, len(train_ds))
    trainer = Trainer(
        model=model,
        args=_training_arguments(cfg, checkpoint_dir, steps, with_eval=eval_ds is not None),
        train_dataset=train_ds,
        eval_dataset=eval_ds,
        data_collator=Collator(tokenizer.pad_token_id),
        callbacks=[TimeBudget(cfg.max_minutes)] if cfg.max_minutes else None,
    )
    resume = last_checkpoint(checkpoint_dir) if cfg.resume else None
    if resume is not None:
        log.info("resuming from %s", resume)
    t0 = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    elapsed = time.perf_counter() - t0
    if not trainer.is_world_process_zero():
        return {}

    history = trainer.state.log_history
    eval_losses = [h["eval_loss"] for h in history if "eval_loss" in h]
    metrics: dict[str, Any] = {
        "global_step": trainer.state.global_step,
        "planned_steps": steps,
        "resumed_from_step": int(resume.name.split("-")[-1]) if resume else 0,
        "train_loss": result.training_loss,
        "final_eval_loss": eval_losses[-1] if eval_losses else None,
        "train_examples": len(train_ds),
        "dropped_too_long": {"train": dropped_train, "validation": dropped_eval},
        "train_runtime_s": round(elapsed, 1),
        "trainable_parameters": trainable,
        "log_history": history,
    }
    _write_adapter(model, cfg, checkpoint, manifest, metrics, output_dir)
    log.info("adapter written to %s", output_dir)
    metrics["output_dir"] = str(output_dir)
    return metrics


def _training_splits(
    cfg: TrainConfig, dataset_dir: Path, tokenizer: PreTrainedTokenizerBase
) -> tuple[Any, Any, int, int]:
    """Tokenized train and (when evaluating during training) validation sets, and how many
    examples of each were dropped as too long."""
    from finetune.data import load_split

    train_raw = load_split(dataset_dir, "train")
    if cfg.train_examples:
        # A seeded sample, not the first rows: the split is stored sorted by source.
        train_raw = train_raw.shuffle(seed=cfg.seed).select(range(min(cfg.train_examples, len(train_raw))))
    train_ds, dropped_train = tokenize_split(train_raw, tokenizer, cfg.max_length)
    eval_ds = None
    dropped_eval = 0
    if cfg.eval_steps:
        val_raw = load_split(dataset_dir, "validation")
        if len(val_raw):
            val_raw = val_raw.select(range(min(cfg.eval_examples, len(val_raw))))
            eval_ds, dropped_eval = tokenize_split(val_raw, tokenizer, cfg.max_length)
    return train_ds, eval_ds, dropped_train, dropped_eval


def _planned_steps(cfg: TrainConfig, train_examples: int) -> int:
    if cfg.max_steps != -1:
        return cfg.max_steps
    per_step = cfg.per_device_batch_size * cfg.gradient_accumulation_steps
    return max(1, math.ceil(train_examples * cfg.num_epochs / per_step))


def _training_arguments(cfg: TrainConfig, checkpoint_dir: Path, steps: int, *, with_eval: bool) -> Any:
    import torch
    from transformers import TrainingArguments

    return TrainingArguments(
        output_dir=str(checkpoint_dir),
        max_steps=steps,
        per_device_train_batch_size=cfg.per_device_batch_size,
        per_device_eval_batch_size=cfg.per_device_batch_size,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        learning_rate=cfg.learning_rate,
        lr_scheduler_type="cosine",
        warmup_steps=round(cfg.warmup_ratio * steps),
        weight_decay=cfg.weight_decay,
        logging_steps=cfg.logging_steps,
        eval_strategy="steps" if with_eval else "no",
        eval_steps=cfg.eval_steps or None,
        save_strategy="steps",
        save_steps=cfg.save_steps,
        save_total_limit=cfg.save_total_limit,
        seed=cfg.seed,
        data_seed=cfg.seed,
        gradient_checkpointing=cfg.gradient_checkpointing and cfg.quantization != "4bit",
        gradient_checkpointing_kwargs={"use_reentrant": False} if cfg.gradient_checkpointing else None,
        remove_unused_columns=False,
        dataloader_num_workers=0,
        report_to="none",
        disable_tqdm=False,
        use_cpu=not torch.cuda.is_available(),
    )


def _write_adapter(
    model: Any,
    cfg: TrainConfig,
    checkpoint: Path | str,
    manifest: dict[str, Any],
    metrics: dict[str, Any],
    output_dir: Path,
) -> None:
    """Save the adapter with its loss curve, metrics and stamped metadata into ``output_dir``."""
    from finetune.metadata import build_metadata, stamp_metadata

    output_dir.parent.mkdir(parents=True, exist_ok=True)
    # Build the adapter directory aside and swap it in, so a crash never leaves half an adapter.
    tmp = Path(tempfile.mkdtemp(prefix=f".{output_dir.name}.", dir=output_dir.parent))
    try:
        model.save_pretrained(str(tmp))
        # peft's generated model card is an empty template; our metadata file says what matters.
        (tmp / "README.md").unlink(missing_ok=True)
        tmp.chmod(0o755)  # mkdtemp makes it private; an adapter is meant to be shared
        history = metrics["log_history"]
        plot_loss_curve(history, tmp / LOSS_CURVE, f"{cfg.run_name}: LoRA r={cfg.lora_r}, {cfg.quantization}")
        (tmp / TRAIN_METRICS).write_text(json.dumps(metrics, indent=2) + "\n")
        meta = build_metadata(
            base_model=cfg.base_model,
            checkpoint=local_checkpoint(checkpoint),
            quantization=cfg.quantization,
            data_manifest_sha256=str(manifest.get("manifest_sha256")),
            hyperparameters=cfg.hyperparameters(),
            metrics={k: v for k, v in metrics.items() if k != "log_history"},
            model_config=model.get_base_model().config,
        )
        # Hashes of the files just saved, checked by every loader (swapped weights are refused).
        stamp_metadata(tmp, meta)
        for f in tmp.iterdir():
            f.chmod(0o644)
        if output_dir.exists():
            shutil.rmtree(output_dir)
        tmp.rename(output_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
