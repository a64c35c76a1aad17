"""The C decode step (``decode_step.c``) for the lean int8 decoder: build, load, call.

A 2-thread decode step of the embedded model in ``FastDecoder._step`` takes about 21 ms, of
which only ~9 ms is the int8 weight products; the rest is per-operation dispatch (~25 small
tensor operations per layer) and attention as three batched products that two threads cannot
split evenly. The C step does a whole token in one OpenMP region (see the source's header).

It is plain C called through ctypes, so building it needs a C compiler and nothing from torch
(about a second). The shared library is cached under ``<model_cache_dir>/kernels/``, named
by a hash of the source and flags, and written atomically. Anything missing (no compiler, not
x86-64 with AVX2, a failed build, a shape the kernel does not handle) leaves the Python step
in use, with one log line saying why (``llm.native_kernel`` turns it off outright).
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import platform
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

SOURCE = Path(__file__).with_name("decode_step.c")
ABI = 2  # must match HB_ABI in the source
CFLAGS = ("-O3", "-mavx2", "-mfma", "-mf16c", "-fopenmp", "-shared", "-fPIC", "-std=c11")
_COMPILERS = ("cc", "gcc", "clang")
_build_lock = threading.Lock()


class Dims(ctypes.Structure):
    _fields_ = [
        ("n_layers", ctypes.c_int),
        ("hidden", ctypes.c_int),
        ("n_heads", ctypes.c_int),
        ("n_kv", ctypes.c_int),
        ("head_dim", ctypes.c_int),
        ("inter", ctypes.c_int),
        ("vocab", ctypes.c_int),
        ("cap", ctypes.c_int),
        ("eps", ctypes.c_float),
    ]


class Layer(ctypes.Structure):
    _fields_ = [(name, ctypes.c_void_p) for name in ("norm1", "norm2", "qkv", "o", "gate_up", "down")] + [
        (f"{name}_s", ctypes.c_void_p) for name in ("qkv", "o", "gate_up", "down")
    ]


def unavailable_reason() -> str | None:
    """Why this machine cannot build or run the C step, or None."""
    import torch

    if platform.machine().lower() not in ("x86_64", "amd64"):
        return f"CPU architecture {platform.machine()} (the kernel is x86-64 AVX2)"
    capability = torch.backends.cpu.get_cpu_capability()
    if not capability.startswith(("AVX2", "AVX512")):
        return f"CPU capability {capability} (needs AVX2)"
    if _compiler() is None:
        return "no C compiler (cc, gcc or clang) on PATH"
    return None


def _compiler() -> str | None:
    for name in _COMPILERS:
        found = shutil.which(name)
        if found:
            return found
    return None


def library_path(cache_dir: Path) -> Path:
    digest = hashlib.sha256(SOURCE.read_bytes() + " ".join(CFLAGS).encode()).hexdigest()[:16]
    return cache_dir / "kernels" / f"decode_step-{digest}.so"


def load_library(cache_dir: Path) -> ctypes.CDLL:
    """The compiled step, built into ``cache_dir`` first when needed. Raises RuntimeError."""
    reason = unavailable_reason()
    if reason:
        raise RuntimeError(reason)
    target = library_path(cache_dir)
    with _build_lock:
        if not target.is_file():
            _build(target)
    lib = ctypes.CDLL(str(target))
    if lib.hb_abi() != ABI:
        raise RuntimeError(f"{target.name} has ABI {lib.hb_abi()}, expected {ABI}")
    lib.hb_step.restype = ctypes.c_int
    lib.hb_step.argtypes = [
        ctypes.POINTER(Dims),
        ctypes.POINTER(Layer),
        *[ctypes.c_void_p] * 3,  # final_norm, lm, lm_s
        *[ctypes.c_void_p] * 5,  # emb_row, kcache, vcache, cos_row, sin_row
        ctypes.c_int,  # pos
        ctypes.c_void_p,  # logits
        ctypes.c_int,  # threads
    ]
    lib.hb_matvec.restype = ctypes.c_int
    lib.hb_matvec.argtypes = [*[ctypes.c_void_p] * 2, ctypes.c_int, ctypes.c_int, *[ctypes.c_void_p] * 2, ctypes.c_int]
    return lib


def _build(target: Path) -> None:
    cc = _compiler()
    assert cc is not None
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(fd)
    try:
        try:
            proc = subprocess.run(
                [cc, *CFLAGS, "-o", tmp, str(SOURCE), "-lm"], capture_output=True, text=True, timeout=300, check=False
            )
        except subprocess.SubprocessError as err:  # e.g. the 5-minute timeout
            raise RuntimeError(f"{Path(cc).name} on {SOURCE.name}: {err}") from None
        if proc.returncode != 0:
            detail = " ".join((proc.stderr or proc.stdout).split())[-300:]
            raise RuntimeError(f"{Path(cc).name} failed on {SOURCE.name}: {detail}")
        os.chmod(tmp, 0o755)
        os.replace(tmp, target)  # atomic: another process never loads half a library
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def kernel_weights(q: torch.Tensor, scale: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The kernel's copy of one int8 matrix: -128 becomes -127, because the kernel moves the
    activation's sign onto the weight (vpsignb), and -(-128) does not fit in a byte."""
    import torch

    return q.clamp(min=-127).contiguous(), scale.to(torch.float32).contiguous()


