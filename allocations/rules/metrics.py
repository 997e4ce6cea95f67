"""Fairness metrics for oversight, for a result and for the other rules on the same snapshot.

Over the eligible claims: total granted and unspent (exact minor units), the share of demand
met by each claim (grant / amount asked) with its minimum and median (exact fractions), the
Gini coefficient and Jain's index on the amounts granted and on the shares met, and how many
claims were met in full.

Gini = (2·Σ i·x_(i)) / (n·Σ x) - (n + 1)/n over the values sorted ascending (0: everyone
equal; towards 1: one claim has everything); Jain = (Σ x)² / (n·Σ x²) (1: everyone equal; 1/n:
one claim has everything; undefined when every value is 0). These two are indicators, not money:
they are computed in double precision and shown to 4 decimal places.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from .table import ClaimTable
from .waterfill import isum


@dataclass(frozen=True)
class Metrics:
    claims: int
    eligible: int
    budget: int
    demand: int
    granted: int
    unspent: int
    share_min: Fraction | None
    share_median: Fraction | None
    gini_amount: float | None
    jain_amount: float | None
    gini_share: float | None
    jain_share: float | None
    fully_met: int

    def as_json(self) -> dict[str, Any]:
        """JSON-safe, deterministic: fractions as "p/q", indices as 4-decimal strings."""
        data = asdict(self)
        for name in ("share_min", "share_median"):
            value = data[name]
            data[name] = None if value is None else f"{value.numerator}/{value.denominator}"
        for name in ("gini_amount", "jain_amount", "gini_share", "jain_share"):
            value = data[name]
            data[name] = None if value is None else f"{value:.4f}"
        return data


def percent(value: Fraction | str | None) -> str:
    """A share as a percentage with two decimals, rounded down ("62.50%")."""
    if value is None:
        return "—"
    if isinstance(value, str):
        value = Fraction(value)
    hundredths = (value.numerator * 10_000) // value.denominator
    return f"{hundredths // 100}.{hundredths % 100:02d}%"


def gini(values: np.ndarray) -> float | None:
    n = values.shape[0]
    if n == 0:
        return None
    x = np.sort(values.astype(np.float64))
    total = x.sum()
    if total == 0:
        return 0.0
    ranks = np.arange(1, n + 1, dtype=np.float64)
    return float(2 * np.dot(ranks, x) / (n * total) - (n + 1) / n)


def jain(values: np.ndarray) -> float | None:
    n = values.shape[0]
    if n == 0:
        return None
    x = values.astype(np.float64)
    squares = np.dot(x, x)
    if squares == 0:
        return None
    return float(x.sum() ** 2 / (n * squares))


def metrics(table: ClaimTable, grant: np.ndarray, budget: int) -> Metrics:
    mask = table.eligible
    demand = table.demand[mask]
    granted = grant[mask]
    n = int(demand.shape[0])
    total = isum(grant)
    share_min = share_median = None
    share = granted / demand if n else np.zeros(0)
    if n:
        low = int(np.argmin(share))
        share_min = Fraction(int(granted[low]), int(demand[low]))
        middle = [n // 2] if n % 2 else [n // 2 - 1, n // 2]
        picked = np.argpartition(share, middle)[middle]
        share_median = sum(
            (Fraction(int(granted[i]), int(demand[i])) for i in picked.tolist()), Fraction(0)
        ) / len(middle)
    return Metrics(
        claims=len(table),
        eligible=n,
        budget=budget,
        demand=isum(demand),
        granted=total,
        unspent=budget - total,
        share_min=share_min,
        share_median=share_median,
        gini_amount=gini(granted),
        jain_amount=jain(granted),
        gini_share=gini(share),
        jain_share=jain(share),
        fully_met=int(np.count_nonzero(granted == demand)),
    )
