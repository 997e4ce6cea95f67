"""The statistics the figures use, as pure functions over plain numbers. Each answers None
where there is nothing to compute (no values, a zero total), never a division by zero."""

from __future__ import annotations

import math
from collections.abc import Sequence

# The normal quantile of a two-sided 95% interval.
Z_95 = 1.959963984540054


def percentile(values: Sequence[float], q: float) -> float | None:
    """The `q`-th percentile (0-100) by linear interpolation between closest ranks (the
    "linear" method of numpy and Excel's PERCENTILE.INC); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def mean_interval_95(values: Sequence[float]) -> tuple[float, float] | None:
    """The 95% confidence interval of the mean (normal approximation: mean ± 1.96·s/√n with
    the sample standard deviation s); None for fewer than two values."""
    n = len(values)
    if n < 2:
        return None
    centre = sum(values) / n
    variance = sum((v - centre) ** 2 for v in values) / (n - 1)
    half = Z_95 * math.sqrt(variance / n)
    return centre - half, centre + half


def ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def jain(values: Sequence[float]) -> float | None:
    """Jain's fairness index, (Σx)² / (n·Σx²): 1 when all are equal, 1/n when one holds all;
    None for no values or all zero."""
    squares = sum(v * v for v in values)
    if not values or squares == 0:
        return None
    return sum(values) ** 2 / (len(values) * squares)


def gini(values: Sequence[float]) -> float | None:
    """The Gini coefficient, Σᵢ Σⱼ |xᵢ - xⱼ| / (2·n²·mean): 0 when all are equal; None for no
    values or a zero mean."""
    n = len(values)
    total = sum(values)
    if n == 0 or total == 0:
        return None
    ordered = sorted(values)
    # Σᵢ Σⱼ |xᵢ - xⱼ| = 2 Σᵢ (2i - n + 1)·x₍ᵢ₎ over the sorted values (i from 0).
    weighted = sum((2 * i - n + 1) * v for i, v in enumerate(ordered))
    return (2 * weighted) / (2 * n * total)