class NativeStep:
    """Runs ``FastDecoder``'s one-token step in C over the decoder's own caches."""

    def __init__(self, lib: ctypes.CDLL, dec: Any, quantized: dict[str, tuple[torch.Tensor, torch.Tensor]]) -> None:
        if dec.hidden % 32 or dec.inter % 32 or dec.head_dim % 16 or dec.n_heads * dec.head_dim != dec.hidden:
            raise RuntimeError(
                f"shape hidden={dec.hidden} intermediate={dec.inter} head_dim={dec.head_dim} is not supported"
            )
        self.lib = lib
        # These hold every tensor whose address the kernel is given.
        mats = {name: kernel_weights(q, s) for name, (q, s) in quantized.items()}
        self._quantized = mats
        norms = {name: w.float().contiguous() for name, w in dec._norms.items()}
        self._norms = norms
        layers = (Layer * dec.n_layers)()
        for i in range(dec.n_layers):
            fields: dict[str, int] = {
                "norm1": self._addr(norms[f"{i}.norm1"]),
                "norm2": self._addr(norms[f"{i}.norm2"]),
            }
            for part in ("qkv", "o", "gate_up", "down"):
                q, s = mats[f"{i}.{part}"]
                fields[part], fields[f"{part}_s"] = self._addr(q), self._addr(s)
            layers[i] = Layer(**fields)
        self._layers = layers
        self._final_norm = self._addr(norms["final_norm"])
        self._lm, self._lm_s = (self._addr(t) for t in mats["lm_head"])
        self.vocab = int(mats["lm_head"][0].shape[0])
        self._embed = dec.embed.float().contiguous()
        self._dec = dec
        # Only the capacity changes between steps (when the cache grows).
        self._dims = Dims(
            dec.n_layers, dec.hidden, dec.n_heads, dec.n_kv, dec.head_dim, dec.inter, self.vocab, 0, dec.eps
        )

    @staticmethod
    def _addr(t: torch.Tensor) -> int:
        return int(t.data_ptr())

    def step(self, token: int, logits: bool) -> torch.Tensor | None:
        """Feed ``token`` at the decoder's current length (its capacity already ensured)."""
        import torch

        dec = self._dec
        pos = dec.length
        self._dims.cap = dec.capacity
        out = torch.empty(self.vocab) if logits else None
        row = dec.head_dim * 4
        rc = self.lib.hb_step(
            ctypes.byref(self._dims),
            self._layers,
            self._final_norm,
            self._lm,
            self._lm_s,
            self._embed.data_ptr() + token * dec.hidden * 4,
            dec._k.data_ptr(),
            dec._v.data_ptr(),
            dec._cos.data_ptr() + pos * row,
            dec._sin.data_ptr() + pos * row,
            pos,
            out.data_ptr() if out is not None else None,
            torch.get_num_threads(),
        )
        if rc != 0:
            raise RuntimeError(f"native decode step failed with code {rc}")
        return out


def matvec(lib: ctypes.CDLL, q: torch.Tensor, scale: torch.Tensor, x: torch.Tensor, threads: int = 1) -> torch.Tensor:
    """``W x`` through the kernel's int8 product (for tests and benchmarks)."""
    import torch

    q, scale = kernel_weights(q, scale)
    x = x.float().contiguous()
    out = torch.empty(q.shape[0])
    rc = lib.hb_matvec(q.data_ptr(), scale.data_ptr(), q.shape[0], q.shape[1], x.data_ptr(), out.data_ptr(), threads)
    if rc != 0:
        raise ValueError(f"hb_matvec: unsupported shape {tuple(q.shape)}")
    return out
