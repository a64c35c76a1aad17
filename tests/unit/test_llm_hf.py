"""HFGenerator on tiny real checkpoints and a scripted LM: decoding rules, prompt policy, errors."""

from __future__ import annotations

import itertools
import json
import threading
from pathlib import Path
from typing import Any

import pytest
import torch

from chatbot.llm import build_generator
from chatbot.llm.base import GenerationError, GenerationParams, Generator, generate
from chatbot.llm.hf import PREFILL_BLOCK, HFGenerator, LoadedModel
from chatbot.settings import LLMSettings, Settings
from chatbot.types import ChatMessage
from tests.unit.llm_tiny import SCRATCH, ScriptedLM, make_tokenizer, save_tiny_llama

USER = [ChatMessage("user", "What is asthma?")]


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    return make_tokenizer()


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_llama(tmp_path_factory.mktemp("tiny") / "llama")


def scripted(tokenizer: Any, text: str, **settings: Any) -> tuple[HFGenerator, ScriptedLM]:
    ids = tokenizer.encode(text, add_special_tokens=False)
    runner_up = settings.pop("runner_up", None)
    lm = ScriptedLM(ids, tokenizer.eos_token_id, len(tokenizer), runner_up=runner_up)
    loaded = LoadedModel(lm, tokenizer, "cpu", "scripted", "scripted", None, "none")  # type: ignore[arg-type]
    defaults: dict[str, Any] = {"repetition_penalty": 1.0, "no_repeat_ngram_size": 0, "max_new_tokens": 200}
    defaults.update(settings)
    return HFGenerator(LLMSettings(**defaults), SCRATCH, loaded=loaded), lm


def test_streams_script_and_stops_at_eos(tokenizer: Any) -> None:
    gen, lm = scripted(tokenizer, "Asthma narrows the airways.")
    deltas = list(gen.stream(USER))
    assert "".join(deltas) == "Asthma narrows the airways."
    assert len(deltas) > 1  # streamed, not one block
    assert isinstance(gen, Generator)
    # The prompt is fed once, then one token per step (the KV cache carries the rest).
    assert len(lm.calls[0]) > 5 and all(len(c) == 1 for c in lm.calls[1:])


def test_max_new_tokens_caps_and_settings_cap_wins(tokenizer: Any) -> None:
    gen, _ = scripted(tokenizer, "one two three four five six seven eight", max_new_tokens=3)
    out = generate(gen, USER, GenerationParams(max_new_tokens=50))
    assert len(tokenizer.encode(out, add_special_tokens=False)) == 3
    gen, _ = scripted(tokenizer, "one two three four five six seven eight")
    out = generate(gen, USER, GenerationParams(max_new_tokens=2))
    assert len(tokenizer.encode(out, add_special_tokens=False)) == 2


def test_stop_string_ends_stream_without_emitting_it(tokenizer: Any) -> None:
    gen, lm = scripted(tokenizer, "Rest and drink water.\nUser: more questions here")
    out = generate(gen, USER, GenerationParams(stop=("\nUser:",)))
    assert out == "Rest and drink water."
    assert len(lm.calls) < len(tokenizer.encode("Rest and drink water.\nUser: more questions here"))


def test_loop_guard_stops_degenerate_answer(tokenizer: Any) -> None:
    gen, _ = scripted(tokenizer, "the cat sat on the mat. " * 20, max_repeated_ngram=3)
    out = generate(gen, USER)
    assert 0 < out.count("the cat sat on") <= 3
    assert len(out) < len("the cat sat on the mat. " * 20)


def test_no_repeat_ngram_bans_repeated_token_ngram_of_answer_only(tokenizer: Any) -> None:
    text = "the cat sat on the cat sat on"
    ids = tokenizer.encode(text, add_special_tokens=False)
    runner_up = tokenizer.encode("mat", add_special_tokens=False)[0]
    gen, _ = scripted(tokenizer, text, no_repeat_ngram_size=2, runner_up=runner_up)
    out = generate(gen, USER)
    out_ids = tokenizer.encode(out, add_special_tokens=False)
    bigrams = list(itertools.pairwise(out_ids))
    assert len(bigrams) == len(set(bigrams))
    assert out_ids != ids
    # The prompt's own n-grams are not banned: an answer may quote its sources.
    gen, _ = scripted(tokenizer, "What is asthma?", no_repeat_ngram_size=2, runner_up=runner_up)
    assert generate(gen, USER) == "What is asthma?"


