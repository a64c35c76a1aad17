"""Configuration of the fine-tuning stages, peft style: dataclasses whose fields carry their
help text in ``metadata["help"]`` (the CLI builds its options from it) and whose
``__post_init__`` rejects bad values with a one-line message."""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any

from chatbot.errors import HealthbotError
from chatbot.settings import EMBEDDED


class FinetuneError(HealthbotError, ValueError):
    """Bad fine-tuning input or configuration; the message says what to change."""


def _check(cond: bool, message: str) -> None:
    if not cond:
        raise FinetuneError(message)


@dataclass
class DataConfig:
    """How MedQuAD (or a JSONL of question/answer pairs) becomes chat-format training examples."""

    source: str = field(
        default="",
        metadata={
            "help": "MedQuAD root directory or a JSONL file with question/answer rows; default: <shared_data>/MedQuAD."
        },
    )
    output_dir: str = field(
        default="", metadata={"help": "Where the dataset is written; default <data_dir>/finetune/dataset."}
    )
    validation_share: float = field(default=0.02, metadata={"help": "Share of documents in the validation split."})
    test_share: float = field(default=0.05, metadata={"help": "Share of documents in the test split."})
    num_passages: int = field(default=3, metadata={"help": "Numbered passages per prompt (gold + distractors)."})
    passage_words: int = field(default=70, metadata={"help": "Words kept of each passage (keeps prompts short)."})
    no_source_share: float = field(
        default=0.08, metadata={"help": "Share of examples whose passages are all unrelated; their target says so."}
    )
    max_target_sentences: int = field(default=3, metadata={"help": "Sentences of the gold answer kept in the target."})
    max_target_words: int = field(default=60, metadata={"help": "Stop adding target sentences past this many words."})
    max_examples: int | None = field(default=None, metadata={"help": "Cap on answered QA pairs read (tiny test runs)."})
    seed: int = field(default=0, metadata={"help": "Seed of the passage order and of the no-source choice."})

    def __post_init__(self) -> None:
        _check(0 <= self.validation_share < 0.5, "validation_share must be in [0, 0.5)")
        _check(0 <= self.test_share < 0.5, "test_share must be in [0, 0.5)")
        _check(self.validation_share + self.test_share < 0.9, "validation_share + test_share must leave training data")
        _check(1 <= self.num_passages <= 10, "num_passages must be between 1 and 10")
        _check(self.passage_words >= 10, "passage_words must be at least 10")
        _check(0 <= self.no_source_share < 1, "no_source_share must be in [0, 1)")
        _check(1 <= self.max_target_sentences <= 10, "max_target_sentences must be between 1 and 10")
        _check(self.max_target_words >= 5, "max_target_words must be at least 5")
        _check(self.max_examples is None or self.max_examples >= 3, "max_examples must be at least 3")


