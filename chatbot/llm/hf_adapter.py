"""Checking and attaching a LoRA adapter to a loaded transformers model (``llm.adapter``).

An adapter trained for another base, or whose files differ from what its metadata recorded, is
refused here with a message that says what to do, before peft fails deep inside with shapes.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import re
from pathlib import Path
from typing import Any

from chatbot.llm.adapters import ADAPTER_METADATA, AdapterIntegrityError, base_identity, verify_adapter_files
from chatbot.llm.base import GenerationError
from chatbot.llm.hf_model import LoadedModel, one_line
from chatbot.settings import SHIPPED_ADAPTER

log = logging.getLogger(__name__)


def check_adapter(loaded: LoadedModel, adapter_dir: Path, *, require_metadata: bool = False) -> None:
    """Refuse an adapter trained for another base, before peft fails deep inside with shapes, and
    one whose files differ from what its metadata recorded (:func:`verify_adapter_files`).

    Adapters without metadata (third-party peft adapters) are only shape-checked, unless
    ``require_metadata`` (the shipped adapter, which always has it: a missing file means tampering).
    """
    if not (adapter_dir / "adapter_config.json").is_file():
        raise GenerationError(
            f"llm.adapter {adapter_dir} is not a LoRA adapter directory (no adapter_config.json): "
            "point it at the folder written by `python -m finetune` or peft's save_pretrained"
        )
    ours = loaded.identity()
    meta_path = adapter_dir / ADAPTER_METADATA
    if not meta_path.is_file() and require_metadata:
        raise AdapterIntegrityError(
            f"adapter {adapter_dir} has lost its {ADAPTER_METADATA}, so its files cannot be verified: "
            "restore the file (e.g. from git) or unset llm.adapter"
        )
    if not meta_path.is_file():
        log.info("adapter %s has no %s: only its shapes are checked", adapter_dir, ADAPTER_METADATA)
    else:
        try:
            meta = json.loads(meta_path.read_text())
        except ValueError:
            raise AdapterIntegrityError(
                f"adapter metadata {meta_path} is not valid JSON: restore it or retrain the adapter"
            ) from None
        if not isinstance(meta, dict):
            raise AdapterIntegrityError(f"adapter metadata {meta_path} is not a JSON object: restore it or retrain")
        theirs_sha = meta.get("base_sha256")
        ours["base_sha256"] = _base_digest(loaded)
        if theirs_sha and ours["base_sha256"] and theirs_sha != ours["base_sha256"]:
            raise GenerationError(
                f"adapter {adapter_dir} was trained on base model {meta.get('base_model')!r} "
                f"(sha256 {str(theirs_sha)[:12]}), but llm.model is {ours['base_model']!r} "
                f"(sha256 {str(ours['base_sha256'])[:12]}): set llm.model to the adapter's base or train a new adapter"
            )
        for key in ("model_type", "hidden_size", "num_hidden_layers", "vocab_size"):
            if meta.get(key) is not None and ours[key] is not None and meta[key] != ours[key]:
                raise GenerationError(
                    f"adapter {adapter_dir} was trained on {meta.get('base_model')!r} with {key}={meta[key]}, "
                    f"but llm.model {ours['base_model']!r} has {key}={ours[key]}: use the adapter's base model"
                )
        # After the base checks, so an adapter for another model gets that (more useful) message.
        verify_adapter_files(adapter_dir, meta)
    _check_adapter_shapes(loaded, adapter_dir)


def _base_digest(loaded: LoadedModel) -> str | None:
    """Identity of the loaded base as the fine-tuning module records it: the GGUF source's
    sha256 for converted models, else (local checkpoints) the file hash of
    :func:`chatbot.llm.adapters.base_identity`."""
    if loaded.base_sha256:
        return loaded.base_sha256
    path = Path(loaded.checkpoint)
    if not path.is_dir():
        return None
    try:
        return base_identity(path)[1]
    except (GenerationError, OSError):  # checkpoint unreadable: shapes still get checked
        return None


def _check_adapter_shapes(loaded: LoadedModel, adapter_dir: Path) -> None:
    weights = adapter_dir / "adapter_model.safetensors"
    if not weights.is_file():
        raise GenerationError(
            f"llm.adapter {adapter_dir} has no adapter_model.safetensors (only safetensors adapters are loaded)"
        )
    from safetensors import safe_open

    pattern = re.compile(r"^(?:base_model\.model\.)?(.+)\.lora_([AB])(?:\.[^.]+)?\.weight$")
    try:
        with safe_open(str(weights), framework="pt") as f:
            shapes = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}  # noqa: SIM118
    except Exception as err:
        raise GenerationError(
            f"adapter weights {weights} are unreadable ({one_line(err, 120)}): re-save the adapter"
        ) from None
    model = loaded.model
    for key, shape in shapes.items():
        m = pattern.match(key)
        if not m or len(shape) != 2:
            continue
        name, which = m.groups()
        try:
            module = model.get_submodule(name)
        except AttributeError:
            raise GenerationError(
                f"adapter {adapter_dir} targets layer {name!r}, which llm.model {loaded.base_label!r} does not "
                "have: the adapter was trained for another base model"
            ) from None
        in_f = getattr(module, "in_features", None)
        out_f = getattr(module, "out_features", None)
        want = shape[1] if which == "A" else shape[0]
        have = in_f if which == "A" else out_f
        if have is not None and want != have:
            raise GenerationError(
                f"adapter {adapter_dir} expects {name} with {'in' if which == 'A' else 'out'}_features={want}, "
                f"but llm.model {loaded.base_label!r} has {have}: the adapter was trained for another base model"
            )


def resolve_adapter(adapter: str) -> Path:
    """``default`` names the adapter shipped inside the ``finetune`` package, wherever we run from."""
    if adapter == SHIPPED_ADAPTER:
        spec = importlib.util.find_spec("finetune")
        if spec is None or not spec.submodule_search_locations:
            raise GenerationError("llm.adapter 'default' needs the finetune package (run from the repository)")
        return Path(next(iter(spec.submodule_search_locations))) / "adapters" / "default"
    return Path(adapter).expanduser()


def attach_adapter(loaded: LoadedModel, adapter_dir: Path, *, merge: bool, require_metadata: bool = False) -> None:
    if not adapter_dir.is_dir():
        raise GenerationError(f"llm.adapter directory not found: {adapter_dir} (fix the path or unset llm.adapter)")
    check_adapter(loaded, adapter_dir, require_metadata=require_metadata)
    from peft import PeftModel

    try:
        model: Any = PeftModel.from_pretrained(loaded.model, str(adapter_dir), is_trainable=False)
    except Exception as err:
        raise GenerationError(
            f"could not load adapter {adapter_dir}: {one_line(err)} (was it trained for llm.model {loaded.base_label!r}?)"
        ) from None
    if merge:
        # Folding B@A into the weights removes the adapter's extra matmuls from every step.
        model = model.merge_and_unload()
    model.eval()
    loaded.model = model
    loaded.adapter = str(adapter_dir)
