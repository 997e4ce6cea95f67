"""Priority order: floors first, then full grants by priority class, then submission time,
then the round's tie-break, until the budget ends.

What happens at the first claim that no longer fits is the round's choice (`on_shortfall`):
`skip` (the default, as the bureau's queue has always worked) passes over it so that smaller
claims behind it can still be paid in full; `stop` ends the round there (a strict queue);
`partial` gives that claim whatever is left and ends the round.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import tiebreak
from .table import RuleError
from .waterfill import ERR_FLOORS, isum

SHORTFALL_MODES = ("skip", "stop", "partial")
ERR_MODE = "Unknown on_shortfall {mode!r}: use skip, stop or partial."

# What happened to a claim when its turn came.
FULL, SKIPPED, NOT_REACHED, PARTIAL = 0, 1, 2, 3


@dataclass(frozen=True, eq=False)
class Queue:
    """Grants, each claim's outcome (FULL/SKIPPED/NOT_REACHED/PARTIAL), its 1-based place in
    the order, and what was left of the budget when its turn came."""

    grant: np.ndarray
    outcome: np.ndarray
    place: np.ndarray
    left_at_turn: np.ndarray


def priority(
    budget: int,
    lower: np.ndarray,
    upper: np.ndarray,
    priority_class: np.ndarray,
    submitted: np.ndarray,
    ties: list[np.ndarray],
    mode: str = "skip",
) -> Queue:
    if mode not in SHORTFALL_MODES:
        raise RuleError(ERR_MODE.format(mode=mode))
    n = upper.shape[0]
    floors = isum(lower)
    if floors > budget:
        raise RuleError(ERR_FLOORS.format(floors=floors, budget=budget))
    order = tiebreak.order([priority_class, submitted, *ties])
    need = (upper - lower)[order].tolist()
    grant_top: list[int] = [0] * n
    outcome: list[int] = [FULL] * n
    left_at: list[int] = [0] * n
    left = budget - floors
    stopped = False
    for place, top in enumerate(need):
        left_at[place] = left
        if top == 0:
            continue
        if stopped:
            outcome[place] = NOT_REACHED
        elif top <= left:
            grant_top[place] = top
            left -= top
        elif mode == "skip":
            outcome[place] = NOT_REACHED if left == 0 else SKIPPED
        else:
            if mode == "partial" and left:
                grant_top[place] = left
                outcome[place] = PARTIAL
                left = 0
            else:
                outcome[place] = NOT_REACHED if left == 0 else SKIPPED
            stopped = True
    grant = lower.copy()
    grant[order] += np.asarray(grant_top, dtype=np.int64)
    result_outcome = np.empty(n, dtype=np.int8)
    result_outcome[order] = np.asarray(outcome, dtype=np.int8)
    places = np.empty(n, dtype=np.int64)
    places[order] = np.arange(1, n + 1, dtype=np.int64)
    left_at_turn = np.empty(n, dtype=np.int64)
    left_at_turn[order] = np.asarray(left_at, dtype=np.int64)
    return Queue(grant, result_outcome, places, left_at_turn)