def test_repetition_penalty_demotes_already_generated_tokens(tokenizer: Any) -> None:
    tok = tokenizer.encode(" cat", add_special_tokens=False)[0]
    other = tokenizer.encode(" mat", add_special_tokens=False)[0]
    lm = ScriptedLM([tok] * 4, tokenizer.eos_token_id, len(tokenizer), runner_up=other, runner_up_logit=6.0)
    loaded = LoadedModel(lm, tokenizer, "cpu", "s", "s", None, "none")  # type: ignore[arg-type]
    # 10/2 = 5 < 6: once " cat" was said " mat" wins, and once penalized (6/2 = 3) loses again.
    gen = HFGenerator(LLMSettings(repetition_penalty=2.0, no_repeat_ngram_size=0), Path("x"), loaded=loaded)
    assert generate(gen, USER) == " cat mat cat cat"


def test_sampling_is_seeded(tiny_dir: Path) -> None:
    s = LLMSettings(model=str(tiny_dir), temperature=1.0, top_p=0.9, seed=7, max_new_tokens=12)
    gen = HFGenerator(s, SCRATCH)
    assert generate(gen, USER) == generate(gen, USER)


def test_prompt_policy_drops_oldest_turns_first(tokenizer: Any) -> None:
    gen, _lm = scripted(tokenizer, "ok", max_prompt_tokens=60)
    history = [ChatMessage("system", "Answer briefly.")]
    for i in range(6):
        history += [ChatMessage("user", f"old question {i} about fever"), ChatMessage("assistant", f"old answer {i}")]
    history.append(ChatMessage("user", "What is asthma?"))
    ids = gen.encode_prompt(history)
    assert len(ids) <= 60
    text = tokenizer.decode(ids)
    assert "Answer briefly." in text and "What is asthma?" in text
    assert "old question 0" not in text and "old answer 5" in text


def test_single_overlong_message_is_a_clear_error(tokenizer: Any) -> None:
    gen, _ = scripted(tokenizer, "ok", max_prompt_tokens=32)
    with pytest.raises(GenerationError, match="max_prompt_tokens"):
        gen.encode_prompt([ChatMessage("user", "asthma " * 40)])


@pytest.mark.parametrize(
    "messages",
    [[], [ChatMessage("user", "   ")], [ChatMessage("system", "rules"), ChatMessage("user", "")]],
)
def test_empty_prompt_is_refused(tokenizer: Any, messages: list[ChatMessage]) -> None:
    gen, _ = scripted(tokenizer, "ok")
    with pytest.raises(GenerationError, match="empty prompt"):
        list(gen.stream(messages))


def test_one_megabyte_prompt_is_refused_before_tokenizing(tokenizer: Any) -> None:
    gen, _ = scripted(tokenizer, "ok")
    gen.tokenizer = None  # would raise AttributeError if the prompt reached the tokenizer
    with pytest.raises(GenerationError, match=r"characters, far over llm.max_prompt_tokens"):
        list(gen.stream([ChatMessage("user", "x" * 1_000_000)]))


def test_loads_local_checkpoint_and_builds_from_settings(tiny_dir: Path, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, llm={"model": str(tiny_dir), "max_new_tokens": 8})
    gen = build_generator(settings)
    assert isinstance(gen, HFGenerator)
    assert gen.name == "hf:llama"
    out = generate(gen, USER)
    assert isinstance(out, str)
    assert gen.count_tokens("the cat sat") == len(gen.tokenizer.encode("the cat sat", add_special_tokens=False)) > 1


