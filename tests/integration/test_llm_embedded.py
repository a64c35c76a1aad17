"""The real embedded SmolLM2: GGUF conversion + cache, and 4-bit + LoRA streaming on CPU.

One conversion per module (shared fixture); small token caps keep this around a minute on CI.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chatbot.llm import adapters, cache, native_step
from chatbot.llm.base import GenerationParams
from chatbot.llm.hf import HFGenerator, load_model
from chatbot.settings import LLMSettings
from chatbot.types import ChatMessage

pytestmark = pytest.mark.integration

QUESTION = [ChatMessage("user", "What are the common symptoms of asthma, and when should someone see a doctor?")]


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Convert the embedded GGUF once into a private cache; yields the cache dir and timing."""
    cache_dir = tmp_path_factory.mktemp("models")
    src = cache.gguf_source("embedded", None)
    t0 = time.perf_counter()
    path = cache.ensure_checkpoint(src, cache_dir)
    yield {"cache_dir": cache_dir, "path": path, "seconds": time.perf_counter() - t0, "src": src}


def test_second_load_uses_cache(converted: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    path: Path = converted["path"]
    manifest = json.loads((path / cache.MANIFEST).read_text())
    assert manifest["source_sha256"] == cache.file_sha256(converted["src"].path)
    assert "quantization_config" not in json.loads((path / "config.json").read_text())

    def no_conversion(src: Any) -> Any:
        raise AssertionError("the cached checkpoint should have been used")

    monkeypatch.setattr(cache, "_dequantized_model", no_conversion)
    gen = HFGenerator(LLMSettings(max_new_tokens=8), converted["cache_dir"])
    assert gen.loaded.checkpoint == str(path)
    assert gen.loaded.base_sha256 == manifest["source_sha256"]
    assert gen.model.config.num_hidden_layers == 30
    answer = "".join(gen.stream(QUESTION))
    assert re.search(r"[A-Za-z]{3,}", answer)


def make_adapter(converted: dict[str, Any], out: Path) -> Path:
    import torch
    from peft import LoraConfig, get_peft_model

    base = load_model(LLMSettings(), converted["cache_dir"])
    peft_model = get_peft_model(
        base.model, LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"], lora_dropout=0.0)
    )
    torch.manual_seed(0)
    for name, p in peft_model.named_parameters():
        if "lora_B" in name:
            p.data.normal_(0, 1e-3)  # a real, small update rather than peft's zero init
    peft_model.save_pretrained(out)
    (out / adapters.ADAPTER_METADATA).write_text(
        json.dumps({**base.identity(), adapters.ADAPTER_HASHES: adapters.adapter_file_hashes(out)})
    )
    return out


def test_4bit_lora_streams_health_answer_without_loops(converted: dict[str, Any], tmp_path: Path) -> None:
    pytest.importorskip("bitsandbytes")
    adapter = make_adapter(converted, tmp_path / "adapter")
    settings = LLMSettings(quantization="4bit", adapter=str(adapter), max_new_tokens=40)
    gen = HFGenerator(settings, converted["cache_dir"])
    assert "4bit" in gen.name and "lora:adapter" in gen.name
    q_proj = gen.model.base_model.model.model.layers[0].self_attn.q_proj
    assert type(q_proj.base_layer).__name__ == "Linear4bit"
    deltas = list(gen.stream(QUESTION, GenerationParams(max_new_tokens=40)))
    text = "".join(deltas)
    n_tokens = gen.count_tokens(text)
    assert n_tokens >= 30, text
    words = re.findall(r"\w+", text.lower())
    grams = Counter(zip(words, words[1:], words[2:], words[3:], strict=False))
    assert max(grams.values()) <= 3, grams.most_common(3)
    assert re.search(r"asthma|breath|wheez|cough|airway", text.lower()), text


def test_default_cpu_path_lean_int8_and_exact_float(converted: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """The default path (lean decoder, int8, shipped adapter merged) answers sensibly and caches
    its int8 weights; the lean decoder in float32 gives the reference path's greedy text."""
    from chatbot.llm import cpu_fast

    params = GenerationParams(max_new_tokens=24)
    gen = HFGenerator(LLMSettings(), converted["cache_dir"])
    assert gen.lean_decoder is not None and gen.lean_decoder.int8
    files = list((converted["cache_dir"] / "int8").glob("*.safetensors"))
    assert len(files) == 1
    text = "".join(gen.stream(QUESTION, params))
    assert re.search(r"asthma|breath|wheez|cough|airway", text.lower()), text

    def no_quantization(weight: Any) -> Any:
        raise AssertionError("the cached int8 weights should have been used")

    monkeypatch.setattr(cpu_fast, "_quantize", no_quantization)
    again = HFGenerator(LLMSettings(), converted["cache_dir"])
    assert "".join(again.stream(QUESTION, params)) == text
    monkeypatch.undo()

    fast = HFGenerator(LLMSettings(cpu_int8=False), converted["cache_dir"])
    reference = HFGenerator(LLMSettings(cpu_int8=False, fast_decoder=False), converted["cache_dir"])
    assert fast.lean_decoder is not None and reference.lean_decoder is None
    assert "".join(fast.stream(QUESTION, params)) == "".join(reference.stream(QUESTION, params))


@pytest.mark.skipif(native_step.unavailable_reason() is not None, reason="no AVX2 or no C compiler")
def test_c_decode_step_follows_float_as_closely_as_the_python_step(converted: dict[str, Any]) -> None:
    """Teacher-forced on the float32 greedy answer: the default int8 decoder with its C step
    picks the float32 model's next token about as often as the Python int8 step does."""
    import torch

    cache_dir = converted["cache_dir"]
    exact = HFGenerator(LLMSettings(cpu_int8=False), cache_dir).lean_decoder
    native_gen = HFGenerator(LLMSettings(), cache_dir)
    native = native_gen.lean_decoder
    python = HFGenerator(LLMSettings(native_kernel=False), cache_dir).lean_decoder
    assert exact is not None and native is not None and python is not None
    assert native.native and not python.native
    prompt = native_gen.encode_prompt(QUESTION)
    with torch.inference_mode():
        exact.reset()
        logits = exact.forward(prompt)
        reference: list[int] = []
        for _ in range(32):
            assert logits is not None
            reference.append(int(logits.argmax()))
            logits = exact.forward(reference[-1:])
        agreement = {}
        for name, dec in (("native", native), ("python", python)):
            dec.reset()
            logits, hits = dec.forward(prompt), 0
            for token in reference:
                assert logits is not None
                hits += int(logits.argmax()) == token
                logits = dec.forward([token])
            agreement[name] = hits / len(reference)
    assert agreement["native"] >= 0.75 and agreement["native"] >= agreement["python"] - 0.1, agreement
