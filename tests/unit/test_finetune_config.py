"""Config validation (peft style) and the CLI built from the dataclasses' help metadata."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from finetune.__main__ import build_parser, main
from finetune.config import DataConfig, EvalConfig, FinetuneError, TrainConfig


@pytest.mark.parametrize(
    ("cls", "kwargs", "message"),
    [
        (TrainConfig, {"quantization": "8bit"}, "quantization"),
        (TrainConfig, {"lora_r": 0}, "lora_r"),
        (TrainConfig, {"lora_dropout": 1.0}, "lora_dropout"),
        (TrainConfig, {"max_length": 8}, "max_length"),
        (TrainConfig, {"max_steps": 0}, "max_steps"),
        (TrainConfig, {"learning_rate": 2.0}, "learning_rate"),
        (TrainConfig, {"lora_layers": 0}, "lora_layers"),
        (TrainConfig, {"run_name": "a/b"}, "run_name"),
        (DataConfig, {"test_share": 0.6}, "test_share"),
        (DataConfig, {"num_passages": 0}, "num_passages"),
        (DataConfig, {"no_source_share": 1.0}, "no_source_share"),
        (EvalConfig, {}, "--adapter"),
        (EvalConfig, {"adapter": "x", "batch_size": 0}, "batch_size"),
    ],
)
def test_bad_values_are_rejected_with_the_field_name(cls: type, kwargs: dict, message: str) -> None:
    with pytest.raises(FinetuneError, match=message):
        cls(**kwargs)


def test_every_field_has_help_text() -> None:
    for cls in (DataConfig, TrainConfig, EvalConfig):
        for f in fields(cls):
            assert f.metadata.get("help"), f"{cls.__name__}.{f.name} has no help"


def test_hyperparameters_leave_out_paths_and_runtime_knobs() -> None:
    hp = TrainConfig(output_dir="/x", threads=2).hyperparameters()
    assert "output_dir" not in hp and "threads" not in hp
    assert hp["lora_r"] == 16 and hp["base_model"] == "embedded"


def test_target_modules_parsing() -> None:
    assert TrainConfig().target_module_list == "all-linear"
    assert TrainConfig(target_modules="q_proj, v_proj").target_module_list == ["q_proj", "v_proj"]


def test_cli_options_mirror_the_config_fields() -> None:
    parser = build_parser()
    args = parser.parse_args(
        [
            "train",
            "--lora-r",
            "8",
            "--quantization",
            "4bit",
            "--threads",
            "none",
            "--gradient-checkpointing",
            "false",
            "--lora-layers",
            "4",
        ]
    )
    assert (args.lora_r, args.quantization, args.threads, args.gradient_checkpointing, args.lora_layers) == (
        8,
        "4bit",
        None,
        False,
        4,
    )


def test_cli_prints_one_line_errors_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEALTHBOT_DATA_DIR", str(tmp_path))
    assert main(["train", "--dataset-dir", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: no dataset at") and "build-data" in err and "\n" not in err
    assert main(["train", "--lora-r", "0"]) == 2
    assert "lora_r" in capsys.readouterr().err
