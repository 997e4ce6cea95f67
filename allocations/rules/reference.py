"""The rules written the plain way: Python integers and fractions, one claim at a time.

This is the specification the numpy versions are held to (the tests compare them on random
inputs, and the benchmark uses these as its baseline). It is slower but short enough to read
and check by hand. Inputs are lists of whole numbers; `ties` holds one sortable tuple per claim
(the tie-break columns, see `tiebreak.py`).
"""

from __future__ import annotations

from fractions import Fraction
from math import floor

from .table import RuleError

ERR_FLOORS = "The floors add up to {floors}, more than the budget of {budget}."


def _shares(level: Fraction, lower: list[int], upper: list[int], weight: list[int]) -> Fraction:
    return sum(
        (
            min(max(w * level, Fraction(lo)), Fraction(up))
            for lo, up, w in zip(lower, upper, weight, strict=True)
        ),
        Fraction(0),
    )


def waterfill(
    budget: int,
    lower: list[int],
    upper: list[int],
    weight: list[int],
    ties: list[tuple[int, ...]],
) -> tuple[list[int], list[bool], Fraction | None]:
    """Grants, who got an extra unit from rounding, and the level λ: each claim's exact share
    is clamp(w·λ, floor, upper), the shares add up to the budget, and whole units are handed
    out by largest remainder, equal remainders in tie-break order."""
    n = len(upper)
    if sum(upper) <= budget:
        return list(upper), [False] * n, None
    if sum(lower) > budget:
        raise RuleError(ERR_FLOORS.format(floors=sum(lower), budget=budget))
    points = sorted(
        {Fraction(lo, w) for lo, w in zip(lower, weight, strict=True)}
        | {Fraction(up, w) for up, w in zip(upper, weight, strict=True)}
    )
    # Largest breakpoint whose shares still fit the budget (the first one always does: there
    # every claim is at its floor; the last one never does: there every claim is at its cap).
    lo, hi = 0, len(points) - 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _shares(points[mid], lower, upper, weight) <= budget:
            lo = mid
        else:
            hi = mid
    left, right = points[lo], points[hi]
    fixed = Fraction(0)
    moving_weight = 0
    for low_i, up_i, w in zip(lower, upper, weight, strict=True):
        if Fraction(up_i, w) <= left:
            fixed += up_i
        elif Fraction(low_i, w) >= right:
            fixed += low_i
        else:
            moving_weight += w
    level = (budget - fixed) / moving_weight
    exact = [
        min(max(w * level, Fraction(lo)), Fraction(up))
        for lo, up, w in zip(lower, upper, weight, strict=True)
    ]
    grants = [floor(x) for x in exact]
    leftover = budget - sum(grants)
    fractional = [i for i in range(n) if exact[i] != grants[i]]
    fractional.sort(key=lambda i: (-(exact[i] - grants[i]), ties[i]))
    extra = [False] * n
    for i in fractional[:leftover]:
        grants[i] += 1
        extra[i] = True
    return grants, extra, level


def max_min(
    budget: int, lower: list[int], upper: list[int], ties: list[tuple[int, ...]]
) -> list[int]:
    return waterfill(budget, lower, upper, [1] * len(upper), ties)[0]


def pro_rata(
    budget: int, lower: list[int], upper: list[int], ties: list[tuple[int, ...]]
) -> list[int]:
    return waterfill(budget, lower, upper, list(upper), ties)[0]


def priority(
    budget: int,
    lower: list[int],
    upper: list[int],
    order_keys: list[tuple[int, ...]],
    mode: str = "skip",
) -> list[int]:
    """Floors first, then full grants in order (priority class, submission time, tie-break):
    `skip` passes over a claim that no longer fits, `stop` ends at the first one, `partial`
    gives that one what is left and ends."""
    if sum(lower) > budget:
        raise RuleError(ERR_FLOORS.format(floors=sum(lower), budget=budget))
    grants = list(lower)
    left = budget - sum(lower)
    stopped = False
    for i in sorted(range(len(upper)), key=lambda i: order_keys[i]):
        need = upper[i] - lower[i]
        if stopped or need == 0:
            continue
        if need <= left:
            grants[i] += need
            left -= need
        elif mode == "skip":
            continue
        else:
            if mode == "partial":
                grants[i] += left
                left = 0
            stopped = True
    return grants


def top_trading_cycles_by_rounds(prefs: list[list[int]]) -> list[list[list[int]]]:
    """Top trading cycles as in the textbook, round by round: every participant still present
    points to the owner of their best acceptable item still present (participant i owns item
    i), or to themself; the cycles of that graph trade and leave. Returns each round's cycles,
    each in pointing order from its smallest member (`[a, b]`: a receives b's item), ordered
    by smallest member; a participant keeping their own item is `[i]`. Rebuilds every pointer
    each round: quadratic on long lists, the specification `exchange.ttc_trace` is held to."""
    present = set(range(len(prefs)))
    rounds = []
    while present:
        points = {i: next((j for j in prefs[i] if j in present), i) for i in present}
        cycles = []
        walked: dict[int, int] = {}  # participant -> the walk that reached them
        for start in sorted(present):
            walk: list[int] = []
            cur = start
            while cur not in walked:
                walked[cur] = start
                walk.append(cur)
                cur = points[cur]
            if walked[cur] == start:  # this walk closed on itself: a new cycle
                cycle = walk[walk.index(cur) :]
                at = cycle.index(min(cycle))
                cycles.append(cycle[at:] + cycle[:at])
        cycles.sort()
        for cycle in cycles:
            present.difference_update(cycle)
        rounds.append(cycles)
    return rounds