def test_concurrent_streams_are_serialized_and_match_sequential(tiny_dir: Path) -> None:
    gen = HFGenerator(LLMSettings(model=str(tiny_dir), max_new_tokens=10), SCRATCH)
    expected = generate(gen, USER)
    results: list[str] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            results.append(generate(gen, USER))
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert results == [expected] * 3


def test_abandoned_stream_releases_the_lock(tiny_dir: Path) -> None:
    gen = HFGenerator(LLMSettings(model=str(tiny_dir), max_new_tokens=20), SCRATCH)
    it = gen.stream(USER)
    next(it)
    it.close()  # what a disconnected client does
    assert not gen._lock.locked()


def test_4bit_loads_on_cpu(tiny_dir: Path) -> None:
    pytest.importorskip("bitsandbytes")
    gen = HFGenerator(LLMSettings(model=str(tiny_dir), quantization="4bit", max_new_tokens=4), SCRATCH)
    assert gen.name.endswith("+4bit")
    linear = gen.model.model.layers[0].self_attn.q_proj
    assert type(linear).__name__ == "Linear4bit"
    assert isinstance(generate(gen, USER), str)
    # On an AVX512-BF16 CPU the weights were repacked for bitsandbytes' fused kernel, the path a
    # real checkpoint takes; elsewhere they stay in the plain layout.
    packed = getattr(linear.weight.quant_state, "packing_format_for_cpu", False)
    assert packed == bool(linear.support_avx512bf16_for_cpu)


def test_4bit_on_cpu_with_shapes_the_packed_kernel_cannot_hold(tmp_path: Path) -> None:
    pytest.importorskip("bitsandbytes")
    odd = save_tiny_llama(tmp_path / "odd", hidden=32)  # k_proj 16x32: not 32-row, not 64-wide
    gen = HFGenerator(LLMSettings(model=str(odd), quantization="4bit", max_new_tokens=4), SCRATCH)
    k_proj = gen.model.model.layers[0].self_attn.k_proj
    assert type(k_proj).__name__ == "Linear4bit" and not k_proj.support_avx512bf16_for_cpu
    assert isinstance(generate(gen, USER), str)


def test_4bit_without_bitsandbytes_says_what_to_do(tiny_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "bitsandbytes" else real(n, *a))
    with pytest.raises(GenerationError, match=r"needs bitsandbytes: `pip install bitsandbytes"):
        HFGenerator(LLMSettings(model=str(tiny_dir), quantization="4bit"), SCRATCH)


