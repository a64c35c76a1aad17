"""Loading a transformers causal LM as ``llm`` settings say: device, dtype, bitsandbytes
quantization, the embedded GGUF's one-time conversion, the adapter, and torch.ao int8.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chatbot.llm.base import GenerationError
from chatbot.llm.cache import ensure_checkpoint, gguf_source, source_sha256
from chatbot.llm.hf_adapter import attach_adapter, resolve_adapter
from chatbot.llm.hf_model import LoadedModel, one_line
from chatbot.settings import EMBEDDED, SHIPPED_ADAPTER, LLMSettings

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)


def resolve_device(device: str) -> str:
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        raise GenerationError("llm.device is 'cuda' but no CUDA GPU is visible to torch: set llm.device: cpu or auto")
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def _dtype(name: str) -> torch.dtype:
    import torch

    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[name]


def _quantization_config(settings: LLMSettings) -> Any:
    if settings.quantization == "none":
        return None
    import importlib.util

    if importlib.util.find_spec("bitsandbytes") is None:
        raise GenerationError(
            f"llm.quantization: {settings.quantization} needs bitsandbytes: "
            "`pip install bitsandbytes==0.50.2`, or set llm.quantization: none"
        )
    from transformers import BitsAndBytesConfig

    if settings.quantization == "4bit":
        return BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=_dtype(settings.compute_dtype),
        )
    return BitsAndBytesConfig(load_in_8bit=True)


# On CPUs with AVX512-BF16, bitsandbytes 0.50's Linear4bit repacks its weight on the first
# inference forward for a fused kernel (``functional._convert_weight_packed_for_cpu``). That layout
# needs out_features % 32 == 0 (an assertion) and in_features % blocksize (64) == 0 (else the
# absmax reshape to [N, K // blocksize] fails: "shape '[N, 0]' is invalid"). SmolLM2-135M and the
# usual Llama/Qwen2/Gemma/Phi-3 sizes satisfy both; the odd layer of another model is kept on
# bitsandbytes' generic dequantize + matmul path instead of crashing at the first answer.
_BNB_CPU_PACK_BLOCK_N = 32


def _keep_unpackable_4bit_layers_unfused(model: Any) -> int:
    """Turn bitsandbytes' packed CPU kernel off for 4-bit layers whose shape it cannot pack."""
    kept = 0
    for module in model.modules():
        state = getattr(getattr(module, "weight", None), "quant_state", None)
        if not getattr(module, "support_avx512bf16_for_cpu", False) or state is None:
            continue
        out_features, in_features = (int(d) for d in state.shape)
        if out_features % _BNB_CPU_PACK_BLOCK_N or in_features % int(state.blocksize):
            module.support_avx512bf16_for_cpu = False
            kept += 1
    if kept:
        log.info("4-bit: %d layer(s) with shapes bitsandbytes' CPU kernel cannot pack use its generic path", kept)
    return kept


def _checkpoint_for(settings: LLMSettings, cache_dir: Path) -> tuple[str, str | None]:
    """(what to pass to from_pretrained, sha256 of its GGUF source or None)."""
    src = gguf_source(settings.model, settings.gguf_file)
    if src is not None:
        ckpt = ensure_checkpoint(src, cache_dir)
        return str(ckpt), source_sha256(ckpt)
    path = Path(settings.model).expanduser()
    looks_local = settings.model.startswith((".", "/", "~")) or path.exists() or settings.model.count("/") > 1
    if looks_local and not path.is_dir():
        raise GenerationError(
            f"llm.model path not found: {settings.model} (use 'embedded', a local model directory "
            "with config.json, or a Hugging Face model id)"
        )
    if looks_local and not (path / "config.json").is_file():
        raise GenerationError(
            f"llm.model {settings.model} has no config.json: point it at a transformers checkpoint "
            "directory (or set llm.gguf_file for a GGUF file in it)"
        )
    return (str(path) if looks_local else settings.model), None


