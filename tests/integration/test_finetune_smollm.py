"""Fine-tuning on the real embedded SmolLM2-135M (CPU): LoRA and 4-bit QLoRA for a few steps,
a run killed with SIGKILL after its first checkpoint and resumed, and an evaluation.

Tiny on purpose (two passages of a dozen words, 2-3 steps, LoRA on the top blocks only) so
the module stays around a couple of minutes on CI.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chatbot.settings import Settings, load_settings
from finetune.config import DataConfig, EvalConfig, TrainConfig
from tests.unit.test_finetune_data import write_qa_jsonl

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, Path]]:
    from finetune.data import build_dataset

    root = tmp_path_factory.mktemp("finetune")
    settings = load_settings(data_dir=root / "data", embedding={"mode": "mock", "dimension": 64})
    dataset = root / "data" / "finetune" / "dataset"
    build_dataset(
        DataConfig(validation_share=0.2, test_share=0.25, num_passages=2, passage_words=12, no_source_share=0.1),
        write_qa_jsonl(root / "qa.jsonl"),
        dataset,
    )
    yield settings, root


def _cfg(root: Path, name: str, **kw: object) -> TrainConfig:
    base = dict(
        run_name=name,
        max_length=384,
        max_steps=2,
        per_device_batch_size=1,
        lora_r=4,
        lora_alpha=8,
        lora_layers=2,
        eval_steps=0,
        save_steps=1,
        logging_steps=1,
        learning_rate=1e-3,
        threads=2,
        output_dir=str(root / "adapters" / name),
        checkpoint_dir=str(root / "runs" / name),
    )
    base.update(kw)
    return TrainConfig(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize("quantization", ["none", "4bit"])
def test_lora_and_qlora_train_on_the_embedded_model(env: tuple[Settings, Path], quantization: str) -> None:
    from finetune.metadata import read_metadata
    from finetune.train import train

    settings, root = env
    metrics = train(_cfg(root, f"q-{quantization}", quantization=quantization), settings)
    assert metrics["global_step"] == 2 and math.isfinite(metrics["train_loss"])
    out = Path(metrics["output_dir"])
    meta = read_metadata(out)
    assert meta is not None and meta["base_identity"] == "gguf-source" and meta["quantization"] == quantization
    assert (out / "adapter_model.safetensors").stat().st_size > 0 and (out / "loss_curve.png").is_file()


def test_killed_run_resumes_from_its_checkpoint_then_evaluates(env: tuple[Settings, Path]) -> None:
    from finetune.evaluate import evaluate
    from finetune.train import train

    settings, root = env
    cfg = _cfg(root, "resume", max_steps=3)
    args = [sys.executable, "-m", "finetune", "train"]
    for key in (
        "run_name",
        "max_length",
        "max_steps",
        "per_device_batch_size",
        "lora_r",
        "lora_alpha",
        "lora_layers",
        "eval_steps",
        "save_steps",
        "logging_steps",
        "learning_rate",
        "threads",
        "output_dir",
        "checkpoint_dir",
    ):
        args += ["--" + key.replace("_", "-"), str(getattr(cfg, key))]
    env_vars = {**os.environ, "HEALTHBOT_DATA_DIR": str(settings.data_dir), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(args, cwd=REPO, env=env_vars, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first = Path(cfg.checkpoint_dir) / "checkpoint-1" / "trainer_state.json"
    deadline = time.monotonic() + 240
    while not first.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.3)  # let the checkpoint's last files land
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL, "the run finished before it could be killed"
    assert first.exists()
    assert not Path(cfg.output_dir).exists()  # killed before the adapter was written: nothing half-done

    metrics = train(cfg, settings)
    assert metrics["resumed_from_step"] >= 1
    assert metrics["global_step"] == 3

    report = evaluate(
        EvalConfig(
            adapter=cfg.output_dir, split="train", limit=4, batch_size=4, max_new_tokens=8, bootstrap_resamples=50
        ),
        settings,
    )
    assert report["n"] == 4
    assert all(math.isfinite(report["metrics"]["nll"][k]) for k in ("base", "adapter"))
