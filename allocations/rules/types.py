"""What the rules, their results and the explanations share: the rule names, why a claim
received what it did (`Code`), money in plain words, and the fields an explanation reads from a
result (`Outcome`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

import numpy as np

from .table import ClaimTable, RoundSpec

Money = Callable[[int], str]

PRIORITY = "priority"
PRO_RATA = "pro_rata"
MAX_MIN = "max_min"
WEIGHTED_MAX_MIN = "weighted_max_min"
EQUAL_SHARES = "equal_shares"
GREEDY_BY_VOTES = "greedy_by_votes"


class Code(IntEnum):
    """Why a claim received what it received (stored with each grant)."""

    EXCLUDED = 0  # not eligible in this round
    FULL = 1  # received everything it asked
    CAPPED = 2  # received its cap, which is below what it asked
    FLOOR = 3  # received its guaranteed minimum
    LEVEL = 4  # max-min: met up to the common level
    SHARE = 5  # pro rata: the common share of what it asked
    WEIGHTED = 6  # weighted max-min: met up to the level times its weight
    SKIPPED = 7  # priority: too large for what was left when its turn came
    NOT_REACHED = 8  # priority: the budget was used up before its turn
    PARTIAL = 9  # priority (partial): received what was left
    FUNDED = 10  # participatory budgeting: project funded in full
    NOT_FUNDED = 11  # participatory budgeting: not funded
    NO_SUPPORT = 12  # participatory budgeting: nobody approved it


def plain_money(amount_minor: int, exponent: int = 2) -> str:
    """1234567 -> "12,345.67" (integer arithmetic only)."""
    sign = "-" if amount_minor < 0 else ""
    units, fraction = divmod(abs(amount_minor), 10**exponent)
    return f"{sign}{units:,}" + (f".{fraction:0{exponent}d}" if exponent else "")


@dataclass(eq=False)
class Outcome:
    """A rule's result as its explanations read it (`result.Result` adds the totals, the
    explanations and the digest): grants (`int64`, aligned with the table's rows), a `Code` per
    claim, whether rounding gave the claim one extra minor unit, rule-level facts (the level, the
    fraction, ...) and per-claim extras (a claim's place in a queue, a project's approvals, ...)."""

    rule: str
    spec: RoundSpec
    table: ClaimTable
    grant: np.ndarray
    code: np.ndarray
    plus: np.ndarray
    facts: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
