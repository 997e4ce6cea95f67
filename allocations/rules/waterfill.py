"""Water-filling with floors, caps and weights, exact, in numpy: the engine of max-min fairness,
weighted max-min fairness and pro rata.

Every claim i has a lower amount l_i (its floor), an upper amount u_i (its demand or cap) and a
weight w_i. For a level λ, claim i's exact share is clamp(w_i·λ, l_i, u_i); the level is the
one at which the shares add up to the budget B (or every claim gets u_i when B covers them all):

- max-min fair: w_i = 1, so everyone gets min(demand, λ) (at least the floor);
- weighted max-min fair: shares grow with the weight;
- pro rata: w_i = u_i, so λ is the common fraction of what each claim may receive.

The level is a fraction N/D of whole numbers, found exactly: a floating-point search proposes
which claims sit at their floor, at their cap or in between, and exact integer arithmetic then
computes N/D from that split and checks every claim against it (re-splitting a few times if a
claim sits on the wrong side). Should the check ever fail, the pure-Python reference in
`reference.py` decides. So the result never depends on floating point.

Rounding (whole minor units, adding up exactly to the budget): every claim first receives its
exact share rounded down. The minor units left over, fewer than the claims in between, go one
each to the claims with the largest fractional remainders, equal remainders in tie-break order
(the largest remainder method). A claim with a remainder is strictly below its upper amount, so
the extra unit never takes it past its demand or cap, and a rounded-down share is never below
the floor.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from . import tiebreak
from .table import RuleError

FLOOR, ACTIVE, CAP = 0, 1, 2
_SAFE = 2**62
_BISECTIONS = 200
_REFINEMENTS = 8

ERR_FLOORS = (
    "The floors add up to {floors}, more than the budget of {budget}: no allocation can honour "
    "them. Lower the floors or raise the budget."
)


@dataclass(frozen=True, eq=False)
class Fill:
    """Grants (`int64`), each claim's side of the level (`FLOOR`, `ACTIVE`, `CAP`), which claims
    received an extra unit from rounding, the level λ (None when the budget covered every
    claim's upper amount) and how many units rounding handed out."""

    grant: np.ndarray
    state: np.ndarray
    plus: np.ndarray
    level: Fraction | None
    leftover: int


def isum(values: np.ndarray) -> int:
    """The exact sum of whole numbers (big integers past int64's range)."""
    if values.shape[0] == 0:
        return 0
    if values.dtype != object:
        bound = int(np.abs(values).max()) * values.shape[0]
        if bound < _SAFE:
            return int(values.sum())
    return sum(int(v) for v in values.tolist())


def _cumsum(values: np.ndarray) -> np.ndarray:
    """Prefix sums starting with 0 (int64 when safe, else float64: only a first guess uses them)."""
    bound = (int(values.max()) if values.shape[0] else 0) * max(values.shape[0], 1)
    dtype = np.int64 if bound < _SAFE else np.float64
    out = np.zeros(values.shape[0] + 1, dtype=dtype)
    np.cumsum(values, out=out[1:], dtype=dtype)
    return out


def _guess_split(budget: int, low: np.ndarray, up: np.ndarray, wt: np.ndarray) -> np.ndarray:
    """A first split (FLOOR/ACTIVE/CAP) from a floating-point bisection on the level.

    Only a guess: no amount comes from it. `_solve` derives the exact level N/D in integers
    from the split and re-splits until the two agree (the exact reference decides otherwise).

    S(λ) = Σ_{b ≤ λ} u + Σ_{a ≥ λ} l + λ·Σ_{a < λ < b} w with a = l/w, b = u/w, from prefix sums
    over the claims sorted by a and by b. Without floors (the usual case) every a is 0 and only
    b is sorted; with unit weights b is u itself and a plain sort is enough.
    """
    n = up.shape[0]
    unit = bool(np.all(wt == 1))
    no_floors = not bool(np.any(low))
    if unit:
        b_sorted = np.sort(up)
        up_by_b, w_by_b = _cumsum(b_sorted), np.arange(n + 1, dtype=np.int64)
        b_sorted = b_sorted.astype(np.float64)
    else:
        b = up / wt
        ib = np.argsort(b)
        b_sorted = b[ib]
        up_by_b, w_by_b = _cumsum(up[ib]), _cumsum(wt[ib])
    if no_floors:
        a_sorted = np.zeros(n, dtype=np.float64)
        low_by_a = np.zeros(n + 1, dtype=np.int64)
        w_by_a = _cumsum(wt) if not unit else np.arange(n + 1, dtype=np.int64)
        w_by_a = np.full(n + 1, w_by_a[-1])
        w_by_a[0] = 0
    else:
        a = low / wt
        ia = np.argsort(a)
        a_sorted = a[ia]
        low_by_a, w_by_a = _cumsum(low[ia]), _cumsum(wt[ia])
    total_low = low_by_a[-1]

    def shares(level: float) -> float:
        below = int(np.searchsorted(a_sorted, level, side="left"))  # a < level: off the floor
        capped = int(np.searchsorted(b_sorted, level, side="right"))  # b <= level: at the cap
        fixed = float(up_by_b[capped]) + float(total_low - low_by_a[below])
        return fixed + level * float(w_by_a[below] - w_by_b[capped])

    lo, hi = float(a_sorted[0]), float(b_sorted[-1])
    target = float(budget)
    for _ in range(_BISECTIONS):
        mid = (lo + hi) / 2
        if mid <= lo or mid >= hi:
            break
        if shares(mid) <= target:
            lo = mid
        else:
            hi = mid
    level = (lo + hi) / 2
    b_all = up.astype(np.float64) if unit else up / wt
    if no_floors:
        return np.where(b_all <= level, CAP, ACTIVE).astype(np.int8)
    return np.where(b_all <= level, CAP, np.where(low / wt >= level, FLOOR, ACTIVE)).astype(np.int8)


def _big(values: np.ndarray) -> np.ndarray:
    return values.astype(object)


def _solve(
    budget: int, low: np.ndarray, up: np.ndarray, wt: np.ndarray, split: np.ndarray
) -> tuple[int, int, np.ndarray, np.ndarray, np.ndarray] | None:
    """From a proposed split, the exact level N/D, each claim's floor(w·λ) and remainder, and
    the split the exact level implies; None when the split leaves nobody between (D = 0) with
    budget still to place."""
    for _ in range(_REFINEMENTS):
        at_cap, at_floor, active = split == CAP, split == FLOOR, split == ACTIVE
        numerator = budget - isum(up[at_cap]) - isum(low[at_floor])
        denominator = isum(wt[active])
        if denominator == 0:
            if numerator != 0:
                return None
            quotient = np.where(at_cap, up, low)
            return 0, 1, quotient, np.zeros_like(quotient), split
        bound = (int(wt.max()) * abs(numerator)) if wt.shape[0] else 0
        if bound < _SAFE and abs(denominator) < _SAFE:
            quotient, remainder = np.divmod(wt * np.int64(numerator), np.int64(denominator))
        else:  # exact big integers, only for amounts far past any real budget
            product = _big(wt) * numerator
            quotient, remainder = product // denominator, product % denominator
        # The split the exact level implies: at the cap when w·λ >= u, at the floor when
        # w·λ <= l (equal values give the same amount on either side).
        reaches_cap = quotient >= up
        under_floor = (quotient < low) | ((quotient == low) & (remainder == 0))
        exact = np.where(reaches_cap, CAP, np.where(under_floor, FLOOR, ACTIVE)).astype(np.int8)
        consistent = (
            np.all(reaches_cap[at_cap])
            and np.all(under_floor[at_floor])
            and np.all(
                (quotient[active] >= low[active])
                & (
                    (quotient[active] < up[active])
                    | ((quotient[active] == up[active]) & (remainder[active] == 0))
                )
            )
        )
        if consistent:
            return numerator, denominator, quotient, remainder, split
        split = exact
    return None


def waterfill(
    budget: int,
    lower: np.ndarray,
    upper: np.ndarray,
    weight: np.ndarray,
    ties: list[np.ndarray],
) -> Fill:
    """Exact water-filling of `budget` (see the module docstring). `ties` are the tie-break
    columns of these claims (see `tiebreak.tie_columns`)."""
    n = upper.shape[0]
    plus = np.zeros(n, dtype=bool)
    if n == 0 or isum(upper) <= budget:
        return Fill(upper.copy(), np.full(n, CAP, dtype=np.int8), plus, None, 0)
    floors = isum(lower)
    if floors > budget:
        raise RuleError(ERR_FLOORS.format(floors=floors, budget=budget))
    fixed = lower == upper  # nothing to decide: the floor is all the claim may receive
    moving = np.flatnonzero(~fixed)
    rest = budget - isum(lower[fixed])
    low, up, wt = lower[moving], upper[moving], weight[moving]
    solved = _solve(rest, low, up, wt, _guess_split(rest, low, up, wt))
    if solved is None:  # pragma: no cover - the exact re-split converges on every known input
        from . import reference

        grants, extra, exact_level = reference.waterfill(
            budget,
            lower.tolist(),
            upper.tolist(),
            weight.tolist(),
            list(zip(*(c.tolist() for c in ties), strict=True)),
        )
        grant = np.asarray(grants, dtype=np.int64)
        state = np.where(grant >= upper, CAP, np.where(grant <= lower, FLOOR, ACTIVE))
        return Fill(grant, state.astype(np.int8), np.asarray(extra), exact_level, int(sum(extra)))
    numerator, denominator, quotient, remainder, split = solved
    part = np.where(split == CAP, up, np.where(split == FLOOR, low, quotient)).astype(np.int64)
    leftover = rest - isum(part)
    if leftover:
        candidates = np.flatnonzero((split == ACTIVE) & (remainder > 0))
        # Largest remainder first: sort on the negated remainder, then the tie-break.
        columns = [-remainder, *(c[moving] for c in ties)]
        lucky = tiebreak.first(leftover, columns, candidates)
        part[lucky] += 1
        plus[moving[lucky]] = True
    grant = upper.copy()
    grant[moving] = part
    state = np.full(n, CAP, dtype=np.int8)
    state[moving] = split
    if denominator:
        level: Fraction | None = Fraction(numerator, denominator)
    else:  # nobody in between: the budget ends exactly where claims stop at caps or floors
        level = _plateau_level(low, up, wt, split)
    return Fill(grant, state, plus, level, leftover)


def _plateau_level(
    low: np.ndarray, up: np.ndarray, wt: np.ndarray, split: np.ndarray
) -> Fraction | None:
    """The level reached when no claim sits strictly between its floor and cap: the highest
    level a capped claim reached, or else the lowest floor."""
    capped = np.flatnonzero(split == CAP)
    if capped.shape[0]:
        return max(Fraction(int(up[i]), int(wt[i])) for i in capped.tolist())
    floored = np.flatnonzero(split == FLOOR)
    if floored.shape[0]:
        return min(Fraction(int(low[i]), int(wt[i])) for i in floored.tolist())
    return None