def load_model(settings: LLMSettings, cache_dir: Path, *, merge_adapter: bool | None = None) -> LoadedModel:
    """Load tokenizer + model as ``settings`` says (converting the embedded GGUF once).

    Public so the fine-tuning module loads its base exactly the way inference does.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = resolve_device(settings.device)
    if settings.threads:
        torch.set_num_threads(settings.threads)
    qconfig = _quantization_config(settings)
    checkpoint, sha = _checkpoint_for(settings, cache_dir)
    kwargs: dict[str, Any] = {
        "dtype": _dtype(settings.compute_dtype),
        "use_safetensors": True,
        "trust_remote_code": False,
    }
    if qconfig is not None:
        kwargs["quantization_config"] = qconfig
        kwargs["device_map"] = {"": 0} if device == "cuda" else {"": "cpu"}
    try:
        tokenizer = AutoTokenizer.from_pretrained(checkpoint, trust_remote_code=False)
        model: Any = AutoModelForCausalLM.from_pretrained(checkpoint, **kwargs)
    except GenerationError:
        raise
    except Exception as err:
        hint = (
            "delete that directory or run `python -m chatbot prepare` to rebuild it"
            if sha is not None
            else "check llm.model (a local safetensors checkpoint or a model already in the Hugging Face cache)"
        )
        raise GenerationError(f"could not load model {checkpoint}: {one_line(err)} ({hint})") from None
    if qconfig is None:
        model.to(device)
    elif settings.quantization == "4bit" and device == "cpu":
        _keep_unpackable_4bit_layers_unfused(model)
    model.eval()
    loaded = LoadedModel(model, tokenizer, device, checkpoint, settings.model, sha, settings.quantization)
    # The shipped adapter was trained for the embedded model only; with another base model the
    # default means "no adapter" rather than an error about a mismatched base.
    if settings.adapter == SHIPPED_ADAPTER and settings.model != EMBEDDED:
        log.info("llm.adapter 'default' is for the embedded model; %s runs without it", settings.model)
    elif settings.adapter:
        merge = settings.merge_adapter if merge_adapter is None else merge_adapter
        attach_adapter(
            loaded,
            resolve_adapter(settings.adapter),
            merge=merge and qconfig is None,
            require_metadata=settings.adapter == SHIPPED_ADAPTER,
        )
    return loaded


def has_float_linear(model: Any) -> bool:
    import torch

    # only float32 models: torch.ao's dynamic Linear takes float32 activations
    return isinstance(model, torch.nn.Module) and any(
        isinstance(m, torch.nn.Linear) and m.weight.dtype == torch.float32 for m in model.modules()
    )


def quantize_int8_dynamic(loaded: LoadedModel) -> None:
    """Swap every Linear for torch's int8 dynamic-quantized Linear (per-channel weights).

    Decoding is memory-bound: int8 weights are a quarter of fp32's bytes, and the int8 GEMM
    also speeds up prompt processing (see benchmarks/generation.py). Only on plain models: an
    unmerged LoRA adapter keeps float weights so it stays exact.
    """
    import warnings

    import torch

    if type(loaded.model).__name__.startswith("Peft"):
        log.info("cpu_int8 skipped: the adapter is not merged (set llm.merge_adapter: true)")
        return
    quantization: Any = getattr(torch.ao, "quantization", None)
    quantize_dynamic = getattr(quantization, "quantize_dynamic", None)
    engines = getattr(torch.backends.quantized, "supported_engines", [])
    if quantize_dynamic is None or not any(e in engines for e in ("fbgemm", "x86", "qnnpack")):
        log.info("cpu_int8 skipped: this torch build has no int8 dynamic quantization")
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao's deprecation notice; the kernels are what we use
        qconfig = quantization.per_channel_dynamic_qconfig
        loaded.model = quantize_dynamic(loaded.model, {torch.nn.Linear: qconfig}, dtype=torch.qint8)
    loaded.quantization = "int8-dynamic"
