"""Paired bootstrap confidence intervals for the difference between two configurations.

Both configurations answer the same items, so items are resampled together: the interval
is about ``mean(B - A)`` and ignores between-item variance that both share.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class PairedDiff:
    metric: str
    n: int  # items where both configurations have a value
    mean_a: float
    mean_b: float
    diff: float  # mean(B) - mean(A)
    low: float  # lower bound of the confidence interval of diff
    high: float
    p_not_better: float  # share of resamples with diff <= 0 (one-sided bootstrap p for "B > A")
    confidence: float

    @property
    def verdict(self) -> str:
        if self.low > 0:
            return "B higher"
        if self.high < 0:
            return "A higher"
        return "no clear difference"


def paired_bootstrap(
    metric: str,
    a: Sequence[float | None],
    b: Sequence[float | None],
    *,
    resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> PairedDiff | None:
    """Percentile-bootstrap interval of ``mean(b - a)`` over items where both values exist.

    Deterministic for a given ``seed``; ``None`` when no item has both values.
    """
    import numpy as np

    if len(a) != len(b):
        raise ValueError(f"paired samples differ in length ({len(a)} vs {len(b)})")
    if resamples < 1:
        raise ValueError("resamples must be at least 1")
    if not 0 < confidence < 1:
        raise ValueError("confidence must be between 0 and 1")
    pairs = [(x, y) for x, y in zip(a, b, strict=True) if x is not None and y is not None]
    if not pairs:
        return None
    xa = np.array([p[0] for p in pairs], dtype=np.float64)
    xb = np.array([p[1] for p in pairs], dtype=np.float64)
    d = xb - xa
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(d), size=(resamples, len(d)))
    means = d[idx].mean(axis=1)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(means, [alpha, 1 - alpha])
    return PairedDiff(
        metric=metric,
        n=len(d),
        mean_a=float(xa.mean()),
        mean_b=float(xb.mean()),
        diff=float(d.mean()),
        low=float(low),
        high=float(high),
        p_not_better=float((means <= 0).mean()),
        confidence=confidence,
    )
