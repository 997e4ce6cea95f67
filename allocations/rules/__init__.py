"""Allocation rules: pure functions (no Django) dividing a budget among claims, exactly.

Amounts are whole minor units; every intermediate value is an integer or a fraction, so the
grants add up exactly, never exceed the budget, nor any claim's demand or cap, nor fall under
its floor. The rounding rule (largest remainder, ties by the round's tie-break) is in
`waterfill.py`; the tie-breaks in `tiebreak.py`; the snapshot format in `snapshot.py`; the
reference implementations the fast ones are tested against in `reference.py`.

    from allocations.rules import ClaimTable, RoundSpec, allocate, metrics

    table = ClaimTable.build([1, 2, 3], [120_000, 50_000, 90_000])
    result = allocate(table, RoundSpec(budget=200_000, rule="max_min"))
    result.grant            # array([75000, 50000, 75000])
    result.explain(0)       # "You asked 1,200.00; every claim was met up to 750.00 ..."
"""

from .engine import BALLOT_RULES, LABELS, PARAMS, RULES, allocate, compare, params_for
from .metrics import Metrics, metrics, percent
from .result import Result
from .table import NO_CAP, TIEBREAKS, Ballots, ClaimTable, RoundSpec, RuleError
from .types import (
    EQUAL_SHARES,
    GREEDY_BY_VOTES,
    MAX_MIN,
    PRIORITY,
    PRO_RATA,
    WEIGHTED_MAX_MIN,
    Code,
    plain_money,
)

__all__ = [
    "BALLOT_RULES",
    "EQUAL_SHARES",
    "GREEDY_BY_VOTES",
    "LABELS",
    "MAX_MIN",
    "NO_CAP",
    "PARAMS",
    "PRIORITY",
    "PRO_RATA",
    "RULES",
    "TIEBREAKS",
    "WEIGHTED_MAX_MIN",
    "Ballots",
    "ClaimTable",
    "Code",
    "Metrics",
    "Result",
    "RoundSpec",
    "RuleError",
    "allocate",
    "compare",
    "metrics",
    "params_for",
    "percent",
    "plain_money",
]
