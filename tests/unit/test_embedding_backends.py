"""embedding.backend: the ONNX corpus embedder's plumbing, with fakes (no model is loaded)."""

from __future__ import annotations

import copy
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from chatbot.settings import SettingsError, load_settings
from knowledge import onnx_embedder
from knowledge.embedding import build_embedder
from knowledge.errors import KnowledgeError
from knowledge.onnx_embedder import OnnxEmbedder, quantize_int8


class _RecordingEncoder:
    """Stands in for OnnxQueryEncoder: a text's vector is its length, so rows can be traced."""

    def __init__(self, max_seq_length: int = 256) -> None:
        self.max_seq_length = max_seq_length
        self.batches: list[list[str]] = []

    def encode(self, texts: list[str]) -> np.ndarray:
        self.batches.append(list(texts))
        out = np.zeros((len(texts), 4), dtype=np.float32)
        out[:, 0] = [len(t) for t in texts]
        out[:, 1] = self.max_seq_length
        return out


def _embedder(batch_size: int) -> tuple[OnnxEmbedder, _RecordingEncoder]:
    emb = object.__new__(OnnxEmbedder)
    enc = _RecordingEncoder()
    emb._encoder = enc  # type: ignore[assignment]
    emb._query_encoder = copy.copy(enc)  # type: ignore[assignment]
    emb._query_encoder.max_seq_length = 128
    emb.batch_size = batch_size
    emb._lock = threading.Lock()
    emb.dimension = 4
    return emb, enc


def test_encode_batches_longest_first_and_keeps_input_order() -> None:
    emb, enc = _embedder(batch_size=2)
    texts = ["a", "ccc", "bb", "dddd", "e"]
    vecs = emb.encode(texts)
    assert vecs[:, 0].tolist() == [1, 3, 2, 4, 1]
    assert [len(b) for b in enc.batches] == [2, 2, 1]
    assert enc.batches[0] == ["dddd", "ccc"]


def test_encode_empty_and_queries_use_the_query_window() -> None:
    emb, _ = _embedder(batch_size=8)
    assert emb.encode([]).shape == (0, 4)
    assert emb.encode_queries([]).shape == (0, 4)
    assert emb.encode_queries(["what is asthma?"])[0, 1] == 128
    assert emb.encode(["what is asthma?"])[0, 1] == 256


def test_backend_setting_is_validated(tmp_path: Path) -> None:
    assert load_settings(data_dir=tmp_path).embedding.backend == "torch"
    with pytest.raises(SettingsError, match=r"embedding\.backend"):
        load_settings(data_dir=tmp_path, embedding={"backend": "tensorrt"})


def test_build_embedder_picks_the_onnx_backend_and_its_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[tuple[str, Any]] = []

    class _Fake:
        def __init__(self, settings: Any, variant: str, *, cache_dir: Path | None = None) -> None:
            made.append((variant, cache_dir))

    monkeypatch.setattr(onnx_embedder, "OnnxEmbedder", _Fake)
    s = load_settings(data_dir=tmp_path, embedding={"backend": "onnx-int8"})
    assert isinstance(build_embedder(s.embedding, cache_dir=tmp_path / "cache"), _Fake)
    assert made == [("onnx-int8", tmp_path / "cache" / "onnx")]
    mock = load_settings(data_dir=tmp_path, embedding={"mode": "mock", "backend": "onnx-int8", "dimension": 8})
    assert build_embedder(mock.embedding).dimension == 8  # mock mode ignores the backend


def _tiny_graph(path: Path) -> np.ndarray:
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    w = np.random.default_rng(0).standard_normal((16, 8)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 8])],
        [numpy_helper.from_array(w, "w")],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return w


def test_quantize_int8_is_cached_and_close_to_fp32(tmp_path: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    src = tmp_path / "m.onnx"
    w = _tiny_graph(src)
    dst = quantize_int8(src)
    assert dst.name == "m.qint8.onnx" and dst.is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".qint8-")]  # no temporary left
    mtime = dst.stat().st_mtime_ns
    assert quantize_int8(src) == dst and dst.stat().st_mtime_ns == mtime  # reused, not redone
    x = np.random.default_rng(1).standard_normal((4, 16)).astype(np.float32)
    got = ort.InferenceSession(str(dst), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    want = x @ w
    cos = (got * want).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(want, axis=1)
    assert cos.min() > 0.95  # 8-bit activations of a 16-wide toy layer; MiniLM keeps >= 0.99
    import onnx

    kinds = {t.data_type for t in onnx.load(str(dst)).graph.initializer}
    assert onnx.TensorProto.INT8 in kinds  # the weight is stored as int8


def test_quantize_int8_reports_a_broken_graph(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    src = tmp_path / "broken.onnx"
    src.write_bytes(b"not a graph")
    with pytest.raises(KnowledgeError, match=r"could not quantize broken\.onnx"):
        quantize_int8(src)
    assert not (tmp_path / "broken.qint8.onnx").exists()
