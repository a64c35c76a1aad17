"""In-process transformers backend (``llm.mode: hf``): the generator that streams answers.

Loading and quantizing the model live in :mod:`chatbot.llm.hf_loader`, checking and attaching a
LoRA adapter in :mod:`chatbot.llm.hf_adapter`; their public names are importable from here too.

Decoding is a hand-written loop over the model's forward pass with a KV cache rather than
``model.generate`` + ``TextIteratorStreamer``: it runs in the caller's thread (no helper thread
to leak when a client goes away), can stop the moment a stop string or a degenerate loop
appears, and applies the repetition controls to the *answer* only. ``generate`` applies them to
the whole sequence, which for a retrieval prompt forbids quoting four words of a source.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chatbot.llm.base import GenerationError, GenerationParams
from chatbot.llm.calibration import FALLBACK_CALIBRATION
from chatbot.llm.chat_template import render_chat
from chatbot.llm.cpu_fast import SMOOTH_ALPHA, FastDecoder, int8_available, int8_cache_path, unsupported_reason
from chatbot.llm.hf_adapter import attach_adapter, check_adapter, resolve_adapter
from chatbot.llm.hf_loader import has_float_linear, load_model, quantize_int8_dynamic, resolve_device
from chatbot.llm.hf_model import LoadedModel, one_line
from chatbot.llm.streaming import RepetitionGuard, StopMatcher
from chatbot.settings import LLMSettings
from chatbot.types import ChatMessage

if TYPE_CHECKING:
    import torch

__all__ = [
    "PREFILL_BLOCK",
    "GenerationStats",
    "HFGenerator",
    "LoadedModel",
    "attach_adapter",
    "check_adapter",
    "load_model",
    "resolve_adapter",
    "resolve_device",
]

log = logging.getLogger(__name__)

# A prompt longer than this many characters per allowed token cannot fit even in the best
# case, so it is refused before tokenizing (a 1 MB paste must not stall the server).
_MAX_CHARS_PER_TOKEN = 12
# Prompt tokens are processed in blocks of this size, aligned to absolute positions (see
# HFGenerator._decode_tokens); it is also the granularity of prefix-cache reuse. 128 rather
# than 64: larger int8 GEMMs cut a 959-token prompt from 1.53 to 1.43 s (256: 1.30 s, but the
# 128-token system prompt would no longer be reusable across conversations).
PREFILL_BLOCK = 128


@dataclass
class GenerationStats:
    """Counters of the latest stream, for timings and benchmarks."""

    prompt_tokens: int = 0
    new_tokens: int = 0
    reused_prompt_tokens: int = 0  # prompt tokens whose KV came from the prefix cache
    first_token_s: float | None = None  # prompt processed + first token picked
    total_s: float = 0.0  # until the last token was picked

    @property
    def decode_tokens_per_s(self) -> float | None:
        if self.first_token_s is None or self.new_tokens < 2 or self.total_s <= self.first_token_s:
            return None
        return (self.new_tokens - 1) / (self.total_s - self.first_token_s)


class HFGenerator:
    """:class:`chatbot.llm.base.Generator` over a transformers causal LM."""

    def __init__(
        self,
        settings: LLMSettings,
        cache_dir: Path,
        *,
        loaded: LoadedModel | None = None,
        calibration: Sequence[ChatMessage] | None = None,
    ) -> None:
        """``calibration``: a prompt shaped like the caller's real ones, which the int8 smoothing
        is fitted to (the service passes its retrieval prompt); default: a generic one."""
        self.settings = settings
        self._calibration = list(calibration) if calibration else list(FALLBACK_CALIBRATION)
        t0 = time.perf_counter()
        self.loaded = loaded or load_model(settings, cache_dir)
        self.tokenizer = self.loaded.tokenizer
        self._fast = self._cpu_decoder(cache_dir)
        self.load_seconds = time.perf_counter() - t0
        self.model = self.loaded.model
        self.device = self.loaded.device
        self._lock = threading.Lock()
        self.last_stats = GenerationStats()
        # (token ids already in the cache, the cache): reused by the next prompt sharing a prefix
        self._prefix: tuple[list[int], Any, int] | None = None
        self._eos_ids = self._collect_eos_ids()
        base = Path(self.loaded.checkpoint).name or self.loaded.checkpoint
        parts = [f"hf:{base}"]
        if settings.quantization != "none":
            parts.append(settings.quantization)
        if self.loaded.adapter:
            parts.append(f"lora:{Path(self.loaded.adapter).name}")
        self.name = "+".join(parts)
        ctx = getattr(self.model.config, "max_position_embeddings", None)
        self.context_length = int(ctx) if ctx else 2048
        log.info("loaded %s on %s in %.1f s", self.name, self.device, self.load_seconds)

    def _cpu_decoder(self, cache_dir: Path) -> FastDecoder | None:
        """The lean decoder when the model allows it (``llm.fast_decoder``), int8 or float as
        ``llm.cpu_int8`` says; otherwise transformers' forward, int8-quantized by torch.ao
        when ``llm.cpu_int8`` is on and the model is a plain float model on CPU."""
        s, loaded = self.settings, self.loaded
        if loaded.device != "cpu" or s.quantization != "none":
            return None
        int8 = s.cpu_int8 and int8_available()
        reason = unsupported_reason(loaded.model, loaded.device) if s.fast_decoder else "llm.fast_decoder is off"
        if reason is None:
            if not int8:
                return FastDecoder(loaded.model, int8=False)
            calibration = self._calibration_ids()
            salt = f"{SMOOTH_ALPHA}:{calibration}"
            cache = int8_cache_path(cache_dir, loaded.checkpoint, loaded.base_sha256, loaded.adapter, salt=salt)
            fast = FastDecoder(
                loaded.model,
                int8=True,
                int8_cache=cache,
                calibration=calibration,
                smooth_alpha=SMOOTH_ALPHA,
                native_dir=cache_dir if s.native_kernel else None,
            )
            loaded.quantization = "int8-dynamic"
            return fast
        log.info("lean CPU decoder not used: %s", reason)
        if s.cpu_int8 and has_float_linear(loaded.model):
            quantize_int8_dynamic(loaded)
        return None

    @property
    def lean_decoder(self) -> FastDecoder | None:
        """The lean CPU decoder in use, or None (transformers' forward)."""
        return self._fast

    def _calibration_ids(self) -> list[int]:
        """The calibration prompt's token ids, cut to what a prompt may hold: the activation
        ranges the int8 smoothing is fitted to."""
        ids = self._template(self._calibration)
        ctx = getattr(self.loaded.model.config, "max_position_embeddings", None) or 1024
        return ids[: min(self.settings.max_prompt_tokens, 1024, int(ctx))]

    def _collect_eos_ids(self) -> set[int]:
        ids: set[int] = set()
        for value in (self.tokenizer.eos_token_id, getattr(self.model.generation_config, "eos_token_id", None)):
            if isinstance(value, int):
                ids.add(value)
            elif isinstance(value, list):
                ids.update(v for v in value if isinstance(v, int))
        for tok in ("<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<end_of_turn>"):
            tid = self.tokenizer.convert_tokens_to_ids(tok)
            if isinstance(tid, int) and tid != self.tokenizer.unk_token_id and tid >= 0:
                ids.add(tid)
        return ids

    # --- prompt -----------------------------------------------------------------------------

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False))

    def _template(self, messages: list[ChatMessage]) -> list[int]:
        chat = [{"role": m.role, "content": m.content} for m in messages]
        if getattr(self.tokenizer, "chat_template", None):
            from jinja2.exceptions import TemplateError

            try:
                # Folds the system message into the first user turn for templates without a
                # system role (Gemma-2, Mistral-v0.1), as fine-tuning does (chat_template.py).
                out = render_chat(self.tokenizer, chat, tokenize=True)
            except TemplateError as err:
                raise GenerationError(
                    f"the chat template of llm.model {self.loaded.base_label!r} rejects this conversation: "
                    f"{one_line(err, 160)}"
                ) from None
            ids: Any = out["input_ids"] if hasattr(out, "keys") else out
            return [int(i) for i in ids]
        # Base models without a template: plain "role: text" lines and an open assistant turn.
        text = "\n".join(f"{m.role}: {m.content}" for m in messages) + "\nassistant:"
        return [int(i) for i in self.tokenizer.encode(text)]

    def encode_prompt(self, messages: list[ChatMessage]) -> list[int]:
        """Token ids of the chat prompt, fitted into ``llm.max_prompt_tokens``.

        Policy: the system messages and the last message are always kept whole; when the
        prompt is too long the *oldest* other messages (earlier turns) are dropped one at a time.
        If the kept part alone is still too long, a GenerationError asks to shorten it: cutting
        into the question or the sources would answer something the user did not ask.
        """
        if not messages or not any(m.content.strip() for m in messages) or not messages[-1].content.strip():
            raise GenerationError("empty prompt: send a non-empty message")
        limit = self.settings.max_prompt_tokens
        kept = [m for m in messages[:-1] if m.role == "system"] + [messages[-1]]
        chars = sum(len(m.content) for m in kept)
        if chars > limit * _MAX_CHARS_PER_TOKEN:
            raise GenerationError(
                f"prompt is {chars:,} characters, far over llm.max_prompt_tokens={limit}: shorten the message"
            )
        msgs = list(messages)
        ids = self._template(msgs)
        dropped = 0
        while len(ids) > limit:
            idx = next((i for i, m in enumerate(msgs[:-1]) if m.role != "system"), None)
            if idx is None:
                raise GenerationError(
                    f"prompt is {len(ids)} tokens, over llm.max_prompt_tokens={limit}: "
                    "shorten the message or raise llm.max_prompt_tokens"
                )
            del msgs[idx]
            dropped += 1
            ids = self._template(msgs)
        if dropped:
            log.info("dropped the %d oldest message(s) to fit llm.max_prompt_tokens=%d", dropped, limit)
        return ids

    # --- decoding ---------------------------------------------------------------------------

    def stream(self, messages: list[ChatMessage], params: GenerationParams | None = None) -> Iterator[str]:
        params = params or GenerationParams()
        prompt_ids = self.encode_prompt(messages)
        cap = self.settings.max_new_tokens
        max_new = min(params.max_new_tokens, cap) if params.max_new_tokens else cap
        max_new = max(0, min(max_new, self.context_length - len(prompt_ids)))
        temperature = self.settings.temperature if params.temperature is None else params.temperature
        return self._stream(prompt_ids, max_new, temperature, params.stop)

    def _stream(self, prompt_ids: list[int], max_new: int, temperature: float, stops: tuple[str, ...]) -> Iterator[str]:
        import torch

        with self._lock, torch.inference_mode():
            guard = RepetitionGuard(self.settings.max_repeated_ngram)
            matcher = StopMatcher(stops)
            generated: list[int] = []
            emitted = ""
            rng = torch.Generator(device="cpu").manual_seed(self.settings.seed)
            stats = self.last_stats = GenerationStats(prompt_tokens=len(prompt_ids))
            t0 = time.perf_counter()
            for token in self._decode_tokens(prompt_ids, max_new, temperature, rng):
                generated.append(token)
                now = time.perf_counter()
                if stats.first_token_s is None:
                    stats.first_token_s = now - t0
                stats.new_tokens = len(generated)
                stats.total_s = now - t0
                text: str = self.tokenizer.decode(generated, skip_special_tokens=True)
                if text.endswith("\ufffd"):
                    continue  # half of a multi-byte character; wait for the rest
                delta, emitted = text[len(emitted) :], text
                if not delta:
                    continue
                out, stopped = matcher.push(delta)
                if out:
                    yield out
                if stopped:
                    return
                if guard.feed(delta):
                    log.info("stopped a repeating answer after %d tokens", len(generated))
                    return
            tail = matcher.flush()
            if tail:
                yield tail

    def _decode_tokens(
        self, prompt_ids: list[int], max_new: int, temperature: float, rng: torch.Generator
    ) -> Iterator[int]:
        from transformers import DynamicCache

        s = self.settings
        cache, reused = self._take_prefix(prompt_ids)
        if cache is None:
            cache = self._fast.reset() if self._fast is not None else DynamicCache()
        self.last_stats.reused_prompt_tokens = reused
        # The prompt is processed in blocks aligned to absolute positions, so the KV of a block
        # depends only on the tokens up to its end: a prefix reused from the cache is then
        # bit-identical to recomputing it, even with int8 dynamic quantization (whose
        # activation scale is per batch of tokens). Answers do not depend on the cache state.
        pos, logits = reused, None
        try:
            while pos < len(prompt_ids):
                end = min(len(prompt_ids), (pos // PREFILL_BLOCK + 1) * PREFILL_BLOCK)
                logits = self._forward(prompt_ids[pos:end], cache, last=end == len(prompt_ids))
                pos = end
            self._keep_prefix(prompt_ids, cache)
            seen: list[int] = []
            penalized: set[int] = set()
            banned_after: dict[tuple[int, ...], set[int]] = {}
            n = s.no_repeat_ngram_size
            for step in range(max_new):
                if step:
                    logits = self._forward([seen[-1]], cache, last=True)
                assert logits is not None
                token = self._next_token(logits, seen, penalized, banned_after, temperature, rng)
                if token in self._eos_ids:
                    return
                seen.append(token)
                penalized.add(token)
                if n and len(seen) >= n:
                    banned_after.setdefault(tuple(seen[len(seen) - n : -1]), set()).add(token)
                yield token
        except GeneratorExit:
            raise  # closed between steps (stop string, guard, client gone): the cache is whole
        except BaseException:
            self._prefix = None  # interrupted inside a forward pass: the cache may be half-updated
            raise

    def _forward(self, ids: list[int], cache: Any, *, last: bool) -> torch.Tensor | None:
        """Feed ``ids`` after what ``cache`` holds (the cache is updated in place); the next
        token's float32 logits when ``last``."""
        import torch

        if isinstance(cache, FastDecoder):
            return cache.forward(ids, logits=last)
        device = self.model.device if hasattr(self.model, "device") else self.device
        out = self.model(
            input_ids=torch.tensor([ids], device=device), past_key_values=cache, use_cache=True, logits_to_keep=1
        )
        return out.logits[0, -1].float() if last else None

    def _take_prefix(self, prompt_ids: list[int]) -> tuple[Any, int]:
        """(cache holding the longest reusable prefix of ``prompt_ids``, its length), a multiple
        of PREFILL_BLOCK shorter than the prompt; (None, 0) when nothing can be reused."""
        kept, self._prefix = self._prefix, None
        if kept is None or not self.settings.prefix_cache:
            return None, 0
        ids, cache, canonical = kept
        common = 0
        for a, b in zip(ids, prompt_ids, strict=False):
            if a != b:
                break
            common += 1
        # Whole blocks only, and at least one prompt token left to feed for the first logits.
        common = min(common, canonical, len(prompt_ids) - 1) // PREFILL_BLOCK * PREFILL_BLOCK
        if common == 0:
            return None, 0
        try:
            surplus = cache.get_seq_length() - common
            if surplus > 0:
                cache.crop(-surplus)  # transformers 5: a negative count removes that many tokens
            if cache.get_seq_length() != common:
                return None, 0
        except (RuntimeError, ValueError):  # e.g. sliding-window caches that cannot roll back
            return None, 0
        return cache, common

    def _keep_prefix(self, prompt_ids: list[int], cache: Any) -> None:
        """Remember the prompt's cache; only its whole blocks (``canonical``) are reusable, the
        rest (the last partial block and the answer) is cropped off when it is taken."""
        if not self.settings.prefix_cache:
            return
        try:
            consistent = cache.get_seq_length() == len(prompt_ids)
        except Exception:
            consistent = False
        canonical = len(prompt_ids) // PREFILL_BLOCK * PREFILL_BLOCK
        self._prefix = (list(prompt_ids), cache, canonical) if consistent else None

    def _next_token(
        self,
        logits: torch.Tensor,
        seen: list[int],
        penalized: set[int],
        banned_after: dict[tuple[int, ...], set[int]],
        temperature: float,
        rng: torch.Generator,
    ) -> int:
        import torch

        s = self.settings
        n = s.no_repeat_ngram_size
        if s.repetition_penalty != 1.0 and penalized:
            idx = torch.tensor(sorted(penalized), device=logits.device)
            vals = logits[idx]
            logits[idx] = torch.where(vals > 0, vals / s.repetition_penalty, vals * s.repetition_penalty)
        if n and len(seen) >= n - 1:
            banned = banned_after.get(tuple(seen[len(seen) - n + 1 :]) if n > 1 else ())
            if banned:
                logits[torch.tensor(sorted(banned), device=logits.device)] = float("-inf")
        return self._pick(logits, temperature, rng)

    def _pick(self, logits: torch.Tensor, temperature: float, rng: torch.Generator) -> int:
        import torch

        if temperature <= 0:
            return int(torch.argmax(logits).item())
        probs = torch.softmax(logits / temperature, dim=-1).cpu()
        top_p = self.settings.top_p
        if top_p < 1.0:
            sorted_p, order = torch.sort(probs, descending=True)
            keep = torch.cumsum(sorted_p, dim=-1) - sorted_p < top_p
            sorted_p = torch.where(keep, sorted_p, torch.zeros_like(sorted_p))
            choice = torch.multinomial(sorted_p / sorted_p.sum(), 1, generator=rng)
            return int(order[choice].item())
        return int(torch.multinomial(probs, 1, generator=rng).item())