def test_unknown_model_path(tmp_path: Path) -> None:
    with pytest.raises(GenerationError, match=r"llm\.model path not found"):
        HFGenerator(LLMSettings(model=str(tmp_path / "nope")), tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(GenerationError, match=r"no config\.json"):
        HFGenerator(LLMSettings(model=str(tmp_path / "empty")), tmp_path)


def test_unknown_hub_id_offline_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(GenerationError, match="could not load model") as info:
        HFGenerator(LLMSettings(model="no-such-org/no-such-model-xyz"), tmp_path)
    assert "\n" not in str(info.value)


def test_pickle_only_checkpoint_is_refused(tiny_dir: Path, tmp_path: Path) -> None:
    import shutil

    bad = tmp_path / "pickled"
    shutil.copytree(tiny_dir, bad)
    (bad / "model.safetensors").unlink()
    torch.save({}, bad / "pytorch_model.bin")
    with pytest.raises(GenerationError, match="could not load model"):
        HFGenerator(LLMSettings(model=str(bad)), tmp_path)


def test_cuda_requested_without_gpu(tiny_dir: Path) -> None:
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(GenerationError, match="no CUDA GPU"):
        HFGenerator(LLMSettings(model=str(tiny_dir), device="cuda"), SCRATCH)


def test_cpu_int8_close_to_float(tiny_dir: Path) -> None:
    # transformers' forward quantized by torch.ao: the path for models the lean decoder does not take
    int8 = HFGenerator(LLMSettings(model=str(tiny_dir), cpu_int8=True, fast_decoder=False), SCRATCH)
    exact = HFGenerator(LLMSettings(model=str(tiny_dir), cpu_int8=False), SCRATCH)
    assert int8.loaded.quantization == "int8-dynamic"
    assert "quantized" in type(int8.model.model.layers[0].mlp.up_proj).__module__
    assert type(exact.model.model.layers[0].mlp.up_proj).__name__ == "Linear"
    ids = torch.tensor([exact.encode_prompt(USER)])
    with torch.inference_mode():
        a = exact.model(input_ids=ids).logits
        b = int8.model(input_ids=ids).logits
    assert (a - b).abs().max() < 0.05 * a.abs().max()


def test_prefix_cache_reuses_previous_turn_with_same_output(tiny_dir: Path) -> None:
    opts = {"model": str(tiny_dir), "max_new_tokens": 6, "cpu_int8": False}
    cached = HFGenerator(LLMSettings(**opts), SCRATCH)
    plain = HFGenerator(LLMSettings(**opts, prefix_cache=False), SCRATCH)
    # long enough for whole prefill blocks to be reused
    history = [ChatMessage("system", "Answer from the sources. " * 12), *USER]
    first = generate(cached, history)
    assert cached.last_stats.reused_prompt_tokens == 0
    turn2 = [*history, ChatMessage("assistant", first), ChatMessage("user", "And how is it treated?")]
    second = generate(cached, turn2)
    reused = cached.last_stats.reused_prompt_tokens
    assert reused >= PREFILL_BLOCK and reused % PREFILL_BLOCK == 0
    assert second == generate(plain, turn2)
    assert plain.last_stats.reused_prompt_tokens == 0
    # the same prompt again: bit-identical answer from the cache (int8 included)
    int8 = HFGenerator(LLMSettings(model=str(tiny_dir), max_new_tokens=6, temperature=1.0, cpu_int8=True), SCRATCH)
    runs = [generate(int8, turn2) for _ in range(3)]
    assert int8.last_stats.reused_prompt_tokens > 0
    assert runs == [runs[0]] * 3
    # an unrelated prompt starts from scratch and still matches
    other = [ChatMessage("system", "Rules."), ChatMessage("user", "Fever in a baby?")]
    assert generate(cached, other) == generate(plain, other)


# --- adapters ---------------------------------------------------------------------------------


def make_adapter(base_dir: Path, out: Path, *, init_nonzero: bool = True) -> Path:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(base_dir)
    peft_model = get_peft_model(
        base, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=not init_nonzero)
    )
    if init_nonzero:
        torch.manual_seed(1)
        for name, p in peft_model.named_parameters():
            if "lora_" in name:
                p.data.normal_(0, 0.5)
    peft_model.save_pretrained(out)
    return out


def test_adapter_changes_output_and_merge_matches_unmerged(tiny_dir: Path, tmp_path: Path) -> None:
    adapter = make_adapter(tiny_dir, tmp_path / "adapter")
    exact = {"model": str(tiny_dir), "max_new_tokens": 8, "cpu_int8": False}
    base = HFGenerator(LLMSettings(**exact), SCRATCH)
    merged = HFGenerator(LLMSettings(**exact, adapter=str(adapter)), SCRATCH)
    unmerged = HFGenerator(LLMSettings(**exact, adapter=str(adapter), merge_adapter=False), SCRATCH)
    assert "lora:adapter" in merged.name
    assert type(merged.model).__name__ == "LlamaForCausalLM"  # merged away
    assert type(unmerged.model).__name__.startswith("PeftModel")
    ids = torch.tensor([base.encode_prompt(USER)])
    with torch.inference_mode():
        lb = base.model(input_ids=ids).logits
        lm = merged.model(input_ids=ids).logits
        lu = unmerged.model(input_ids=ids).logits
    assert not torch.allclose(lb, lm, atol=1e-3)
    assert torch.allclose(lm, lu, atol=1e-4)


