"""A fast query encoder: the sentence-transformers model exported once to ONNX, run by onnxruntime.

Embedding the user's question is most of a query's latency on a small CPU. onnxruntime runs
the same weights in about half the CPU time of eager PyTorch for one short text, and the
vectors match the PyTorch ones (checked at export: max difference below ``_TOLERANCE``), so
an index embedded with PyTorch is searched with ONNX query vectors without any rebuild.

Only the plain pipeline Transformer -> mean Pooling [-> Normalize] is exported; anything else
(CLS pooling, dense heads) raises ``OnnxUnavailable`` and the caller keeps PyTorch.
The exported file lives under ``<data_dir>/cache/onnx/`` keyed by the weights' path, size and
modification time, written to a temporary name and renamed, so a killed export leaves nothing.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

_TOLERANCE = 1e-4
_PROBES = [
    "What are the side effects of metformin?",
    "hi, my son (4) has had a fever of 39C for two days and a rash on his chest, should I take him to a doctor?",
]


class OnnxUnavailable(RuntimeError):
    """The model cannot be served by onnxruntime (missing package, unsupported pipeline, mismatch)."""


def _weights_key(model: Any) -> str:
    """Identify the weights cheaply: their files' paths, sizes and mtimes (plus the config)."""
    auto = model[0].auto_model
    h = hashlib.sha256(auto.config.to_json_string().encode())
    names = getattr(auto, "name_or_path", "") or getattr(auto.config, "_name_or_path", "")
    h.update(str(names).encode())
    base = Path(str(names))
    if base.is_dir():
        for p in sorted(base.glob("*.safetensors")) + sorted(base.glob("*.bin")):
            st = p.stat()
            h.update(f"{p.resolve()}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def _check_pipeline(model: Any) -> None:
    kinds = [type(m).__name__ for m in model]
    if kinds[:2] != ["Transformer", "Pooling"] or kinds[2:] not in ([], ["Normalize"]):
        raise OnnxUnavailable(f"pipeline {kinds} is not Transformer -> Pooling [-> Normalize]")
    mode = getattr(model[1], "pooling_mode", None) or (
        "mean" if getattr(model[1], "pooling_mode_mean_tokens", False) else "other"
    )
    if mode != "mean":
        raise OnnxUnavailable(f"pooling mode {mode!r} is not mean pooling")


class OnnxQueryEncoder:
    """Encodes texts like ``SentenceTransformer.encode(normalize_embeddings=True)``, via onnxruntime."""

    def __init__(self, model: Any, cache_dir: Path, *, max_seq_length: int, threads: int = 1) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise OnnxUnavailable("onnxruntime is not installed") from None
        _check_pipeline(model)
        import copy
        import threading

        # A fast tokenizer keeps its truncation length as mutable state: sharing the passage
        # embedder's (256 tokens) while switching to 128 here fails with "Already borrowed" when
        # two chat turns tokenize at once. An own copy, and one call at a time through it.
        self.tokenizer = copy.deepcopy(model.tokenizer)
        self._lock = threading.Lock()
        self.max_seq_length = max_seq_length
        path = Path(cache_dir) / f"{_slug(model)}-{_weights_key(model)}.onnx"
        if not path.is_file():
            _export(model, path)
        so = ort.SessionOptions()
        so.intra_op_num_threads = max(1, threads)
        so.inter_op_num_threads = 1
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        except Exception as err:  # a damaged cache file: drop it so the next start re-exports
            path.unlink(missing_ok=True)
            raise OnnxUnavailable(f"could not load {path.name}: {' '.join(str(err).split())[:200]}") from None
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.path = path

    def encode(self, texts: list[str]) -> np.ndarray:
        import numpy as np

        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        with self._lock:
            batch = self.tokenizer(
                texts, padding=True, truncation=True, max_length=self.max_seq_length, return_tensors="np"
            )
        feeds = {name: np.asarray(batch[name], dtype=np.int64) for name in self.input_names}
        hidden = self.session.run(None, feeds)[0]
        return _mean_normalise(hidden, feeds["attention_mask"])


def _slug(model: Any) -> str:
    name = str(getattr(model[0].auto_model.config, "_name_or_path", "") or "model")
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name.rstrip("/").split("/")[-1])[:60] or "model"


def _mean_normalise(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    import numpy as np

    m = mask[..., None].astype(np.float32)
    pooled = (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
    norm = np.linalg.norm(pooled, axis=1, keepdims=True)
    return (pooled / np.clip(norm, 1e-12, None)).astype(np.float32)


def _export(model: Any, path: Path) -> None:
    """Export the transformer to ``path`` (atomically) and check it against PyTorch."""
    import copy

    import numpy as np
    import onnxruntime as ort
    import torch

    auto = copy.deepcopy(model[0].auto_model).eval().to("cpu")
    # Fused SDPA attention does not trace to a mask-aware graph; eager attention does.
    try:
        auto.set_attn_implementation("eager")
    except Exception as err:
        raise OnnxUnavailable(f"cannot switch the model to eager attention: {err}") from None
    tok = model.tokenizer
    sample = tok(_PROBES, padding=True, truncation=True, max_length=64, return_tensors="pt")
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in sample]

    class _Wrapped(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, *args: Any) -> Any:
            return self.inner(**dict(zip(names, args, strict=True))).last_hidden_state

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".onnx.tmp")
        os.close(fd)
    except OSError as err:
        raise OnnxUnavailable(f"cannot write the ONNX export under {path.parent}: {err}") from None
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                _Wrapped(auto),
                tuple(sample[n] for n in names),
                tmp,
                input_names=names,
                output_names=["last_hidden_state"],
                dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]},
                opset_version=17,
                dynamo=False,
            )
        so = ort.SessionOptions()
        so.log_severity_level = 3
        sess = ort.InferenceSession(tmp, so, providers=["CPUExecutionProvider"])
        probe = tok(_PROBES, padding=True, truncation=True, max_length=256, return_tensors="np")
        feeds = {n: np.asarray(probe[n], dtype=np.int64) for n in names}
        got = _mean_normalise(sess.run(None, feeds)[0], feeds["attention_mask"])
        want = np.asarray(model.encode(_PROBES, normalize_embeddings=True, convert_to_numpy=True), dtype=np.float32)
        diff = float(np.abs(got - want).max())
        if diff > _TOLERANCE:
            raise OnnxUnavailable(f"exported model differs from PyTorch by {diff:.2e}")
        os.replace(tmp, path)
        log.info("exported query encoder to %s (max difference %.1e)", path, diff)
    except OnnxUnavailable:
        raise
    except Exception as err:
        raise OnnxUnavailable(f"ONNX export failed: {' '.join(str(err).split())[:200]}") from None
    finally:
        Path(tmp).unlink(missing_ok=True)
