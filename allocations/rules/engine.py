"""Run a rule on a claim table: `allocate`, and `compare` for every applicable rule side by side."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np

from . import equal_shares as mes
from . import priority as queue
from . import tiebreak
from .metrics import Metrics, metrics
from .result import Result
from .table import Ballots, ClaimTable, RoundSpec, RuleError
from .types import (
    EQUAL_SHARES,
    GREEDY_BY_VOTES,
    MAX_MIN,
    PRIORITY,
    PRO_RATA,
    WEIGHTED_MAX_MIN,
    Code,
)
from .waterfill import FLOOR, isum, waterfill

LABELS = {
    PRIORITY: "Priority order",
    PRO_RATA: "Pro rata",
    MAX_MIN: "Max-min fair (water-filling)",
    WEIGHTED_MAX_MIN: "Weighted max-min fair",
    EQUAL_SHARES: "Method of equal shares (participatory budgeting)",
    GREEDY_BY_VOTES: "Most approvals first (participatory budgeting)",
}
RULES = tuple(LABELS)
BALLOT_RULES = (EQUAL_SHARES, GREEDY_BY_VOTES)
PARAMS: dict[str, dict[str, Any]] = {
    PRIORITY: {"on_shortfall": "skip"},
    PRO_RATA: {},
    MAX_MIN: {},
    WEIGHTED_MAX_MIN: {},
    EQUAL_SHARES: {"completion": "add1", "step_minor": 100},
    GREEDY_BY_VOTES: {},
}

ERR_RULE = "Unknown rule {rule!r}."
ERR_PARAM = "The rule {rule} takes no parameter {name!r}."
ERR_BALLOTS = "The rule {rule} needs approval ballots."


def params_for(rule: str, given: Mapping[str, Any] | None) -> dict[str, Any]:
    """The rule's parameters: its defaults, overridden by `given` (unknown names refused)."""
    if rule not in PARAMS:
        raise RuleError(ERR_RULE.format(rule=rule))
    merged = dict(PARAMS[rule])
    for name, value in (given or {}).items():
        if name not in merged:
            raise RuleError(ERR_PARAM.format(rule=rule, name=name))
        merged[name] = value
    return merged


def allocate(table: ClaimTable, spec: RoundSpec, ballots: Ballots | None = None) -> Result:
    """Run the round's rule on the table. Pure: the same inputs give the same result."""
    params = params_for(spec.rule, spec.params)
    rows = np.flatnonzero(table.eligible)
    ties = [
        c[rows] for c in tiebreak.tie_columns(spec.tiebreak, table.key, table.submitted, spec.seed)
    ]
    grant = np.zeros(len(table), dtype=np.int64)
    plus = np.zeros(len(table), dtype=bool)
    facts: dict[str, Any] = {"eligible": int(rows.shape[0]), "params": params}
    extra: dict[str, Any] = {}
    lower, upper = table.floor[rows], table.upper[rows]
    facts["upper_total"] = isum(upper)

    if spec.rule in (MAX_MIN, WEIGHTED_MAX_MIN, PRO_RATA):
        if spec.rule == MAX_MIN:
            weight = np.ones(rows.shape[0], dtype=np.int64)
            active_code = Code.LEVEL
        elif spec.rule == WEIGHTED_MAX_MIN:
            weight = table.weight[rows]
            active_code = Code.WEIGHTED
        else:
            weight = upper
            active_code = Code.SHARE
        fill = waterfill(spec.budget, lower, upper, weight, ties)
        grant[rows] = fill.grant
        plus[rows] = fill.plus
        code = _codes(table, rows, fill.state, fill.grant, int(active_code))
        facts |= {"level": fill.level, "leftover": fill.leftover}
    elif spec.rule == PRIORITY:
        outcome = queue.priority(
            spec.budget,
            lower,
            upper,
            table.priority[rows],
            table.submitted[rows],
            ties,
            mode=params["on_shortfall"],
        )
        grant[rows] = outcome.grant
        code = np.full(len(table), int(Code.EXCLUDED), dtype=np.uint8)
        sub = np.select(
            [
                outcome.outcome == queue.SKIPPED,
                outcome.outcome == queue.NOT_REACHED,
                outcome.outcome == queue.PARTIAL,
                upper < table.demand[rows],
            ],
            [int(Code.SKIPPED), int(Code.NOT_REACHED), int(Code.PARTIAL), int(Code.CAPPED)],
            default=int(Code.FULL),
        ).astype(np.uint8)
        code[rows] = sub
        place = np.zeros(len(table), dtype=np.int64)
        left = np.zeros(len(table), dtype=np.int64)
        place[rows], left[rows] = outcome.place, outcome.left_at_turn
        extra |= {"place": place, "left_at_turn": left}
    else:
        code = _ballot_rule(table, spec, ballots, params, rows, ties, grant, facts, extra)
    return Result(spec.rule, spec, table, grant, code, plus, facts, extra)