@dataclass
class TrainConfig:
    """LoRA / QLoRA training of an adapter on a dataset written by ``build-data``."""

    base_model: str = field(
        default=EMBEDDED, metadata={"help": "HF model id or local path; 'embedded' = SmolLM2-135M-Instruct."}
    )
    gguf_file: str | None = field(default=None, metadata={"help": "GGUF file inside base_model (converted once)."})
    dataset_dir: str = field(
        default="", metadata={"help": "Dataset from build-data; default <data_dir>/finetune/dataset."}
    )
    output_dir: str = field(
        default="", metadata={"help": "Where the adapter goes; default <data_dir>/finetune/adapters/<run_name>."}
    )
    checkpoint_dir: str = field(
        default="",
        metadata={"help": "Trainer checkpoints (optimizer states); default <data_dir>/finetune/runs/<run_name>."},
    )
    run_name: str = field(default="default", metadata={"help": "Name of the run (default directories)."})
    quantization: str = field(
        default="none", metadata={"help": "'none' (LoRA) or '4bit' (QLoRA, NF4 via bitsandbytes)."}
    )
    lora_r: int = field(default=16, metadata={"help": "LoRA rank."})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA scaling numerator (scale = alpha / r)."})
    lora_dropout: float = field(default=0.05, metadata={"help": "Dropout on the LoRA input."})
    target_modules: str = field(
        default="all-linear", metadata={"help": "Comma-separated module names, or 'all-linear'."}
    )
    lora_layers: int | None = field(
        default=None,
        metadata={
            "help": "Put LoRA only in the top N transformer blocks (None = all). Backward then stops "
            "at the lowest adapted block: much cheaper training on CPU."
        },
    )
    max_length: int = field(
        default=512, metadata={"help": "Longest prompt+answer in tokens; longer examples are dropped, never cut."}
    )
    max_steps: int = field(default=200, metadata={"help": "Optimizer steps (-1 = use num_epochs)."})
    num_epochs: float = field(default=1.0, metadata={"help": "Epochs when max_steps is -1."})
    per_device_batch_size: int = field(default=4, metadata={"help": "Examples per forward pass."})
    gradient_accumulation_steps: int = field(default=2, metadata={"help": "Forward passes per optimizer step."})
    learning_rate: float = field(default=4e-4, metadata={"help": "Peak learning rate."})
    warmup_ratio: float = field(default=0.05, metadata={"help": "Share of steps of linear warm-up."})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay."})
    gradient_checkpointing: bool = field(
        default=True, metadata={"help": "Recompute activations (less memory, ~30% slower)."}
    )
    eval_steps: int = field(default=50, metadata={"help": "Evaluate the validation loss every N steps (0 = never)."})
    eval_examples: int = field(default=64, metadata={"help": "Validation examples used for the periodic loss."})
    save_steps: int = field(default=50, metadata={"help": "Write a resumable checkpoint every N steps."})
    save_total_limit: int = field(default=2, metadata={"help": "Checkpoints kept."})
    logging_steps: int = field(default=5, metadata={"help": "Log the training loss every N steps."})
    train_examples: int | None = field(
        default=None, metadata={"help": "Use a seeded sample of N training examples (None = all)."}
    )
    max_minutes: float | None = field(
        default=None, metadata={"help": "Stop (and save) after this many minutes of training in this invocation."}
    )
    resume: bool = field(default=True, metadata={"help": "Resume from the newest checkpoint in checkpoint_dir if any."})
    seed: int = field(default=0, metadata={"help": "Seed of initialisation, shuffling and dropout."})
    threads: int | None = field(default=None, metadata={"help": "torch CPU threads (None = torch default)."})

    def __post_init__(self) -> None:
        _check(self.quantization in ("none", "4bit"), "quantization must be 'none' (LoRA) or '4bit' (QLoRA)")
        _check(self.lora_r >= 1, "lora_r must be at least 1")
        _check(self.lora_alpha >= 1, "lora_alpha must be at least 1")
        _check(0 <= self.lora_dropout < 1, "lora_dropout must be in [0, 1)")
        _check(bool(self.target_modules.strip()), "target_modules must name modules or be 'all-linear'")
        _check(self.max_length >= 32, "max_length must be at least 32 tokens")
        _check(self.max_steps == -1 or self.max_steps >= 1, "max_steps must be -1 or at least 1")
        _check(self.num_epochs > 0, "num_epochs must be positive")
        _check(self.per_device_batch_size >= 1, "per_device_batch_size must be at least 1")
        _check(self.gradient_accumulation_steps >= 1, "gradient_accumulation_steps must be at least 1")
        _check(0 < self.learning_rate < 1, "learning_rate must be in (0, 1)")
        _check(0 <= self.warmup_ratio < 1, "warmup_ratio must be in [0, 1)")
        _check(
            self.eval_steps >= 0 and self.save_steps >= 1 and self.logging_steps >= 1,
            "eval_steps must be >= 0, save_steps and logging_steps >= 1",
        )
        _check(self.save_total_limit >= 1, "save_total_limit must be at least 1")
        _check(self.eval_examples >= 1, "eval_examples must be at least 1")
        _check(self.train_examples is None or self.train_examples >= 1, "train_examples must be at least 1")
        _check(self.threads is None or self.threads >= 1, "threads must be at least 1")
        _check(self.lora_layers is None or self.lora_layers >= 1, "lora_layers must be at least 1")
        _check(self.max_minutes is None or self.max_minutes > 0, "max_minutes must be positive")
        _check(bool(self.run_name) and "/" not in self.run_name, "run_name must be a plain name")

    @property
    def target_module_list(self) -> str | list[str]:
        names = [m.strip() for m in self.target_modules.split(",") if m.strip()]
        return "all-linear" if names == ["all-linear"] else names

    def hyperparameters(self) -> dict[str, Any]:
        """What is recorded in the adapter metadata (everything that changes the result)."""
        skip = {"dataset_dir", "output_dir", "checkpoint_dir", "resume", "threads", "max_minutes"}
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in skip}


@dataclass
class EvalConfig:
    """Base model versus base + adapter on the held-out test split, same passages."""

    adapter: str = field(default="", metadata={"help": "Adapter directory to evaluate (required unless base_only)."})
    base_only: bool = field(
        default=False,
        metadata={"help": "Only score the base model; its results are cached and reused by later adapter runs."},
    )
    base_model: str = field(
        default="", metadata={"help": "Base model; default: the one recorded in the adapter metadata."}
    )
    gguf_file: str | None = field(default=None, metadata={"help": "GGUF file inside base_model."})
    dataset_dir: str = field(
        default="", metadata={"help": "Dataset from build-data; default <data_dir>/finetune/dataset."}
    )
    split: str = field(default="test", metadata={"help": "Split to evaluate."})
    limit: int | None = field(
        default=320, metadata={"help": "N examples of the split, a fixed seeded sample (None = all)."}
    )
    batch_size: int = field(default=16, metadata={"help": "Generation batch size (left padding)."})
    max_new_tokens: int = field(
        default=96, metadata={"help": "Generation cap; a generation that reaches it did not stop."}
    )
    output: str = field(
        default="", metadata={"help": "Report path stem; default <adapter>/eval (writes .json and .md)."}
    )
    threads: int | None = field(default=None, metadata={"help": "torch CPU threads (None = torch default)."})
    bootstrap_resamples: int = field(default=2000, metadata={"help": "Paired bootstrap resamples for the intervals."})

    def __post_init__(self) -> None:
        _check(bool(self.adapter) or self.base_only, "evaluate needs --adapter DIR (or --base-only true)")
        _check(self.limit is None or self.limit >= 1, "limit must be at least 1")
        _check(self.batch_size >= 1, "batch_size must be at least 1")
        _check(1 <= self.max_new_tokens <= 4096, "max_new_tokens must be between 1 and 4096")
        _check(self.threads is None or self.threads >= 1, "threads must be at least 1")
        _check(self.bootstrap_resamples >= 1, "bootstrap_resamples must be at least 1")


def default_value(f: Any) -> Any:
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:
        return f.default_factory()
    return None


def resolve(path: str, default: Path) -> Path:
    return Path(path).expanduser() if path else default
