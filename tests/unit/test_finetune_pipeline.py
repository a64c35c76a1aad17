"""Train -> evaluate -> merge end to end on a tiny random Llama (milliseconds per step), plus
the pieces that must be exact: answer-only labels with EOS, batched scoring = plain generate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from chatbot.settings import Settings
from finetune.config import DataConfig, EvalConfig, FinetuneError, TrainConfig
from finetune.evaluate import BatchedScorer, common_prefix, repetition_rate, sample_indices
from tests.unit.llm_tiny import make_tokenizer, save_tiny_llama
from tests.unit.test_finetune_data import write_qa_jsonl


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_llama(tmp_path_factory.mktemp("tiny") / "llama", layers=2)


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    from finetune.data import build_dataset

    out = tmp_path / "ds"
    build_dataset(
        DataConfig(validation_share=0.2, test_share=0.25, num_passages=2, passage_words=12, no_source_share=0.2),
        write_qa_jsonl(tmp_path / "qa.jsonl"),
        out,
    )
    return out


def test_labels_cover_only_the_answer_and_end_with_eos() -> None:
    from finetune.train import encode_example

    tok = make_tokenizer()
    msgs = [{"role": "system", "content": "rules"}, {"role": "user", "content": "question"}]
    enc = encode_example(tok, msgs, "answer [1].", 4096)
    assert enc is not None
    answer = [x for x in enc["labels"] if x != -100]
    assert answer[-1] == tok.eos_token_id and enc["input_ids"][-len(answer) :] == answer
    assert enc["labels"][: len(enc["labels"]) - len(answer)] == [-100] * (len(enc["labels"]) - len(answer))
    # Too long: dropped whole, never cut (a cut target would lose its EOS).
    assert encode_example(tok, msgs, "answer [1].", 10) is None


def test_repetition_rate_and_nested_sample() -> None:
    assert repetition_rate("a b c d a b c d a b c d") > 0.4
    assert repetition_rate("one two three four five six") == 0.0
    assert set(sample_indices(100, 10)) <= set(sample_indices(100, 40))
    assert sample_indices(5, None) == [0, 1, 2, 3, 4]


def test_batched_scorer_matches_generate_and_teacher_forced_nll(tiny_base: Path) -> None:
    from transformers import AutoModelForCausalLM

    tok = make_tokenizer()
    model = AutoModelForCausalLM.from_pretrained(tiny_base).eval()
    prompts = [tok(t)["input_ids"] for t in ("user the cat sat", "user the cat sat on the mat and", "user the fever")]
    refs = [tok(" asthma is")["input_ids"] + [tok.eos_token_id]] * 3
    scorer = BatchedScorer(model, tok.eos_token_id, tok.pad_token_id, prompts[0][: common_prefix(prompts)])
    scorer.decode = tok.decode
    got = scorer.run(prompts, refs, 6)
    for p, r, g in zip(prompts, refs, got, strict=True):
        with torch.no_grad():
            out = model.generate(
                torch.tensor([p]),
                attention_mask=torch.ones(1, len(p), dtype=torch.long),
                max_new_tokens=6,
                do_sample=False,
                eos_token_id=tok.eos_token_id,
                pad_token_id=tok.pad_token_id,
            )
            logits = model(torch.tensor([p + r])).logits[0, len(p) - 1 : -1]
        want = tok.decode(out[0, len(p) :], skip_special_tokens=True).strip()
        nll = float(-torch.log_softmax(logits, -1).gather(-1, torch.tensor(r)[:, None]).mean())
        assert g.text == want
        assert g.nll == pytest.approx(nll, abs=1e-4)


def test_train_evaluate_merge_end_to_end(tiny_base: Path, dataset: Path, settings: Settings, tmp_path: Path) -> None:
    from chatbot.llm.adapters import AdapterIntegrityError
    from finetune.evaluate import evaluate
    from finetune.merge import merge_adapter
    from finetune.metadata import read_metadata, verify_adapter
    from finetune.train import train

    out = tmp_path / "adapter"
    cfg = TrainConfig(
        base_model=str(tiny_base),
        dataset_dir=str(dataset),
        output_dir=str(out),
        checkpoint_dir=str(tmp_path / "ckpt"),
        max_length=4096,
        max_steps=3,
        per_device_batch_size=2,
        eval_steps=2,
        eval_examples=2,
        save_steps=2,
        logging_steps=1,
        lora_r=4,
        lora_alpha=8,
        gradient_checkpointing=True,
        lora_layers=1,
        learning_rate=1e-2,
    )
    metrics = train(cfg, settings)
    assert metrics["global_step"] == 3 and metrics["final_eval_loss"] is not None
    for name in (
        "adapter_model.safetensors",
        "adapter_config.json",
        "healthbot_adapter.json",
        "loss_curve.png",
        "train_metrics.json",
    ):
        assert (out / name).is_file(), name
    assert not list(out.glob("checkpoint-*")) and list((tmp_path / "ckpt").glob("checkpoint-*"))
    meta = read_metadata(out)
    assert meta is not None and meta["base_model"] == str(tiny_base) and meta["num_hidden_layers"] == 2
    assert verify_adapter(out) == meta and set(meta["adapter_files_sha256"]) == {
        "adapter_model.safetensors",
        "adapter_config.json",
    }
    assert json.loads((out / "adapter_config.json").read_text())["layers_to_transform"] == [1]

    report = evaluate(
        EvalConfig(
            adapter=str(out),
            dataset_dir=str(dataset),
            split="train",
            limit=6,
            batch_size=4,
            max_new_tokens=5,
            bootstrap_resamples=50,
        ),
        settings,
    )
    assert report["n"] == 6 and set(report["metrics"]) >= {"nll", "rouge_l", "stopped", "repetition"}
    assert (out / "eval.md").read_text().startswith("Held-out train split: 6 questions")
    assert len((out / "eval_examples.jsonl").read_text().splitlines()) == 6
    assert read_metadata(out)["evaluation"]["n"] == 6  # type: ignore[index]
    assert verify_adapter(out) is not None  # writing the evaluation kept the file hashes
    # Second run: everything comes from the per-example cache and gives the same numbers.
    again = evaluate(
        EvalConfig(
            adapter=str(out),
            dataset_dir=str(dataset),
            split="train",
            limit=6,
            batch_size=4,
            max_new_tokens=5,
            bootstrap_resamples=50,
        ),
        settings,
    )
    assert again["metrics"]["nll"] == report["metrics"]["nll"]

    merged = merge_adapter(out, tmp_path / "merged", settings)
    assert (merged / "config.json").is_file() and (merged / "healthbot_merged_from.json").is_file()
    with pytest.raises(FinetuneError, match="full-precision base"):
        merge_adapter(out, tmp_path / "merged4", settings, quantization="4bit")
    with pytest.raises(FinetuneError, match="not empty"):
        merge_adapter(out, merged, settings)
    # Tampered adapter files are refused by the fine-tuning loaders too, before any model loads.
    weights = out / "adapter_model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF  # one bit pattern of one weight
    weights.write_bytes(bytes(data))
    with pytest.raises(AdapterIntegrityError, match="was changed after"):
        merge_adapter(out, tmp_path / "merged2", settings)
    with pytest.raises(AdapterIntegrityError, match="was changed after"):
        evaluate(EvalConfig(adapter=str(out), dataset_dir=str(dataset), split="train", limit=2), settings)