def _codes(
    table: ClaimTable, rows: np.ndarray, state: np.ndarray, grant: np.ndarray, active_code: int
) -> np.ndarray:
    code = np.full(len(table), int(Code.EXCLUDED), dtype=np.uint8)
    demand, upper, floor = table.demand[rows], table.upper[rows], table.floor[rows]
    sub = np.full(rows.shape[0], active_code, dtype=np.uint8)
    full = grant == upper
    sub[full] = np.where(upper[full] < demand[full], int(Code.CAPPED), int(Code.FULL))
    sub[(state == FLOOR) & ~full & (floor > 0)] = int(Code.FLOOR)
    code[rows] = sub
    return code


def _ballot_rule(
    table: ClaimTable,
    spec: RoundSpec,
    ballots: Ballots | None,
    params: dict[str, Any],
    rows: np.ndarray,
    ties: list[np.ndarray],
    grant: np.ndarray,
    facts: dict[str, Any],
    extra: dict[str, Any],
) -> np.ndarray:
    if ballots is None:
        raise RuleError(ERR_BALLOTS.format(rule=LABELS[spec.rule]))
    if np.any(table.floor[rows] > 0) or np.any(table.upper[rows] < table.demand[rows]):
        raise RuleError(mes.ERR_NO_FLOORS)
    # Ballots name table rows; keep only the eligible projects, renumbered.
    renumber = np.full(len(table), -1, dtype=np.int64)
    renumber[rows] = np.arange(rows.shape[0], dtype=np.int64)
    mapped = renumber[ballots.approvals]
    keep = mapped >= 0
    voter_of = np.repeat(np.arange(ballots.voters, dtype=np.int64), np.diff(ballots.start))[keep]
    start = np.concatenate(([0], np.cumsum(np.bincount(voter_of, minlength=ballots.voters))))
    eligible_ballots = Ballots(start.astype(np.int64), mapped[keep])
    costs = table.demand[rows]
    code = np.full(len(table), int(Code.EXCLUDED), dtype=np.uint8)
    approvals = np.zeros(len(table), dtype=np.int64)
    approvals[rows] = eligible_ballots.approval_counts(rows.shape[0])
    extra["approvals"] = approvals
    facts["voters"] = ballots.voters
    if spec.rule == GREEDY_BY_VOTES:
        sub_grant, _, left_at = mes.greedy_by_votes(spec.budget, costs, eligible_ballots, ties)
        grant[rows] = sub_grant
        left = np.zeros(len(table), dtype=np.int64)
        left[rows] = left_at
        extra["left_at_turn"] = left
        funded = sub_grant > 0
    else:
        outcome = mes.equal_shares(
            spec.budget,
            costs,
            eligible_ballots,
            ties,
            completion=params["completion"],
            step=params["step_minor"],
        )
        chosen = outcome.count.chosen
        funded = np.zeros(rows.shape[0], dtype=bool)
        funded[chosen] = True
        grant[rows] = np.where(funded, costs, 0)
        turn = np.zeros(len(table), dtype=np.int64)
        rho: list[Any] = [None] * len(table)
        left_money: list[Any] = [None] * len(table)
        for position, p in enumerate(chosen, start=1):
            turn[rows[p]] = position
            rho[int(rows[p])] = outcome.count.rho[p]
        for p, money in outcome.count.left.items():
            left_money[int(rows[p])] = money
        extra |= {"turn": turn, "rho": rho, "left": left_money}
        facts |= {
            "share": outcome.count.share,
            "first_spent": outcome.first_spent,
            "raises": outcome.raises,
            "step": outcome.step,
            "completion": outcome.completion,
        }
    sub = np.where(funded, int(Code.FUNDED), int(Code.NOT_FUNDED)).astype(np.uint8)
    sub[approvals[rows] == 0] = int(Code.NO_SUPPORT)
    code[rows] = sub
    return code


def compare(
    table: ClaimTable, spec: RoundSpec, ballots: Ballots | None = None
) -> dict[str, Metrics | str]:
    """Metrics of every applicable rule on the same claims, budget and tie-break: the round's
    own rule with its parameters, the others with their defaults. A rule that cannot run on
    these inputs (floors with equal shares, no ballots) gets the reason instead."""
    out: dict[str, Metrics | str] = {}
    for rule in RULES:
        if rule in BALLOT_RULES and ballots is None:
            continue
        run = spec if rule == spec.rule else replace(spec, rule=rule, params={})
        try:
            result = allocate(table, run, ballots)
        except RuleError as refused:
            out[rule] = str(refused)
            continue
        out[rule] = metrics(table, result.grant, spec.budget)
    return out