def test_adapter_on_4bit_base(tiny_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("bitsandbytes")
    adapter = make_adapter(tiny_dir, tmp_path / "adapter")
    gen = HFGenerator(
        LLMSettings(model=str(tiny_dir), quantization="4bit", adapter=str(adapter), max_new_tokens=4), SCRATCH
    )
    assert type(gen.model).__name__.startswith("PeftModel")  # never merged into 4-bit weights
    assert isinstance(generate(gen, USER), str)


def test_adapter_for_other_base_by_shape(tiny_dir: Path, tmp_path: Path) -> None:
    other = save_tiny_llama(tmp_path / "wide", hidden=48)
    adapter = make_adapter(other, tmp_path / "adapter")
    with pytest.raises(GenerationError, match="trained for another base model"):
        HFGenerator(LLMSettings(model=str(tiny_dir), adapter=str(adapter)), SCRATCH)


def test_adapter_for_other_base_by_metadata(tiny_dir: Path, tmp_path: Path) -> None:
    adapter = make_adapter(tiny_dir, tmp_path / "adapter")
    meta: dict[str, Any] = {"format": 1, "base_model": "other", "model_type": "llama", "num_hidden_layers": 30}
    (adapter / "healthbot_adapter.json").write_text(json.dumps(meta))
    with pytest.raises(GenerationError, match="num_hidden_layers=30"):
        HFGenerator(LLMSettings(model=str(tiny_dir), adapter=str(adapter)), SCRATCH)
    # The fine-tuning module's identity of the base (same shapes, different weights file).
    meta = {"format": 1, "base_model": "other", "base_sha256": "f" * 64, "base_identity": "checkpoint-files"}
    (adapter / "healthbot_adapter.json").write_text(json.dumps(meta))
    with pytest.raises(GenerationError, match=r"trained on base model 'other' \(sha256 ffffffffffff\)"):
        HFGenerator(LLMSettings(model=str(tiny_dir), adapter=str(adapter)), SCRATCH)


def test_adapter_with_matching_metadata_loads(tiny_dir: Path, tmp_path: Path) -> None:
    from finetune.metadata import base_identity, stamp_metadata

    adapter = make_adapter(tiny_dir, tmp_path / "adapter")
    meta = {"format": 1, "base_model": str(tiny_dir), "base_sha256": base_identity(tiny_dir)[1]}
    stamp_metadata(adapter, meta)  # with the hashes of the adapter's files, as training writes it
    gen = HFGenerator(LLMSettings(model=str(tiny_dir), adapter=str(adapter), max_new_tokens=2), SCRATCH)
    assert gen.loaded.adapter == str(adapter)


def test_adapter_path_errors(tiny_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(GenerationError, match="adapter directory not found"):
        HFGenerator(LLMSettings(model=str(tiny_dir), adapter=str(tmp_path / "missing")), SCRATCH)
    with pytest.raises(GenerationError, match="not a LoRA adapter directory"):
        HFGenerator(LLMSettings(model=str(tiny_dir), adapter=str(tmp_path)), SCRATCH)


def test_int8_calibration_prompt_comes_from_the_service_layer(tiny_dir: Path, tmp_path: Path) -> None:
    # generation knows no dialogue: the retrieval prompt the int8 smoothing is fitted to is passed in
    from chatbot import services
    from chatbot.llm.calibration import FALLBACK_CALIBRATION

    messages = services.calibration_messages()
    assert messages[0].role == "system" and services.CALIBRATION_QUESTION in messages[-1].content
    assert all(f"[{n}] " in messages[-1].content for n in range(1, 9))  # two paragraphs of four starter pages
    opts: dict[str, Any] = {"model": str(tiny_dir), "cpu_int8": False, "fast_decoder": False}
    bare = HFGenerator(LLMSettings(**opts), SCRATCH)
    ids = bare._calibration_ids()  # cut to the model's context
    assert ids and ids == bare._template(list(FALLBACK_CALIBRATION))[: len(ids)]
    served = services.build_generator(Settings(data_dir=tmp_path, llm=opts))
    assert isinstance(served, HFGenerator)
    ids = served._calibration_ids()
    assert ids and ids == served._template(messages)[: len(ids)] != bare._calibration_ids()
