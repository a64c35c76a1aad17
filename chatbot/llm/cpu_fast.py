"""Lean CPU decoder for Llama-architecture models (``llm.fast_decoder``).

transformers' eager forward spends part of every generated token outside the matrix
products (per-step mask and position bookkeeping, a KV cache that concatenates, i.e. copies,
every layer's keys and values each step, seven separate projections per layer); on 2 cores
that is about a fifth of a float32 decode step for the embedded 30-layer model. This module runs the *same weights* (after the LoRA
adapter is merged) through a minimal forward pass:

- q/k/v and gate/up projections fused into one matrix each (4 products per layer, not 7);
- a preallocated KV cache written in place (no concatenation), whose length can be cut back
  for the prefix cache;
- rotary tables computed once by the model's own rotary module;
- optionally (``llm.cpu_int8``) int8 weights with per-output-channel scales through torch's
  fbgemm dynamic-quantized linear, tied lm_head included, with per-token activation scaling
  and SmoothQuant (see ``FastDecoder._to_int8``). Decoding is memory-bound: int8 reads a
  quarter of fp32's bytes. The quantized weights are cached on disk next to the converted
  model, so a load does not pay for quantizing again (:mod:`chatbot.llm.int8_weights`).

With int8 weights on x86-64 AVX2 the one-token step runs in C instead (``llm.native_kernel``,
``decode_step.c`` via ``native_step.py``), over the same weights and a float16 KV cache; the
prompt keeps this module's batched path.

In float32 it reproduces transformers' logits to float rounding (see tests/unit/test_llm_fast.py);
anything it does not support (other architectures, biases, dynamic RoPE, quantized or
unmerged-adapter models, GPUs) keeps the transformers forward pass.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chatbot.llm.int8_weights import INT8_FORMAT, int8_available, int8_cache_path, load_int8, prepack, save_int8

# Imported under the old name, looked up here at each load: tests patch cpu_fast._quantize to
# prove the cached int8 weights are used.
from chatbot.llm.int8_weights import quantize as _quantize

if TYPE_CHECKING:
    import torch

    from chatbot.llm.native_step import NativeStep

log = logging.getLogger(__name__)

_STATIC_ROPE = ("default", "linear", "llama3")
# SmoothQuant migration strength (see FastDecoder._to_int8); 0.5 is the paper's default.
SMOOTH_ALPHA = 0.5
# KV capacity grows in steps of this many positions (each growth copies the cache once).
_CAPACITY_STEP = 512


def unsupported_reason(model: Any, device: str) -> str | None:
    """Why ``model`` cannot run on the lean decoder, or None when it can."""
    import torch

    if device != "cpu":
        return f"device {device}"
    if type(model).__name__.startswith("Peft"):
        return "the adapter is not merged"
    cfg = getattr(model, "config", None)
    if getattr(cfg, "model_type", None) != "llama":
        return f"model type {getattr(cfg, 'model_type', None)!r} (only llama)"
    if getattr(cfg, "quantization_config", None) is not None or getattr(model, "is_quantized", False):
        return "bitsandbytes-quantized weights"
    if getattr(cfg, "attention_bias", False) or getattr(cfg, "mlp_bias", False):
        return "projection biases"
    if getattr(cfg, "hidden_act", "silu") != "silu" or getattr(cfg, "pretraining_tp", 1) != 1:
        return "non-standard activation or tensor-parallel layout"
    inner = getattr(model, "model", None)
    rotary = getattr(inner, "rotary_emb", None)
    if rotary is None or getattr(rotary, "rope_type", "default") not in _STATIC_ROPE:
        return f"RoPE type {getattr(rotary, 'rope_type', None)!r}"
    try:
        params = list(model.parameters())
    except Exception:
        return "no parameters"
    if not params or any(p.dtype != torch.float32 or p.device.type != "cpu" for p in params):
        return "weights are not float32 CPU tensors"
    return None


class FastDecoder:
    """Runs a merged float Llama model with an in-place KV cache; one sequence at a time.

    Implements the two cache methods the generator's prefix cache uses
    (``get_seq_length`` and ``crop``), so it stands in for a transformers cache.
    """

    step_path = True  # False: one-token steps through the general forward (for comparison)

    def __init__(
        self,
        model: Any,
        *,
        int8: bool,
        int8_cache: Path | None = None,
        calibration: list[int] | None = None,
        smooth_alpha: float = 0.5,
        native_dir: Path | None = None,
    ) -> None:
        import torch

        cfg = model.config
        inner = model.model
        self.n_heads = int(cfg.num_attention_heads)
        self.n_kv = int(getattr(cfg, "num_key_value_heads", None) or self.n_heads)
        self.hidden = int(cfg.hidden_size)
        self.head_dim = int(getattr(cfg, "head_dim", None) or self.hidden // self.n_heads)
        self.inter = int(cfg.intermediate_size)
        self.eps = float(cfg.rms_norm_eps)
        self.max_positions = int(getattr(cfg, "max_position_embeddings", 0) or 1 << 30)
        self.int8 = int8
        self._rotary = inner.rotary_emb
        self.embed = inner.embed_tokens.weight.detach()
        # RMSNorm weights by name ("{i}.norm1", "{i}.norm2", "final_norm") and projection
        # matrices ("{i}.qkv", "{i}.o", "{i}.gate_up", "{i}.down", "lm_head")
        norms: dict[str, torch.Tensor] = {"final_norm": inner.norm.weight.detach()}
        mats: dict[str, torch.Tensor] = {}
        for i, layer in enumerate(inner.layers):
            att, mlp = layer.self_attn, layer.mlp
            norms[f"{i}.norm1"] = layer.input_layernorm.weight.detach()
            norms[f"{i}.norm2"] = layer.post_attention_layernorm.weight.detach()
            mats[f"{i}.qkv"] = torch.cat([att.q_proj.weight, att.k_proj.weight, att.v_proj.weight]).detach()
            mats[f"{i}.o"] = att.o_proj.weight.detach()
            mats[f"{i}.gate_up"] = torch.cat([mlp.gate_proj.weight, mlp.up_proj.weight]).detach()
            mats[f"{i}.down"] = mlp.down_proj.weight.detach()
        mats["lm_head"] = model.get_output_embeddings().weight.detach()
        self.n_layers = len(inner.layers)
        self._norms = norms
        self._weights: dict[str, Any] = mats
        self._amax: dict[str, torch.Tensor] | None = None
        self._k: torch.Tensor | None = None
        self._v: torch.Tensor | None = None
        self._cos: torch.Tensor | None = None
        self._sin: torch.Tensor | None = None
        self.capacity = 0
        self.length = 0
        # One-token steps apply RoPE as a product with a per-position rotation matrix: the
        # signs of rotate_half laid out as a matrix, scaled by sin once per token.
        half = self.head_dim // 2
        sign = torch.zeros(self.head_dim, self.head_dim)
        sign[torch.arange(half) + half, torch.arange(half)] = -1.0
        sign[torch.arange(half), torch.arange(half) + half] = 1.0
        self._rot_sign = sign
        self._layers: list[tuple[Any, ...]] = []
        self._k_layers: list[torch.Tensor] = []
        self._v_layers: list[torch.Tensor] = []
        self._native: NativeStep | None = None
        self.native_reason = "float32 weights (the C step is int8 only)" if not int8 else "llm.native_kernel is off"
        if int8:
            quantized = self._to_int8(int8_cache, calibration, smooth_alpha)
            if native_dir is not None:
                self._native = self._native_step(native_dir, quantized)
        self._bind_layers()

    def _native_step(
        self, cache_dir: Path, quantized: dict[str, tuple[torch.Tensor, torch.Tensor]]
    ) -> NativeStep | None:
        from chatbot.llm.native_step import NativeStep, load_library

        try:
            step = NativeStep(load_library(cache_dir), self, quantized)
        except (RuntimeError, OSError) as err:
            self.native_reason = " ".join(str(err).split())[:300]
            log.warning("C decode step not used (%s); the Python step runs instead", self.native_reason)
            return None
        self.native_reason = ""
        return step

    @property
    def native(self) -> bool:
        """Whether one-token steps run in C (``decode_step.c``)."""
        return self._native is not None

    # --- weights ----------------------------------------------------------------------------

    def _to_int8(
        self, cache: Path | None, calibration: list[int] | None, alpha: float
    ) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """Swap the float matrices for prepacked int8 ones, from the disk cache when it is there.

        The activations are quantized per tensor to 7 bits at run time, and a few input
        channels of a transformer carry much larger values than the rest, which costs the
        others their precision. SmoothQuant (Xiao et al., 2023) moves that range into the
        weights: input channel j is divided by s_j and the matching weight column multiplied
        by it, with the division folded into the preceding RMSNorm weight (or, for o_proj and
        down_proj, into the rows of v_proj and up_proj), so the float function is unchanged.
        s_j = amax(x_j)^alpha / amax(W_j)^(1-alpha), amax(x_j) measured on ``calibration``.
        """
        shapes = {k: tuple(v.shape) for k, v in self._weights.items()}
        shapes.update({k: tuple(v.shape) for k, v in self._norms.items()})
        cached = load_int8(cache, shapes) if cache else None
        if cached is None:
            if calibration:
                self._smooth(self._calibrate(calibration), alpha)
            quantized = {k: _quantize(w) for k, w in self._weights.items()}
            if cache is not None:
                save_int8(cache, quantized, self._norms)
        else:
            quantized, self._norms = cached
        self._weights = {k: prepack(q, s) for k, (q, s) in quantized.items()}
        return quantized

    def _calibrate(self, ids: list[int]) -> dict[str, torch.Tensor]:
        import torch

        self._amax = {}
        try:
            with torch.inference_mode():
                self.reset()
                for start in range(0, len(ids), 64):
                    self.forward(ids[start : start + 64], logits=start + 64 >= len(ids))
            return self._amax
        finally:
            self._amax = None
            self._k = self._v = None  # allocated under inference_mode: start afresh
            self.capacity = self.length = 0

    def _smooth(self, amax: dict[str, torch.Tensor], alpha: float) -> None:
        import torch

        def factors(name: str, weight: torch.Tensor, groups: int = 1) -> torch.Tensor:
            act = amax[name]
            wmax = weight.abs().amax(dim=0)
            if groups > 1:  # one factor per KV channel, shared by the query heads of its group
                act = act.view(self.n_kv, groups, self.head_dim).amax(dim=1).reshape(-1)
                wmax = wmax.view(self.n_kv, groups, self.head_dim).amax(dim=1).reshape(-1)
            s = act.clamp_min(1e-5).pow(alpha) / wmax.clamp_min(1e-5).pow(1 - alpha)
            return torch.where(act > 0, s, torch.ones_like(s)).clamp(1e-3, 1e3)

        w, norms = self._weights, self._norms
        group = self.n_heads // self.n_kv
        q_rows = self.n_heads * self.head_dim
        kv_rows = self.n_kv * self.head_dim
        for i in range(self.n_layers):
            s = factors(f"{i}.qkv", w[f"{i}.qkv"])
            norms[f"{i}.norm1"] = norms[f"{i}.norm1"] / s
            qkv = w[f"{i}.qkv"] * s
            s_kv = factors(f"{i}.o", w[f"{i}.o"], group)
            qkv[q_rows + kv_rows :] /= s_kv.unsqueeze(1)
            w[f"{i}.qkv"] = qkv
            expand = s_kv.view(self.n_kv, 1, self.head_dim).expand(self.n_kv, group, self.head_dim).reshape(-1)
            w[f"{i}.o"] = w[f"{i}.o"] * expand
            s = factors(f"{i}.gate_up", w[f"{i}.gate_up"])
            norms[f"{i}.norm2"] = norms[f"{i}.norm2"] / s
            gate_up = w[f"{i}.gate_up"] * s
            s_mid = factors(f"{i}.down", w[f"{i}.down"])
            gate_up[self.inter :] /= s_mid.unsqueeze(1)
            w[f"{i}.gate_up"] = gate_up
            w[f"{i}.down"] = w[f"{i}.down"] * s_mid
        s = factors("lm_head", w["lm_head"])
        norms["final_norm"] = norms["final_norm"] / s
        w["lm_head"] = w["lm_head"] * s

    def _bind_layers(self) -> None:
        """Per-layer parameter tuples for the one-token step (no name lookups per token)."""
        w, n = self._weights, self._norms
        self._layers = [
            (n[f"{i}.norm1"], w[f"{i}.qkv"], w[f"{i}.o"], n[f"{i}.norm2"], w[f"{i}.gate_up"], w[f"{i}.down"])
            for i in range(self.n_layers)
        ]

    def weight_bytes(self) -> int:
        """Bytes one decode step reads from weights: every matrix and norm once (KV cache aside)."""
        import torch

        total = sum(t.numel() * t.element_size() for t in self._norms.values())
        for w in self._weights.values():
            if isinstance(w, torch.Tensor):
                total += w.numel() * w.element_size()
            else:  # prepacked int8: one byte per weight plus a float64 scale per output channel
                q = w.unpack()[0]
                total += q.numel() + 8 * q.shape[0]
        return total

    # --- cache (duck-typed like transformers' Cache for the prefix cache) ---------------------

    def reset(self) -> FastDecoder:
        self.length = 0
        return self

    def get_seq_length(self) -> int:
        return self.length

    def crop(self, max_length: int) -> None:
        """transformers semantics: a negative value removes that many positions from the end."""
        keep = self.length + max_length if max_length < 0 else min(self.length, max_length)
        self.length = max(0, keep)

    def _ensure_capacity(self, needed: int) -> None:
        import torch

        if needed <= self.capacity:
            return
        if needed > self.max_positions:
            raise ValueError(f"sequence of {needed} positions exceeds the model's {self.max_positions}")
        cap = min(self.max_positions, max(needed, 2 * self.capacity, _CAPACITY_STEP))
        cap = min(self.max_positions, -(-cap // _CAPACITY_STEP) * _CAPACITY_STEP)
        shape = (self.n_layers, self.n_kv, cap, self.head_dim)
        # With the C step the KV cache is float16: at a 1,000-token context a decode step read
        # 46 MB of float32 keys and values, as much as a third of its time. (The cache is first
        # allocated after __init__: calibration, the only earlier forward pass, drops its own.)
        dtype = torch.float16 if self._native is not None else torch.float32
        k, v = torch.zeros(shape, dtype=dtype), torch.zeros(shape, dtype=dtype)
        if self._k is not None and self._v is not None and self.length:
            k[:, :, : self.length] = self._k[:, :, : self.length]
            v[:, :, : self.length] = self._v[:, :, : self.length]
        self._k, self._v = k, v
        self._k_layers, self._v_layers = list(k.unbind(0)), list(v.unbind(0))
        positions = torch.arange(cap).unsqueeze(0)
        cos, sin = self._rotary(self.embed[:1].unsqueeze(0), positions)
        self._cos, self._sin = cos[0].float().contiguous(), sin[0].float().contiguous()
        self.capacity = cap

    # --- forward ----------------------------------------------------------------------------

    def _linear(self, x: torch.Tensor, name: str) -> torch.Tensor:
        import torch

        if self._amax is not None:
            seen = x.detach().abs().amax(dim=0)
            prev = self._amax.get(name)
            self._amax[name] = seen if prev is None else torch.maximum(prev, seen)
        w = self._weights[name]
        if isinstance(w, torch.Tensor):
            return torch.nn.functional.linear(x, w)
        # reduce_range: 7-bit activations avoid the int16 saturation of AVX2's vpmaddubsw
        if x.shape[0] == 1:
            return torch.ops.quantized.linear_dynamic(x, w, True)
        # The kernel uses one activation scale per call; with several tokens, one token's large
        # values (the first position's are huge) would cost all others their precision. The
        # product is linear in x, so each row is scaled to 1 before and back after: per-token
        # quantization at the price of two elementwise ops.
        r = x.abs().amax(dim=-1, keepdim=True).clamp_min(1e-6)
        return torch.ops.quantized.linear_dynamic(x / r, w, True) * r

    def _rms(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        import torch

        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * weight

    def _step(self, token: int, logits: bool) -> torch.Tensor | None:
        """``forward`` for one token (the decode step) with about half the tensor operations.

        Every small operation costs a few µs of dispatch, ~40 per layer in ``forward``. Here:
        one fused RMSNorm, RoPE for all query and key heads as one small matrix product, the
        softmax scale applied inside the score product, attention as two batched products over
        the KV heads with each group's query heads as rows (no K/V repeat, no mask), in-place
        residual adds. Measured 2-4% faster per token than ``forward`` (most of a step is the
        int8 products and reading the KV cache, both memory-bound).
        """
        import torch

        pos = self.length
        end = pos + 1
        self._ensure_capacity(end)
        assert self._cos is not None and self._sin is not None
        if self._native is not None:
            out = self._native.step(token, logits)
            self.length = end
            return out
        nh, nkv, hd = self.n_heads, self.n_kv, self.head_dim
        group, inter, eps, shape = nh // nkv, self.inter, self.eps, (self.hidden,)
        rot = torch.diag(self._cos[pos]).addcmul_(self._rot_sign, self._sin[pos])
        scale = hd**-0.5
        lin = self._lin_step
        rms = torch.rms_norm
        mm, bmm, baddbmm, silu = torch.mm, torch.bmm, torch.baddbmm, torch.nn.functional.silu
        scores = torch.empty(nkv, group, end)  # beta=0: only its shape matters
        x = self.embed[token : token + 1].clone()
        for (norm1, w_qkv, w_o, norm2, w_gu, w_down), k, v in zip(
            self._layers, self._k_layers, self._v_layers, strict=True
        ):
            qkv = lin(rms(x, shape, norm1, eps), w_qkv).view(nh + 2 * nkv, hd)
            qk = mm(qkv[: nh + nkv], rot)
            k[:, pos] = qk[nh:]
            v[:, pos] = qkv[nh + nkv :]
            q = qk[:nh].view(nkv, group, hd)
            baddbmm(scores, q, k[:, :end].transpose(1, 2), beta=0.0, alpha=scale, out=scores)
            x += lin(bmm(scores.softmax(-1), v[:, :end]).view(1, nh * hd), w_o)
            gate, up = lin(rms(x, shape, norm2, eps), w_gu).split(inter, 1)
            x += lin(silu(gate).mul_(up), w_down)
        self.length = end
        if not logits:
            return None
        return lin(rms(x, shape, self._norms["final_norm"], eps), self._weights["lm_head"])[0]

    def _lin_step(self, x: torch.Tensor, w: Any) -> torch.Tensor:
        import torch

        if isinstance(w, torch.Tensor):
            return torch.nn.functional.linear(x, w)
        return torch.ops.quantized.linear_dynamic.default(x, w, True)

    def forward(self, ids: list[int], *, logits: bool = True) -> torch.Tensor | None:
        """Append ``ids`` at the current length; the last position's logits (float32) or None."""
        import torch
        import torch.nn.functional as F

        n = len(ids)
        if n == 1 and self._amax is None and self.step_path:
            return self._step(ids[0], logits)
        pos, end = self.length, self.length + n
        self._ensure_capacity(end)
        assert self._k is not None and self._v is not None and self._cos is not None and self._sin is not None
        nh, nkv, hd = self.n_heads, self.n_kv, self.head_dim
        group, half = nh // nkv, hd // 2
        x = self.embed[torch.tensor(ids)]
        cos = self._cos[pos:end].unsqueeze(1)
        sin = self._sin[pos:end].unsqueeze(1)
        mask = None
        if n > 1:
            # row r of head group g is query position pos + r % n; it sees keys up to itself
            qpos = torch.arange(pos, end).unsqueeze(1)
            mask = (torch.arange(end).unsqueeze(0) <= qpos).repeat(group, 1)
        norms = self._norms
        for i in range(self.n_layers):
            h = self._rms(x, norms[f"{i}.norm1"])
            qkv = self._linear(h, f"{i}.qkv").view(n, nh + 2 * nkv, hd)
            qk = qkv[:, : nh + nkv]
            qk = qk * cos + torch.cat((-qk[..., half:], qk[..., :half]), dim=-1) * sin
            self._k[i, :, pos:end] = qk[:, nh:].transpose(0, 1)
            self._v[i, :, pos:end] = qkv[:, nh + nkv :].transpose(0, 1)
            keys, values = self._k[i : i + 1, :, :end], self._v[i : i + 1, :, :end]
            if keys.dtype != torch.float32:  # the C step's half-precision cache
                keys, values = keys.float(), values.float()
            if n == 1:
                # one query per head: SDPA's own GQA splits the work over all query heads, which
                # balances two threads better than three KV-head groups (about 10% here)
                q = qk[:, :nh].reshape(1, nh, 1, hd)
                att = F.scaled_dot_product_attention(q, keys, values, enable_gqa=True).reshape(1, nh * hd)
            else:
                # grouped-query attention without repeating K/V: the query heads sharing a KV
                # head become extra rows of that head, so one mask serves all of them
                q = qk[:, :nh].reshape(n, nkv, group, hd).permute(1, 2, 0, 3).reshape(1, nkv, group * n, hd)
                att = F.scaled_dot_product_attention(q, keys, values, attn_mask=mask)
                att = att.reshape(nkv, group, n, hd).permute(2, 0, 1, 3).reshape(n, nh * hd)
            x = x + self._linear(att, f"{i}.o")
            gu = self._linear(self._rms(x, norms[f"{i}.norm2"]), f"{i}.gate_up")
            x = x + self._linear(F.silu(gu[:, : self.inter]) * gu[:, self.inter :], f"{i}.down")
        self.length = end
        if not logits:
            return None
        return self._linear(self._rms(x[-1:], norms["final_norm"]), "lm_head")[0]


__all__ = ["INT8_FORMAT", "SMOOTH_ALPHA", "FastDecoder", "int8_available", "int8_cache_path", "unsupported_reason"]
