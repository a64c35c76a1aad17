"""The synthetic corpus generator of benchmarks/retrieval_scale.py keeps the real clusters."""

from __future__ import annotations

import numpy as np

from benchmarks.retrieval_scale import pick_queries, synthetic


def _real() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((3, 32)).astype(np.float32) * 3
    labels = np.repeat(np.arange(3), 40)
    real = centres[labels] + rng.standard_normal((120, 32)).astype(np.float32)
    real /= np.linalg.norm(real, axis=1, keepdims=True)
    return real, labels


def test_synthetic_vectors_are_unit_deterministic_and_stay_in_their_cluster() -> None:
    real, labels = _real()
    out = synthetic(500, real, labels, noise=0.1, seed=3, step=128)
    assert out.shape == (500, 32) and out.dtype == np.float32
    assert np.allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(out, synthetic(500, real, labels, noise=0.1, seed=3, step=128))
    centroids = np.stack([real[labels == k].mean(0) for k in range(3)])
    nearest_real = labels[(out @ real.T).argmax(1)]
    nearest_centroid = (out @ centroids.T).argmax(1)
    assert (nearest_real == nearest_centroid).mean() > 0.95
    assert np.bincount(nearest_centroid, minlength=3).min() > 100  # cluster sizes kept (40/40/40)
    assert (out @ real.T).max(1).max() < 0.9999  # new points, not copies


def test_pick_queries_skips_empty_rows_and_samples_without_replacement() -> None:
    real, _ = _real()
    with_empty = np.vstack([real, np.zeros((5, 32), dtype=np.float32)])
    q = pick_queries(with_empty, 50)
    assert q.shape == (50, 32)
    assert np.all(np.linalg.norm(q, axis=1) > 0.99)
    assert len({row.tobytes() for row in q}) == 50
