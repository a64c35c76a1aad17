"""Real MiniLM through embedding.backend=onnx-int8: offline export, cache, agreement with PyTorch.

Throughput and LiveQA MAP@10 against the PyTorch embedder are measured in
``benchmarks/embedding.py``, not here (no timing assertions in tests).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from chatbot.settings import load_settings
from knowledge import index as kindex

pytestmark = pytest.mark.integration

TEXTS = [
    "Asthma is a long-term condition in which the airways narrow and swell, causing wheezing.",
    "How can I lower my blood pressure without medicine?",
    "Chickenpox is contagious from a day or two before the rash appears until every blister has crusted over.",
]


def test_onnx_int8_embedder_matches_torch_and_reuses_its_export(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    torch_settings = load_settings(data_dir=tmp_path / "data")
    int8_settings = load_settings(data_dir=tmp_path / "data", embedding={"backend": "onnx-int8"})
    ref = kindex.open_embedder(torch_settings, cached=False).encode(TEXTS)
    emb = kindex.open_embedder(int8_settings, cached=False)
    assert emb.name == "all-MiniLM-L6-v2[onnx-int8]"
    got = emb.encode(TEXTS)
    assert got.shape == ref.shape and got.dtype == np.float32
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-4)
    assert float(np.sum(got * ref, axis=1).min()) > 0.97
    # Same texts rank the same way: each text's nearest neighbour among the others is unchanged.
    assert ((got @ got.T) - 2 * np.eye(3)).argmax(1).tolist() == ((ref @ ref.T) - 2 * np.eye(3)).argmax(1).tolist()
    exported = sorted(p.name for p in (tmp_path / "data" / "cache" / "onnx").iterdir())
    assert any(n.endswith(".qint8.onnx") for n in exported) and not any(n.endswith(".tmp") for n in exported)
    # A second embedder loads the cached graphs instead of exporting again.
    stamp = {p: p.stat().st_mtime_ns for p in (tmp_path / "data" / "cache" / "onnx").iterdir()}
    again = kindex.open_embedder(int8_settings, cached=False)
    assert np.allclose(again.encode(TEXTS), got, atol=1e-6)
    assert {p: p.stat().st_mtime_ns for p in stamp} == stamp
