"""Architecture generality (issue 16): the product path on tiny random Qwen2, Gemma-2, Gemma-3
(text), Phi-3 and Mistral models built from their config classes, with each family's special
tokens and chat template. No download: every model and tokenizer is made here in milliseconds.

Per architecture: load with the product's loader and decode greedily (must equal transformers'
own greedy decoding) -> one LoRA and one QLoRA (4-bit) training step with ``finetune.train`` ->
the QLoRA adapter served on the 4-bit base -> ``finetune.merge`` -> the merged model equals base
+ unmerged adapter and streams an answer to the product's retrieval prompt.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import torch
from transformers import Gemma2Config, Gemma3TextConfig, MistralConfig, Phi3Config, Qwen2Config

from chatbot.llm.hf import HFGenerator
from chatbot.prompts import build_messages
from chatbot.settings import LLMSettings, Settings
from chatbot.types import ChatMessage
from finetune.config import DataConfig, TrainConfig
from tests.conftest import make_chunk
from tests.unit.llm_tiny import CHATML, SCRATCH, make_tokenizer
from tests.unit.test_finetune_data import write_qa_jsonl

# The families' own templates (as published with their instruct checkpoints), shortened only
# where they add tool/generation markup. Gemma-2's and Mistral-v0.1's refuse a system message.
GEMMA_TEMPLATE = (
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}"
    "{% endif %}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}"
    "{% endif %}{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}"
)
GEMMA3_TEMPLATE = (  # folds the system message into the first user turn itself
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{% set first_user_prefix = messages[0]['content'] + "
    "'\n\n' %}{% set loop_messages = messages[1:] %}{% else %}{% set first_user_prefix = '' %}"
    "{% set loop_messages = messages %}{% endif %}{% for message in loop_messages %}"
    "{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}"
    "{% endif %}{{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else '') + "
    "message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}"
)
PHI3_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] == 'system' %}{{'<|system|>\n' + message['content'] + "
    "'<|end|>\n'}}{% elif message['role'] == 'user' %}{{'<|user|>\n' + message['content'] + '<|end|>\n'}}"
    "{% elif message['role'] == 'assistant' %}{{'<|assistant|>\n' + message['content'] + '<|end|>\n'}}{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% else %}{{ eos_token }}{% endif %}"
)
MISTRAL_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token + ' ' }}"
    "{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}"
)

# hidden 64, 4 heads of 16, 2 KV heads: every projection is a multiple of 32 rows and 64
# inputs, the shapes bitsandbytes' packed CPU 4-bit kernel takes (see tests/unit/llm_tiny.py).
DIMS: dict[str, Any] = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 2048,
}


@dataclass(frozen=True)
class Arch:
    name: str
    config: Callable[..., Any]  # transformers config class
    extra: dict[str, Any]
    specials: tuple[str, ...]
    template: str
    eos: str
    bos: str | None
    pad: str | None
    # turn-end tokens the model's generation_config lists besides the tokenizer's EOS
    also_eos: tuple[str, ...] = ()
    # LoRA 'all-linear' must reach these (Phi-3 fuses q/k/v and gate/up)
    lora_modules: frozenset[str] = field(default_factory=frozenset)


LLAMA_LIKE = frozenset({"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"})
ARCHS = [
    Arch(
        "qwen2",
        Qwen2Config,
        {"tie_word_embeddings": True},
        ("<|endoftext|>", "<|im_start|>", "<|im_end|>"),
        CHATML,
        "<|im_end|>",
        None,
        "<|endoftext|>",
        lora_modules=LLAMA_LIKE,
    ),
    Arch(
        "gemma2",
        Gemma2Config,
        # a sliding window shorter than the prompt, so local layers really are local here
        {"head_dim": 16, "query_pre_attn_scalar": 16, "sliding_window": 32},
        ("<pad>", "<eos>", "<bos>", "<start_of_turn>", "<end_of_turn>"),
        GEMMA_TEMPLATE,
        "<eos>",
        "<bos>",
        "<pad>",
        also_eos=("<end_of_turn>",),
        lora_modules=LLAMA_LIKE,
    ),
    Arch(
        "gemma3_text",
        Gemma3TextConfig,
        # sliding window shorter than the prompt; every 2nd layer global (Gemma-3 uses 1 in 6)
        {
            "head_dim": 16,
            "query_pre_attn_scalar": 16,
            "sliding_window": 32,
            "layer_types": ["sliding_attention", "full_attention"],
        },
        ("<pad>", "<eos>", "<bos>", "<start_of_turn>", "<end_of_turn>"),
        GEMMA3_TEMPLATE,
        "<eos>",
        "<bos>",
        "<pad>",
        also_eos=("<end_of_turn>",),
        lora_modules=LLAMA_LIKE,
    ),
    Arch(
        "phi3",
        Phi3Config,
        {"original_max_position_embeddings": 2048, "tie_word_embeddings": False},
        ("<|endoftext|>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>"),
        PHI3_TEMPLATE,
        "<|endoftext|>",
        None,
        "<|endoftext|>",
        also_eos=("<|end|>",),
        lora_modules=frozenset({"qkv_proj", "o_proj", "gate_up_proj", "down_proj"}),
    ),
    Arch(
        "mistral",
        MistralConfig,
        {"head_dim": 16, "sliding_window": 4096, "tie_word_embeddings": False},
        ("<unk>", "<s>", "</s>"),
        MISTRAL_TEMPLATE,
        "</s>",
        "<s>",
        None,  # like Mistral's tokenizer: no pad token (training pads with EOS)
        lora_modules=LLAMA_LIKE,
    ),
]

PASSAGE = make_chunk(
    "asthma",
    "Asthma is a long-term condition of the airways. Drink water and rest. Fever and cough are common.",
    title="Asthma",
)
QUESTION = "What is asthma?"


def save_tiny(arch: Arch, path: Path, seed: int = 0) -> Path:
    from transformers import AutoModelForCausalLM

    tok = make_tokenizer(specials=arch.specials, chat_template=arch.template, eos=arch.eos, bos=arch.bos, pad=arch.pad)
    eos_ids = [tok.eos_token_id] + [tok.convert_tokens_to_ids(t) for t in arch.also_eos]
    config = arch.config(
        vocab_size=len(tok),
        eos_token_id=eos_ids if len(eos_ids) > 1 else eos_ids[0],
        bos_token_id=tok.bos_token_id,
        pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id,
        **DIMS,
        **arch.extra,
    )
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config)
    assert model.config.model_type == arch.name
    model.save_pretrained(path, safe_serialization=True)
    tok.save_pretrained(path)
    return path


def exact(model: Path, **kw: Any) -> LLMSettings:
    """Float32 greedy decoding with no repetition controls: comparable token for token."""
    base: dict[str, Any] = {
        "model": str(model),
        "adapter": None,
        "cpu_int8": False,
        "repetition_penalty": 1.0,
        "no_repeat_ngram_size": 0,
        "max_repeated_ngram": 10_000,
        "max_new_tokens": 12,
    }
    return LLMSettings(**(base | kw))


def reference_greedy(model_dir: Path, prompt_ids: list[int], eos_ids: set[int], max_new: int) -> str:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    tok = AutoTokenizer.from_pretrained(model_dir)
    with torch.inference_mode():
        out = model.generate(
            torch.tensor([prompt_ids]),
            attention_mask=torch.ones(1, len(prompt_ids), dtype=torch.long),
            max_new_tokens=max_new,
            do_sample=False,
            eos_token_id=sorted(eos_ids),
            pad_token_id=next(iter(eos_ids)),
        )
    new = [int(t) for t in out[0, len(prompt_ids) :] if int(t) not in eos_ids]
    text: str = tok.decode(new, skip_special_tokens=True)
    return text


def prompt_logits(gen: HFGenerator, messages: list[ChatMessage]) -> torch.Tensor:
    ids = torch.tensor([gen.encode_prompt(messages)])
    with torch.inference_mode():
        return gen.model(input_ids=ids).logits[0].float()


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from finetune.data import build_dataset

    root = tmp_path_factory.mktemp("arch-data")
    build_dataset(
        DataConfig(validation_share=0.2, test_share=0.2, num_passages=2, passage_words=12, no_source_share=0.2),
        write_qa_jsonl(root / "qa.jsonl"),
        root / "ds",
    )
    return root / "ds"


def train_one_step(base: Path, dataset: Path, out: Path, settings: Settings, quantization: str) -> dict[str, Any]:
    from finetune.train import train

    cfg = TrainConfig(
        base_model=str(base),
        dataset_dir=str(dataset),
        output_dir=str(out),
        checkpoint_dir=str(out.parent / f"{out.name}-ckpt"),
        quantization=quantization,
        max_length=4096,
        max_steps=1,
        train_examples=3,
        per_device_batch_size=3,
        gradient_accumulation_steps=1,
        eval_steps=0,
        save_steps=10,
        logging_steps=1,
        lora_r=4,
        lora_alpha=8,
        learning_rate=1e-2,
        warmup_ratio=0.0,
        resume=False,
    )
    return train(cfg, settings)


def test_templates_without_system_role_get_it_in_the_first_user_turn() -> None:
    from jinja2.exceptions import TemplateError

    from chatbot.llm.chat_template import render_chat

    chat = [{"role": "system", "content": "RULES"}, {"role": "user", "content": "What is asthma?"}]
    gemma = make_tokenizer(
        specials=ARCHS[1].specials, chat_template=GEMMA_TEMPLATE, eos="<eos>", bos="<bos>", pad="<pad>"
    )
    text = render_chat(gemma, chat, tokenize=False)
    assert text == "<bos><start_of_turn>user\nRULES\n\nWhat is asthma?<end_of_turn>\n<start_of_turn>model\n"
    # A template with a system role renders it as the template says, untouched.
    chatml = make_tokenizer()
    assert render_chat(chatml, chat, tokenize=False).startswith("<|im_start|>system\nRULES<|im_end|>")
    # Other template errors (here: two user turns in a row) are not papered over.
    with pytest.raises(TemplateError, match="alternate"):
        render_chat(gemma, [*chat, {"role": "user", "content": "again"}], tokenize=False)


@pytest.mark.slow  # ~20-30 s per architecture on 2 cores (two Trainer runs, seven model loads)
@pytest.mark.parametrize("arch", ARCHS, ids=[a.name for a in ARCHS])
def test_load_train_merge_generate(arch: Arch, dataset: Path, settings: Settings, tmp_path: Path) -> None:
    pytest.importorskip("peft")
    from finetune.merge import merge_adapter
    from finetune.train import prompt_text

    base = save_tiny(arch, tmp_path / arch.name)
    messages = build_messages(QUESTION, [PASSAGE])
    assert messages[0].role == "system"

    # 1. Product loader + decoding loop == transformers' greedy decoding, and the prefix cache
    # (cropped on the second turn, a sliding-window cache for Gemma-2) changes nothing.
    gen = HFGenerator(exact(base), SCRATCH)
    prompt = gen.encode_prompt(messages)
    shown = gen.tokenizer.decode(prompt)
    assert all(part in shown for part in (messages[0].content[:60], PASSAGE.text, QUESTION))  # rules kept too
    first = "".join(gen.stream(messages))
    assert first == reference_greedy(base, prompt, gen._eos_ids, 12)
    assert "".join(gen.stream(messages)) == first
    assert gen.last_stats.reused_prompt_tokens > 0
    # Fine-tuning renders the very prompt that is served (system folded in for Gemma/Mistral).
    chat = [{"role": m.role, "content": m.content} for m in messages]
    assert gen.tokenizer(prompt_text(gen.tokenizer, chat), add_special_tokens=False)["input_ids"] == prompt
    for tok in (arch.eos, *arch.also_eos):
        assert gen.tokenizer.convert_tokens_to_ids(tok) in gen._eos_ids
    base_logits = prompt_logits(gen, messages)
    del gen

    # 2. LoRA and QLoRA: one optimizer step each through finetune.train.
    lora = tmp_path / "lora"
    metrics = train_one_step(base, dataset, lora, settings, "none")
    assert metrics["global_step"] == 1 and math.isfinite(metrics["train_loss"])
    # peft records 'all-linear' as the full module paths it matched
    targets = {t.rsplit(".", 1)[-1] for t in json.loads((lora / "adapter_config.json").read_text())["target_modules"]}
    assert arch.lora_modules <= targets, f"LoRA missed {sorted(arch.lora_modules - targets)}"
    qlora = tmp_path / "qlora"
    pytest.importorskip("bitsandbytes")
    metrics = train_one_step(base, dataset, qlora, settings, "4bit")
    assert metrics["global_step"] == 1 and math.isfinite(metrics["train_loss"])
    assert json.loads((qlora / "healthbot_adapter.json").read_text())["quantization"] == "4bit"

    # 3. The QLoRA adapter served on the 4-bit base (never merged into 4-bit weights).
    gen4 = HFGenerator(exact(base, quantization="4bit", adapter=str(qlora), max_new_tokens=6), SCRATCH)
    assert type(gen4.model).__name__.startswith("PeftModel")
    assert any(type(m).__name__ == "Linear4bit" for m in gen4.model.modules())
    assert isinstance("".join(gen4.stream(messages)), str)
    del gen4

    # 4. Merge: the merged checkpoint computes what base + unmerged adapter computes.
    merged = merge_adapter(lora, tmp_path / "merged", settings)
    unmerged = HFGenerator(exact(base, adapter=str(lora), merge_adapter=False), SCRATCH)
    assert type(unmerged.model).__name__.startswith("PeftModel")
    adapter_logits = prompt_logits(unmerged, messages)
    del unmerged
    served = HFGenerator(exact(merged), SCRATCH)
    merged_logits = prompt_logits(served, messages)
    assert not torch.allclose(merged_logits, base_logits, atol=1e-4)  # the step changed the model
    assert torch.allclose(merged_logits, adapter_logits, atol=1e-4)

    # 5. The merged model with the default generation settings (int8 on CPU, repetition
    # controls) streams an answer to the product prompt.
    default = HFGenerator(LLMSettings(model=str(merged), adapter=None, max_new_tokens=8), SCRATCH)
    deltas = list(default.stream(messages))
    assert all(isinstance(d, str) for d in deltas) and isinstance("".join(deltas), str)
