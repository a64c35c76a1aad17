"""Int8 weights of the lean CPU decoder (:mod:`chatbot.llm.cpu_fast`) and their disk cache.

Per-output-channel quantization, prepacking for torch's fbgemm dynamic-quantized linear, and the
safetensors file next to the converted model that spares a later load the quantization time.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

# Bump when the layout of the cached int8 file changes.
INT8_FORMAT = 1


def int8_available() -> bool:
    import torch

    engines = getattr(torch.backends.quantized, "supported_engines", [])
    return hasattr(torch.ops.quantized, "linear_dynamic") and any(e in engines for e in ("fbgemm", "x86"))


def quantize(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric per-output-channel int8 (torch.ao's per_channel_dynamic_qconfig convention)."""
    import torch

    w = weight.detach().float()
    scale = (w.abs().amax(dim=1) / 127.5).clamp_min(1e-8)
    q = torch.round(w / scale[:, None]).clamp_(-128, 127).to(torch.int8)
    return q.contiguous(), scale


def prepack(q: torch.Tensor, scale: torch.Tensor) -> Any:
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's deprecation notice for quantized tensors
        wq = torch._make_per_channel_quantized_tensor(
            q, scale.double(), torch.zeros(scale.numel(), dtype=torch.long), 0
        )
        return torch.ops.quantized.linear_prepack(wq, None)


def int8_cache_path(
    cache_dir: Path, checkpoint: str, base_sha256: str | None, adapter: str | None, *, salt: str = ""
) -> Path | None:
    """Where the int8 weights of this checkpoint (+ merged adapter) are cached, or None (then
    quantization runs at every load). Only checkpoints we converted ourselves are cached: their
    manifest's source hash fingerprints them cheaply, and they live under ``cache_dir`` anyway,
    while a user's own checkpoint directory or a hub id gets no files written for it."""
    ckpt = Path(checkpoint)
    if not base_sha256:
        return None
    parts: dict[str, Any] = {"format": INT8_FORMAT, "checkpoint": str(checkpoint), "salt": salt}
    parts["base_sha256"] = base_sha256
    parts["weights"] = _stat_files(ckpt, "*.safetensors") if ckpt.is_dir() else []
    if adapter:
        adir = Path(adapter)
        weights = adir / "adapter_model.safetensors"
        if not weights.is_file():
            return None
        parts["adapter"] = str(adir.resolve())
        parts["adapter_sha256"] = hashlib.sha256(weights.read_bytes()).hexdigest()
        parts["adapter_config"] = (
            (adir / "adapter_config.json").read_text() if (adir / "adapter_config.json").is_file() else ""
        )
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]
    return cache_dir / "int8" / f"{ckpt.name or 'model'}-{digest}.safetensors"


def _stat_files(directory: Path, pattern: str) -> list[list[Any]]:
    out: list[list[Any]] = []
    for p in sorted(directory.glob(pattern)):
        st = p.stat()
        out.append([p.name, st.st_size, st.st_mtime_ns])
    return out


def load_int8(
    path: Path, shapes: dict[str, tuple[int, ...]]
) -> tuple[dict[str, tuple[torch.Tensor, torch.Tensor]], dict[str, torch.Tensor]] | None:
    """(int8 matrices with their scales, smoothed norm weights) from ``path``, or None."""
    import torch

    if not path.is_file():
        return None
    try:
        from safetensors.torch import load_file

        tensors = load_file(str(path))
        mats: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        norms: dict[str, torch.Tensor] = {}
        for name, shape in shapes.items():
            if len(shape) == 1:
                norms[name] = tensors[f"{name}.weight"].float()
                if tuple(norms[name].shape) != shape:
                    raise ValueError(f"{name} has shape {tuple(norms[name].shape)}, expected {shape}")
                continue
            q, s = tensors[f"{name}.q"], tensors[f"{name}.scale"]
            if tuple(q.shape) != shape or q.dtype != torch.int8 or tuple(s.shape) != (shape[0],):
                raise ValueError(f"{name} has shape {tuple(q.shape)}, expected {shape}")
            mats[name] = (q, s.float())
        return mats, norms
    except Exception as err:  # damaged or stale: quantize again and overwrite it
        log.warning("int8 weight cache %s unusable (%s); quantizing again", path, " ".join(str(err).split())[:120])
        return None


def save_int8(
    path: Path, quantized: dict[str, tuple[torch.Tensor, torch.Tensor]], norms: dict[str, torch.Tensor]
) -> None:
    from safetensors.torch import save_file

    tensors = {f"{name}.weight": w.contiguous() for name, w in norms.items()}
    for name, (q, s) in quantized.items():
        tensors[f"{name}.q"] = q
        tensors[f"{name}.scale"] = s
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        os.close(fd)
        try:
            save_file(tensors, tmp, metadata={"format": str(INT8_FORMAT)})
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)  # atomic: a reader never sees half a file
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except OSError as err:  # a read-only data_dir only costs the next load its quantization time
        log.warning("could not cache int8 weights at %s: %s", path, err.strerror or err)
