"""The lean CPU decoder (chatbot/llm/cpu_fast.py) against transformers' forward on tiny Llamas."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from chatbot.llm.base import generate
from chatbot.llm.cpu_fast import FastDecoder, int8_cache_path, unsupported_reason
from chatbot.llm.hf import HFGenerator
from chatbot.settings import LLMSettings
from chatbot.types import ChatMessage
from tests.unit.llm_tiny import SCRATCH, save_tiny_llama

QUESTION = [ChatMessage("system", "Answer from the sources. " * 10), ChatMessage("user", "What is asthma?")]


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_llama(tmp_path_factory.mktemp("fast") / "llama", hidden=64, layers=3)


def reference_logits(model: Any, ids: list[int]) -> torch.Tensor:
    with torch.inference_mode():
        return model(input_ids=torch.tensor([ids])).logits[0].float()


def fast_logits(dec: FastDecoder, ids: list[int], first: int) -> torch.Tensor:
    """Logits of every position after ``first``: a prompt block, then one token at a time."""
    with torch.inference_mode():
        dec.reset()
        out = [dec.forward(ids[:first])]
        out += [dec.forward([t]) for t in ids[first:]]
    return torch.stack([o for o in out if o is not None])


def test_float_decoder_reproduces_transformers(tiny_dir: Path) -> None:
    exact = HFGenerator(LLMSettings(model=str(tiny_dir), cpu_int8=False, fast_decoder=False), SCRATCH)
    ids = exact.encode_prompt(QUESTION)
    dec = FastDecoder(exact.model, int8=False)
    ref = reference_logits(exact.model, ids)[len(ids) // 2 - 1 :]
    got = fast_logits(dec, ids, len(ids) // 2)
    assert got.shape == ref.shape
    assert torch.allclose(got, ref, atol=1e-4, rtol=1e-4)


def test_float_fast_path_generates_the_reference_text(tiny_dir: Path) -> None:
    opts: dict[str, Any] = {"model": str(tiny_dir), "max_new_tokens": 12, "cpu_int8": False}
    fast = HFGenerator(LLMSettings(**opts), SCRATCH)
    slow = HFGenerator(LLMSettings(**opts, fast_decoder=False), SCRATCH)
    assert fast._fast is not None and slow._fast is None
    assert generate(fast, QUESTION) == generate(slow, QUESTION)
    # sampling draws the same tokens too, from the same seed
    hot = {**opts, "temperature": 1.0}
    assert generate(HFGenerator(LLMSettings(**hot), SCRATCH), QUESTION) == generate(
        HFGenerator(LLMSettings(**hot, fast_decoder=False), SCRATCH), QUESTION
    )


@pytest.mark.parametrize("int8", [False, True])
def test_one_token_step_matches_the_general_forward(tiny_dir: Path, int8: bool) -> None:
    gen = HFGenerator(LLMSettings(model=str(tiny_dir), cpu_int8=False, fast_decoder=False), SCRATCH)
    ids = gen.encode_prompt(QUESTION)
    dec = FastDecoder(gen.model, int8=int8)
    step = fast_logits(dec, ids, len(ids) // 2)
    dec.step_path = False
    general = fast_logits(dec, ids, len(ids) // 2)
    assert step.shape == general.shape == (len(ids) - len(ids) // 2 + 1, general.shape[1])
    assert torch.allclose(step, general, atol=1e-4, rtol=1e-4)


def test_int8_decoder_close_to_float_and_prefix_reuse_is_exact(tiny_dir: Path) -> None:
    gen = HFGenerator(LLMSettings(model=str(tiny_dir), max_new_tokens=6, temperature=1.0), SCRATCH)
    assert gen._fast is not None and gen._fast.int8 and gen.loaded.quantization == "int8-dynamic"
    ids = gen.encode_prompt(QUESTION)
    ref = reference_logits(gen.model, ids)[-1]
    got = fast_logits(gen._fast, ids, len(ids) - 1)[-1]
    assert (got - ref).abs().max() < 0.05 * ref.abs().max()
    runs = [generate(gen, QUESTION) for _ in range(3)]
    assert gen.last_stats.reused_prompt_tokens > 0
    assert runs == [runs[0]] * 3


def test_capacity_grows_and_crop_rolls_back(tiny_dir: Path) -> None:
    exact = HFGenerator(LLMSettings(model=str(tiny_dir), cpu_int8=False), SCRATCH)
    dec = exact._fast
    assert dec is not None
    ids = exact.encode_prompt(QUESTION)
    with torch.inference_mode():
        dec.reset()
        a = dec.forward(ids)
        dec.crop(-1)
        assert dec.get_seq_length() == len(ids) - 1
        b = dec.forward(ids[-1:])
    assert a is not None and b is not None and torch.allclose(a, b, atol=1e-5)
    with pytest.raises(ValueError, match="exceeds"), torch.inference_mode():
        dec.forward([1] * (dec.max_positions + 1))


def test_unsupported_models_keep_transformers(tiny_dir: Path, tmp_path: Path) -> None:
    gen = HFGenerator(LLMSettings(model=str(tiny_dir), fast_decoder=False), SCRATCH)
    assert gen._fast is None
    assert "quantized" in type(gen.model.model.layers[0].mlp.up_proj).__module__  # torch.ao fallback
    gen.model.config.model_type = "gpt2"
    assert unsupported_reason(gen.model, "cpu") is not None
    assert unsupported_reason(object(), "cuda") == "device cuda"


def test_int8_cache_round_trip(tiny_dir: Path, tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_dir).eval()
    path = int8_cache_path(tmp_path, str(tiny_dir), "ab" * 32, None, salt="x")
    assert path is not None and int8_cache_path(tmp_path, str(tiny_dir), None, None) is None
    calibration = list(range(3, 40))
    first = FastDecoder(model, int8=True, int8_cache=path, calibration=calibration)
    assert path.is_file()
    second = FastDecoder(model, int8=True, int8_cache=path, calibration=calibration)
    ids = list(range(5, 25))
    assert torch.equal(fast_logits(first, ids, 10), fast_logits(second, ids, 10))
    path.write_bytes(b"damaged")
    third = FastDecoder(model, int8=True, int8_cache=path, calibration=calibration)
    assert torch.equal(fast_logits(first, ids, 10), fast_logits(third, ids, 10))
    # another salt (calibration, adapter, base) is another file
    assert int8_cache_path(tmp_path, str(tiny_dir), "ab" * 32, None, salt="y") != path
