"""The inputs of a rule: claims as columns, approval ballots, and the round's settings.

Claims are columns of whole numbers (numpy `int64`), one row per claim, because the rules run on
up to millions of claims and a Python object per claim would cost more than the rule itself.
Every amount is in minor units (cents for USD). Nothing here imports Django.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

MAX_AMOUNT_MINOR = 10**15  # as the ledger: past any bureau's budget
NO_CAP = -1

TIEBREAKS = ("submitted", "key", "random")

ERR_EMPTY_KEY = "Claim keys must be whole numbers above zero."
ERR_DUPLICATE_KEY = "Claim key {key} appears twice."
ERR_DEMAND = "Claim {key}: the amount asked must be a whole number of minor units above zero."
ERR_WEIGHT = "Claim {key}: the weight must be a whole number of at least 1."
ERR_FLOOR = "Claim {key}: the floor must be at least zero and at most what the claim may receive."
ERR_CAP = "Claim {key}: a cap must be above zero."
ERR_LENGTH = "Every column must have one value per claim."
ERR_BUDGET = "The budget must be a whole number of minor units, zero or more."
ERR_TIEBREAK = "Unknown tie-break {tiebreak!r}: use one of submitted, key, random."
ERR_BALLOT = "A ballot approves claim {key}, which is not in the round."


class RuleError(ValueError):
    """Inputs a rule cannot allocate (invalid, or infeasible such as floors above the budget)."""


def _column(values: Any, n: int, default: int) -> np.ndarray:
    if values is None:
        return np.full(n, default, dtype=np.int64)
    column = np.asarray(values, dtype=np.int64)
    if column.shape != (n,):
        raise RuleError(ERR_LENGTH)
    return column


@dataclass(frozen=True, eq=False)
class ClaimTable:
    """Claims as columns (each an `int64` array of the same length).

    - `key`: the claim's number, unique, above zero; the last tie-break and how results are
      matched back to claims.
    - `demand`: the amount asked. `cap` (`NO_CAP` for none) lowers what a claim may receive;
      `floor` is a guaranteed minimum (0 for none). What a claim may receive, its *upper*
      amount, is `min(demand, cap)`.
    - `weight` (at least 1) for weighted max-min fairness; rational weights are scaled to whole
      numbers first, which changes nothing (only their ratios matter).
    - `priority`: the priority class, lower first (0 is the most urgent);
      `submitted`: submission time in microseconds since 1970-01-01 UTC.
    - `eligible` (bool) and `reason`: an excluded claim receives nothing, and its reason is part
      of its explanation. Reasons are published with the round: no personal data in them.
    """

    key: np.ndarray
    demand: np.ndarray
    weight: np.ndarray
    priority: np.ndarray
    submitted: np.ndarray
    floor: np.ndarray
    cap: np.ndarray
    eligible: np.ndarray
    reason: tuple[str, ...] = field(default=())

    @classmethod
    def build(
        cls,
        key: Any,
        demand: Any,
        *,
        weight: Any = None,
        priority: Any = None,
        submitted: Any = None,
        floor: Any = None,
        cap: Any = None,
        eligible: Any = None,
        reason: Sequence[str] | None = None,
    ) -> ClaimTable:
        """Check and store the columns (see the class docstring)."""
        key_column = np.asarray(key, dtype=np.int64)
        n = key_column.shape[0] if key_column.ndim == 1 else -1
        if n < 0:
            raise RuleError(ERR_LENGTH)
        eligible_column = (
            np.ones(n, dtype=bool) if eligible is None else np.asarray(eligible, dtype=bool)
        )
        if eligible_column.shape != (n,):
            raise RuleError(ERR_LENGTH)
        reasons = tuple(reason) if reason is not None else ("",) * n
        if len(reasons) != n:
            raise RuleError(ERR_LENGTH)
        table = cls(
            key=key_column,
            demand=_column(demand, n, 0),
            weight=_column(weight, n, 1),
            priority=_column(priority, n, 0),
            submitted=_column(submitted, n, 0),
            floor=_column(floor, n, 0),
            cap=_column(cap, n, NO_CAP),
            eligible=eligible_column,
            reason=reasons,
        )
        table.validate()
        return table

    @classmethod
    def from_records(cls, records: Iterable[Mapping[str, Any]]) -> ClaimTable:
        """From dicts with the column names as keys (`key` and `demand` required; a missing or
        None `cap` means no cap)."""
        rows = list(records)
        return cls.build(
            [r["key"] for r in rows],
            [r["demand"] for r in rows],
            weight=[r.get("weight", 1) for r in rows],
            priority=[r.get("priority", 0) for r in rows],
            submitted=[r.get("submitted", 0) for r in rows],
            floor=[r.get("floor", 0) for r in rows],
            cap=[NO_CAP if r.get("cap") is None else r["cap"] for r in rows],
            eligible=[r.get("eligible", True) for r in rows],
            reason=[r.get("reason", "") for r in rows],
        )

    def __len__(self) -> int:
        return int(self.key.shape[0])

    @property
    def upper(self) -> np.ndarray:
        """What each claim may receive at most: its demand, or its cap when lower."""
        capped = self.cap != NO_CAP
        return np.where(capped & (self.cap < self.demand), self.cap, self.demand)

    def validate(self) -> None:
        """Refuse anything a rule could not honour (raises `RuleError` naming the claim)."""
        if len(self) == 0:
            return
        bad = np.flatnonzero(self.key <= 0)
        if bad.size:
            raise RuleError(ERR_EMPTY_KEY)
        ordered = np.sort(self.key)
        dupes = ordered[1:][ordered[1:] == ordered[:-1]]
        if dupes.size:
            raise RuleError(ERR_DUPLICATE_KEY.format(key=int(dupes[0])))
        checks = (
            ((self.demand <= 0) | (self.demand >= MAX_AMOUNT_MINOR), ERR_DEMAND),
            (self.weight < 1, ERR_WEIGHT),
            ((self.cap != NO_CAP) & (self.cap <= 0), ERR_CAP),
            ((self.floor < 0) | (self.floor > self.upper), ERR_FLOOR),
        )
        for mask, message in checks:
            bad = np.flatnonzero(mask)
            if bad.size:
                raise RuleError(message.format(key=int(self.key[bad[0]])))

    def row(self, i: int) -> dict[str, Any]:
        """One claim as a dict (for explanations and displays)."""
        cap = int(self.cap[i])
        return {
            "key": int(self.key[i]),
            "demand": int(self.demand[i]),
            "weight": int(self.weight[i]),
            "priority": int(self.priority[i]),
            "submitted": int(self.submitted[i]),
            "floor": int(self.floor[i]),
            "cap": None if cap == NO_CAP else cap,
            "eligible": bool(self.eligible[i]),
            "reason": self.reason[i] if self.reason else "",
        }


@dataclass(frozen=True, eq=False)
class Ballots:
    """Approval ballots in compressed rows: voter `v` approves the claims (projects) at table
    rows `approvals[start[v]:start[v + 1]]`. Voters are anonymous; only their approvals count."""

    start: np.ndarray
    approvals: np.ndarray

    @classmethod
    def from_keys(cls, table: ClaimTable, ballots: Iterable[Iterable[int]]) -> Ballots:
        """From each voter's approved claim keys (duplicates within a ballot count once)."""
        position = {int(k): i for i, k in enumerate(table.key.tolist())}
        start = [0]
        approvals: list[int] = []
        for ballot in ballots:
            rows = set()
            for key in ballot:
                row = position.get(int(key))
                if row is None:
                    raise RuleError(ERR_BALLOT.format(key=key))
                rows.add(row)
            approvals.extend(sorted(rows))
            start.append(len(approvals))
        return cls(np.asarray(start, dtype=np.int64), np.asarray(approvals, dtype=np.int64))

    @property
    def voters(self) -> int:
        return int(self.start.shape[0]) - 1

    def supporters(self, projects: int) -> list[np.ndarray]:
        """For each project (table row), the voters approving it."""
        voter_of = np.repeat(np.arange(self.voters, dtype=np.int64), np.diff(self.start))
        order = np.argsort(self.approvals, kind="stable")
        counts = np.bincount(self.approvals, minlength=projects)
        bounds = np.concatenate(([0], np.cumsum(counts)))
        sorted_voters = voter_of[order]
        return [sorted_voters[bounds[p] : bounds[p + 1]] for p in range(projects)]

    def approval_counts(self, projects: int) -> np.ndarray:
        return np.bincount(self.approvals, minlength=projects).astype(np.int64)


@dataclass(frozen=True)
class RoundSpec:
    """What the round decided in advance: the budget, the rule and its parameters, and the
    tie-break (`submitted`: earlier first; `key`: lower claim number first; `random`: a
    published seed orders the claims, see `tiebreak.py`)."""

    budget: int
    rule: str
    params: Mapping[str, Any] = field(default_factory=dict)
    tiebreak: str = "submitted"
    seed: str = ""

    def __post_init__(self) -> None:
        if isinstance(self.budget, bool) or not isinstance(self.budget, int) or self.budget < 0:
            raise RuleError(ERR_BUDGET)
        if self.tiebreak not in TIEBREAKS:
            raise RuleError(ERR_TIEBREAK.format(tiebreak=self.tiebreak))
