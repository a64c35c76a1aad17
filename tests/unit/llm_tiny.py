"""Tiny real pieces for LLM unit tests: a byte-level BPE tokenizer with a ChatML template, a
two-layer random Llama saved as safetensors, and a scripted LM whose next token is fixed.

Everything is built in milliseconds from code, so unit tests need no downloaded weights.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch

# model_cache_dir of the generators built in unit tests: the C decode kernel (and nothing
# else for these uncached tiny checkpoints) is built there once per test session, not in cwd
SCRATCH = Path(tempfile.mkdtemp(prefix="healthbot-llm-test-"))

CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + "
    "'<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CORPUS = [
    "Asthma is a long-term condition of the airways. The cat sat on the mat.",
    "Influenza is a contagious illness. Fever and cough are common. Drink water and rest.",
    "High blood pressure often has no symptoms; less salt and regular activity help.",
    "user assistant system sources answer question the a of and to in is on",
]


def make_tokenizer(
    *,
    specials: Sequence[str] = SPECIALS,
    chat_template: str = CHATML,
    eos: str = "<|im_end|>",
    bos: str | None = "<|im_start|>",
    pad: str | None = "<|endoftext|>",
) -> Any:
    """A byte-level BPE trained on CORPUS; the defaults are a ChatML (SmolLM2/Qwen-style) tokenizer,
    the keywords give another family's special tokens and chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=list(specials), initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(CORPUS * 5, trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=eos, bos_token=bos, pad_token=pad)
    fast.chat_template = chat_template
    return fast


def save_tiny_llama(path: Path, *, hidden: int = 64, layers: int = 2, seed: int = 0) -> Path:
    """A random two-layer Llama + tokenizer saved as a regular safetensors checkpoint.

    ``hidden`` defaults to 64 so that every projection has in_features % 64 == 0 and
    out_features % 32 == 0 (k/v: 2 heads x 16): bitsandbytes' 4-bit CPU kernel on AVX512-BF16
    machines repacks weights in 32-row blocks with one absmax per 64 inputs, the layout real
    checkpoints have. (hidden=32 gave k_proj 16x32, which that repacking cannot hold.)
    """
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = make_tokenizer()
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        eos_token_id=tok.eos_token_id,
        bos_token_id=tok.bos_token_id,
        pad_token_id=tok.pad_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.save_pretrained(path, safe_serialization=True)
    tok.save_pretrained(path)
    return path


class ScriptedLM(torch.nn.Module):
    """Looks like a causal LM to HFGenerator; step i prefers ``script[i]`` (then EOS).

    ``runner_up`` gives every step a second-best token, so bans/penalties can be observed.
    """

    def __init__(
        self, script: Sequence[int], eos_id: int, vocab: int, runner_up: int | None = None, runner_up_logit: float = 5.0
    ) -> None:
        super().__init__()
        self.script = list(script)
        self.eos_id = eos_id
        self.vocab = vocab
        self.runner_up = runner_up
        self.runner_up_logit = runner_up_logit
        self.calls: list[list[int]] = []
        self.config = SimpleNamespace(max_position_embeddings=4096, model_type="scripted")
        self.generation_config = SimpleNamespace(eos_token_id=eos_id)
        self.anchor = torch.nn.Parameter(torch.zeros(1))

    def forward(self, input_ids: torch.Tensor, past_key_values: Any = None, **_: Any) -> Any:
        step = len(self.calls)
        self.calls.append(input_ids[0].tolist())
        logits = torch.zeros(1, input_ids.shape[1], self.vocab)
        want = self.script[step] if step < len(self.script) else self.eos_id
        logits[0, -1, want] = 10.0
        if self.runner_up is not None:
            logits[0, -1, self.runner_up] = self.runner_up_logit
        return SimpleNamespace(logits=logits, past_key_values=past_key_values)
