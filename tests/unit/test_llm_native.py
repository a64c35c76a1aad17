"""The C decode step (chatbot/llm/decode_step.c) against a torch re-statement of its arithmetic,
plus its build cache and the fallbacks when it cannot be built."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
import torch

from chatbot.llm import native_step
from chatbot.llm.cpu_fast import FastDecoder
from chatbot.llm.hf import HFGenerator
from chatbot.settings import LLMSettings
from tests.unit.llm_tiny import SCRATCH, save_tiny_llama

pytestmark = pytest.mark.skipif(native_step.unavailable_reason() is not None, reason="no AVX2 or no C compiler")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Any:
    path = save_tiny_llama(tmp_path_factory.mktemp("native") / "llama", hidden=64, layers=3)
    return HFGenerator(LLMSettings(model=str(path), cpu_int8=False, fast_decoder=False), SCRATCH).model


@pytest.fixture(scope="module")
def lib() -> Any:
    return native_step.load_library(SCRATCH)


def quantize_like_kernel(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric per-tensor int8, round half to even (the kernel's vcvtps2dq default)."""
    amax = x.abs().max()
    if amax == 0:
        return torch.zeros_like(x, dtype=torch.long), amax
    return torch.round(x * (127.0 / amax)).long(), amax / 127.0


