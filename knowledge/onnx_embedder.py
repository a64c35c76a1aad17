"""Corpus embedder on ONNX Runtime: the model's ONNX export, optionally int8-quantized.

sentence-transformers' own ``backend="onnx"`` needs ``optimum-onnx``, whose releases pin
``transformers<4.58`` and so cannot be installed beside this project's transformers 5. This
reuses the export of :mod:`knowledge.onnx_encoder` (checked against PyTorch at export) and, for
``onnx-int8``, applies ONNX Runtime's dynamic int8 quantization to it: the same recipe as
sentence-transformers' ``export_dynamic_quantized_onnx_model``, without optimum. The quantized
graph is cached next to the fp32 one, written to a temporary name and renamed into place.

The backend is part of the embedder's name, so an index (and cached vectors) built with one
backend is never searched with vectors of another: ``check_embedder`` asks for a rebuild.
"""

from __future__ import annotations

import copy
import logging
import os
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from knowledge.errors import KnowledgeError

if TYPE_CHECKING:
    import numpy as np

    from chatbot.settings import EmbeddingSettings

log = logging.getLogger(__name__)

OnnxVariant = Literal["onnx", "onnx-int8"]


def quantize_int8(src: Path, *, model_type: str = "", num_heads: int = 0, hidden_size: int = 0) -> Path:
    """``src`` with int8 MatMul weights, cached as ``<stem>.qint8.onnx`` beside it.

    For BERT-family models the graph is first fused by ONNX Runtime's transformer optimizer
    (one Attention op per layer, SkipLayerNorm, BiasGelu) and only the remaining MatMuls are
    quantized, dynamically (activation scales per batch, so no calibration data is needed).
    Measured on 64 MedQuAD passages, 1 thread, one run (PyTorch 5.6/s): fused + int8 MatMuls
    17.6/s, cosine to PyTorch >= 0.992; unfused, every MatMul int8 15.0/s, >= 0.990; fused with
    the Attention ops int8 too 9.2/s; uint8 weights 8.6/s. Per-tensor weights (another run) were
    1.2x faster than per-channel but bent the vectors to cosine 0.92 (min).
    """
    dst = src.with_name(f"{src.stem}.qint8.onnx")
    if dst.is_file():
        return dst
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory(dir=src.parent, prefix=".qint8-") as tmp:
        fused = Path(tmp) / "fused.onnx"
        base = src
        if model_type == "bert" and num_heads and hidden_size:
            from onnxruntime.transformers import optimizer

            try:
                opt = optimizer.optimize_model(
                    str(src), model_type="bert", num_heads=num_heads, hidden_size=hidden_size, opt_level=2
                )
                opt.save_model_to_file(str(fused))
                base = fused
            except Exception as err:  # an unusual graph only loses the fusion, not the quantization
                log.warning("ONNX fusion skipped: %s", " ".join(str(err).split())[:200])
        try:
            quantize_dynamic(
                str(base),
                str(Path(tmp) / "q.onnx"),
                weight_type=QuantType.QInt8,
                per_channel=True,
                op_types_to_quantize=["MatMul"],
                # Shape inference cannot type some exported MatMul outputs; they are float.
                extra_options={"DefaultTensorType": 1},  # onnx.TensorProto.FLOAT
            )
            os.replace(Path(tmp) / "q.onnx", dst)
        except Exception as err:
            raise KnowledgeError(f"could not quantize {src.name} to int8: {' '.join(str(err).split())[:300]}") from None
    return dst


class OnnxEmbedder:
    """Embedder protocol over ONNX Runtime; tokenisation and token counts are the model's own."""

    def __init__(
        self,
        settings: EmbeddingSettings,
        variant: OnnxVariant,
        *,
        cache_dir: Path | None = None,
        threads: int | None = None,
    ) -> None:
        from knowledge.onnx_encoder import OnnxQueryEncoder, OnnxUnavailable
        from knowledge.st_embedder import SentenceTransformerEmbedder

        # PyTorch stays loaded for the tokenizer and for exporting once; it never encodes here.
        self._st = SentenceTransformerEmbedder(settings)
        # Without a cache dir (callers holding only EmbeddingSettings) the export lives in a
        # temporary folder for this process.
        self._scratch: tempfile.TemporaryDirectory[str] | None = None
        if cache_dir is None:
            self._scratch = tempfile.TemporaryDirectory(prefix="healthbot-onnx-")
            cache_dir = Path(self._scratch.name)
        n_threads = threads if threads is not None else (os.cpu_count() or 1)
        try:
            self._encoder = OnnxQueryEncoder(
                self._st.model, Path(cache_dir), max_seq_length=self._st.max_seq_length, threads=n_threads
            )
            if variant == "onnx-int8":
                import onnxruntime as ort

                opts = ort.SessionOptions()
                opts.intra_op_num_threads = n_threads
                opts.inter_op_num_threads = 1
                opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
                opts.log_severity_level = 3
                cfg: Any = getattr(self._st.model[0].auto_model, "config", None)
                path = quantize_int8(
                    self._encoder.path,
                    model_type=str(getattr(cfg, "model_type", "")),
                    num_heads=int(getattr(cfg, "num_attention_heads", 0) or 0),
                    hidden_size=int(getattr(cfg, "hidden_size", 0) or 0),
                )
                self._encoder.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
                # Fusion may drop an unused input (token_type_ids), so feed what this graph takes.
                self._encoder.input_names = [i.name for i in self._encoder.session.get_inputs()]
        except OnnxUnavailable as err:
            raise KnowledgeError(f"embedding.backend={variant} is unavailable: {err}") from None
        self.max_seq_length = self._st.max_seq_length
        # Queries get the same shorter window as the PyTorch embedder's query path; the copy
        # shares the session (ONNX Runtime sessions run concurrently), so nothing is toggled.
        self._query_encoder = copy.copy(self._encoder)
        self._query_encoder.max_seq_length = min(settings.query_max_seq_length, self.max_seq_length)
        self.batch_size = settings.batch_size
        # One call at a time: a fast tokenizer raises "Already borrowed" when two threads change
        # its truncation length at once (queries use 128 tokens, passages 256), and onnxruntime
        # already spreads one call over every core.
        self._lock = threading.Lock()
        self.dimension = self._st.dimension
        # The backend is part of the name, so indexes and cached vectors of different backends never mix.
        self.name = f"{self._st.name}[{variant}]"

    def count_tokens(self, text: str) -> int:
        return self._st.count_tokens(text)

    def count_tokens_batch(self, texts: list[str]) -> list[int]:
        return self._st.count_tokens_batch(texts)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        import numpy as np

        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            return self._query_encoder.encode(texts)

    def encode(self, texts: list[str], *, show_progress: bool = False) -> np.ndarray:
        import numpy as np

        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        # Longest first, as sentence-transformers does: batches of similar length pad less.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        starts: Any = range(0, len(order), self.batch_size)
        if show_progress and len(texts) > self.batch_size:
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc="embedding", unit="batch")
        for start in starts:
            idx = order[start : start + self.batch_size]
            with self._lock:
                out[idx] = self._encoder.encode([texts[i] for i in idx])
        return out
