"""Merge a LoRA adapter into a full-precision copy of its base and save the result.

Merging into 4-bit weights would round the adapter's small update away (or fail), the
failure users of QLoRA stacks keep hitting. So a quantized base is refused with the way to
do it: merge into the full-precision base, then quantize the merged model when loading it
(``llm.quantization: 4bit``).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from finetune.config import FinetuneError

if TYPE_CHECKING:
    from chatbot.settings import Settings

log = logging.getLogger(__name__)

QUANTIZED_REFUSAL = (
    "cannot merge a LoRA adapter into a {what} base: the update would be rounded into 4/8-bit weights. "
    "Merge into the full-precision base instead (python -m finetune merge --adapter {adapter} --output DIR "
    "--quantization none), then load the merged model with llm.quantization: 4bit if you want it quantized"
)


def _is_quantized(model: Any) -> bool:
    return bool(
        getattr(model, "is_loaded_in_4bit", False)
        or getattr(model, "is_loaded_in_8bit", False)
        or getattr(model.config, "quantization_config", None)
    )


def merge_adapter(
    adapter_dir: Path,
    output_dir: Path,
    settings: Settings,
    *,
    base_model: str | None = None,
    gguf_file: str | None = None,
    quantization: str = "none",
) -> Path:
    """Write base + adapter as one plain checkpoint (weights, config, tokenizer) to ``output_dir``."""
    from peft import PeftModel

    from finetune.metadata import ADAPTER_METADATA, check_base_matches, verify_adapter
    from finetune.train import load_model, load_tokenizer, local_checkpoint, resolve_checkpoint

    adapter_dir = Path(adapter_dir).expanduser()
    output_dir = Path(output_dir).expanduser()
    if quantization != "none":
        raise FinetuneError(QUANTIZED_REFUSAL.format(what=quantization, adapter=adapter_dir))
    if not (adapter_dir / "adapter_config.json").is_file():
        raise FinetuneError(f"no peft adapter at {adapter_dir} (adapter_config.json missing)")
    if output_dir.exists() and any(output_dir.iterdir()):
        raise FinetuneError(f"output directory {output_dir} is not empty; choose a new one")
    meta = verify_adapter(adapter_dir) or {}
    base = base_model or meta.get("base_model")
    if not base:
        raise FinetuneError(f"adapter {adapter_dir} has no {ADAPTER_METADATA}; pass --base-model")
    if gguf_file is None and not base_model:
        gguf_file = (meta.get("hyperparameters") or {}).get("gguf_file")
    checkpoint = resolve_checkpoint(base, gguf_file, settings.model_cache_dir)
    check_base_matches(adapter_dir, local_checkpoint(checkpoint))
    model = load_model(checkpoint, "none")
    if _is_quantized(model):
        raise FinetuneError(QUANTIZED_REFUSAL.format(what="quantized", adapter=adapter_dir))
    merged = PeftModel.from_pretrained(model, str(adapter_dir)).merge_and_unload()
    tokenizer = load_tokenizer(checkpoint)
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{output_dir.name}.", dir=output_dir.parent))
    try:
        merged.save_pretrained(str(tmp), safe_serialization=True)
        tokenizer.save_pretrained(str(tmp))
        if (adapter_dir / ADAPTER_METADATA).is_file():
            # Kept for provenance: which adapter and base this merged model came from.
            shutil.copy2(adapter_dir / ADAPTER_METADATA, tmp / "healthbot_merged_from.json")
        if output_dir.exists():
            output_dir.rmdir()
        tmp.rename(output_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    log.info("merged %s into %s -> %s", adapter_dir, base, output_dir)
    return output_dir