def reference_step(dec: FastDecoder, q8: dict[str, tuple[torch.Tensor, torch.Tensor]], token: int) -> torch.Tensor:
    """One token through the kernel's arithmetic in torch: int8 x int8 products with integer
    accumulation, float32 everything else, keys and values stored in the decoder's cache (half
    precision, as the C step keeps it)."""
    pos = dec.length
    dec._ensure_capacity(pos + 1)
    assert dec._k is not None and dec._v is not None and dec._cos is not None and dec._sin is not None
    nh, nkv, hd, eps = dec.n_heads, dec.n_kv, dec.head_dim, dec.eps
    group, half = nh // nkv, hd // 2
    norms = dec._norms

    def rms(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean() + eps) * w

    def lin(x: torch.Tensor, name: str) -> torch.Tensor:
        w, s = native_step.kernel_weights(*q8[name])
        xq, sx = quantize_like_kernel(x)
        return (w.long() @ xq).float() * sx * s

    def rope(v: torch.Tensor) -> torch.Tensor:
        cos, sin = dec._cos[pos], dec._sin[pos]
        return v * cos + torch.cat((-v[..., half:], v[..., :half]), -1) * sin

    x = dec.embed[token].clone()
    for i in range(dec.n_layers):
        qkv = lin(rms(x, norms[f"{i}.norm1"]), f"{i}.qkv").view(nh + 2 * nkv, hd)
        q, k, v = rope(qkv[:nh]), rope(qkv[nh : nh + nkv]), qkv[nh + nkv :]
        dec._k[i, :, pos], dec._v[i, :, pos] = k, v
        keys, values = dec._k[i, :, : pos + 1].float(), dec._v[i, :, : pos + 1].float()
        att = torch.empty(nh, hd)
        for h in range(nh):
            p = ((keys[h // group] @ q[h]) * hd**-0.5).softmax(-1)
            att[h] = p @ values[h // group]
        x = x + lin(att.reshape(-1), f"{i}.o")
        gate, up = lin(rms(x, norms[f"{i}.norm2"]), f"{i}.gate_up").split(dec.inter)
        x = x + lin(torch.nn.functional.silu(gate) * up, f"{i}.down")
    dec.length = pos + 1
    return lin(rms(x, norms["final_norm"]), "lm_head")


def int8_weights(dec: FastDecoder) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    native = dec._native
    assert native is not None
    return native._quantized


def test_matvec_is_exact_integer_arithmetic(lib: Any) -> None:
    torch.manual_seed(0)
    for n, k in [(7, 64), (96, 576), (333, 1536)]:  # row counts off the 4-row groups too
        q = torch.randint(-128, 128, (n, k), dtype=torch.int8)
        q[0, :5] = -128  # the kernel's copy turns these into -127
        scale = torch.rand(n) * 0.01
        for x in (torch.randn(k) * 3, torch.zeros(k)):
            for threads in (1, 2):
                got = native_step.matvec(lib, q, scale, x, threads)
                xq, sx = quantize_like_kernel(x)
                want = (q.clamp(min=-127).long() @ xq).float() * sx * scale
                assert torch.allclose(got, want, rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="unsupported shape"):
        native_step.matvec(lib, torch.zeros(4, 40, dtype=torch.int8), torch.ones(4), torch.ones(40))


@pytest.mark.parametrize("threads", [1, 2])
def test_step_matches_its_torch_restatement(tiny_model: Any, tmp_path: Path, threads: int) -> None:
    """Prefill through the Python path, then 12 tokens through C and through the torch
    reference from identical caches: logits and the KV rows written agree."""
    dec = FastDecoder(tiny_model, int8=True, native_dir=SCRATCH)
    ref = FastDecoder(tiny_model, int8=True, native_dir=SCRATCH)  # the same float16 cache
    assert dec.native and dec.native_reason == ""
    weights = int8_weights(dec)
    ids = list(range(3, 40))
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with torch.inference_mode():
            for d in (dec, ref):
                d.reset()
                d.forward(ids[:25])
            ref._norms = dec._norms  # same smoothing (none: no calibration), same tensors
            for token in ids[25:]:
                got = dec.forward([token])
                want = reference_step(ref, weights, token)
                assert got is not None and got.shape == want.shape
                assert torch.allclose(got, want, rtol=1e-3, atol=1e-3 * float(want.abs().max()))
            end = dec.length
            assert end == ref.length == len(ids)
            assert dec._k is not None and ref._k is not None and dec._v is not None and ref._v is not None
            assert dec._k.dtype == torch.float16
            assert torch.allclose(dec._k[:, :, :end].float(), ref._k[:, :, :end].float(), rtol=2e-3, atol=2e-3)
            assert torch.allclose(dec._v[:, :, :end].float(), ref._v[:, :, :end].float(), rtol=2e-3, atol=2e-3)
            assert dec.forward([5], logits=False) is None and dec.length == end + 1
    finally:
        torch.set_num_threads(before)


def test_step_stays_close_to_float(tiny_model: Any) -> None:
    exact = FastDecoder(tiny_model, int8=False)
    dec = FastDecoder(tiny_model, int8=True, native_dir=SCRATCH)
    assert dec.native
    ids = list(range(3, 60))
    with torch.inference_mode():
        for d in (exact, dec):
            d.reset()
            d.forward(ids[:30])
        for token in ids[30:]:
            a, b = exact.forward([token]), dec.forward([token])
            assert a is not None and b is not None
            assert torch.nn.functional.cosine_similarity(a, b, dim=0) > 0.99


def test_library_is_built_once_and_reused(tmp_path: Path) -> None:
    first = native_step.load_library(tmp_path)
    built = native_step.library_path(tmp_path)
    stamp = built.stat().st_mtime_ns
    second = native_step.load_library(tmp_path)
    assert built.stat().st_mtime_ns == stamp and first.hb_abi() == second.hb_abi() == native_step.ABI
    assert [p.name for p in (tmp_path / "kernels").iterdir()] == [built.name]  # no temporary left


def test_no_compiler_falls_back_to_the_python_step(
    tiny_model: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(native_step, "_compiler", lambda: None)
    with caplog.at_level(logging.WARNING):
        dec = FastDecoder(tiny_model, int8=True, native_dir=tmp_path)
    assert not dec.native and "no C compiler" in dec.native_reason
    assert "Python step runs instead" in caplog.text
    with torch.inference_mode():
        dec.reset()
        assert dec.forward(list(range(3, 20))) is not None and dec.forward([4]) is not None
    assert not (tmp_path / "kernels").exists()


def test_failed_build_falls_back_and_leaves_no_file(
    tiny_model: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "decode_step.c"
    broken.write_text("int hb_abi(void) { return ; }\nthis is not C\n")
    monkeypatch.setattr(native_step, "SOURCE", broken)
    dec = FastDecoder(tiny_model, int8=True, native_dir=tmp_path / "cache")
    assert not dec.native and "failed on decode_step.c" in dec.native_reason
    assert list((tmp_path / "cache" / "kernels").iterdir()) == []


def test_generator_setting_turns_it_off(tmp_path: Path) -> None:
    path = save_tiny_llama(tmp_path / "llama", hidden=64, layers=2)
    on = HFGenerator(LLMSettings(model=str(path)), SCRATCH)
    off = HFGenerator(LLMSettings(model=str(path), native_kernel=False), SCRATCH)
    assert on.lean_decoder is not None and on.lean_decoder.native
    assert off.lean_decoder is not None and not off.lean_decoder.native
    assert off.lean_decoder.native_reason == "llm.native_kernel is off"


def test_cache_growth_mid_decode_changes_nothing(tiny_model: Any) -> None:
    """The KV cache grows (reallocated, copied) when decoding crosses its capacity: the C step
    must pick up the new tensors and give exactly what a cache allocated large from the start gives."""
    grown, roomy = (FastDecoder(tiny_model, int8=True, native_dir=SCRATCH) for _ in range(2))
    for dec in (grown, roomy):
        dec.max_positions = 4096  # the tiny config says 256; its RoPE works for any position
    ids = [3 + (i * 7) % 200 for i in range(540)]
    with torch.inference_mode():
        roomy._ensure_capacity(1024)
        out = {}
        for name, dec in (("grown", grown), ("roomy", roomy)):
            dec.reset()
            dec.forward(ids[:500])
            assert dec.capacity == (512 if name == "grown" else 1024)
            out[name] = torch.stack([dec.forward([t]) for t in ids[500:]])  # type: ignore[misc]
        assert grown.capacity == 1024 and grown.native
    assert torch.equal(out["grown"], out["roomy"])
