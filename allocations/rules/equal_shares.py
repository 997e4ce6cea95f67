"""The method of equal shares for participatory budgeting with approval ballots, exactly.

The budget is divided equally among the voters. Projects are chosen one at a time: a project
can be chosen when its supporters can pay its cost from what is left of their shares, each
paying an equal amount rho or everything they have left if that is less; among those, the one
with the smallest rho per unit of cost (the largest "effective vote count" cost/rho) is chosen,
and ties go to the lower cost, then the more approvals, then the round's tie-break. This is
the variant of equalshares.net for approval ballots (cost utilities), as cities run it.

Completion ("add one unit"): the first count usually leaves money unspent, so, as in the
official implementation, the per-voter share is set to a whole number of units (rounded down)
and raised by one unit at a time (`step_minor`, by default one currency unit: 100 minor units),
recounting each time, for as long as the projects chosen still fit in the real budget; the last
count that fits is the result. It stops early once nothing unfunded would fit in what is left
(projects nobody approved are not counted there: they can never be chosen).

Exact arithmetic: a voter's remaining share is a fraction. Voters whose remaining shares are
equal are kept as one group (their number stays small: each choice splits a group into "paid
rho" and "paid everything"), so each step costs a count of supporters per group (numpy) and a
few fraction operations per group, not per voter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from math import gcd

import numpy as np

from . import tiebreak
from .table import Ballots, RuleError

COMPLETIONS = ("add1", "none")
ERR_COMPLETION = "Unknown completion {completion!r}: use add1 or none."
ERR_STEP = "The completion step must be a whole number of minor units above zero."
ERR_NO_FLOORS = (
    "The method of equal shares funds a project in full or not at all: floors and caps do not "
    "apply. Remove them or choose another rule."
)
MAX_ROUNDS = 100_000


@dataclass
class Count:
    """One count at a given per-voter share: the projects chosen, in order, and for each its
    payment rho per supporter (the most any supporter paid)."""

    share: Fraction
    chosen: list[int] = field(default_factory=list)
    rho: dict[int, Fraction] = field(default_factory=dict)
    left: dict[int, Fraction] = field(default_factory=dict)  # unfunded: supporters' money left
    state: _Voters | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Outcome:
    """The result: the count used, the first count's spending, and how many raises the
    completion made."""

    count: Count
    first_spent: int
    raises: int
    step: int
    completion: str


class _Voters:
    """Voters' remaining shares, exact, grouped by value. A value is kept as a reduced pair of
    whole numbers (numerator, denominator), with its float beside it to order groups and to
    keep the per-voter float copy of the fast search accurate; `Fraction`s are made only for
    the few groups a price is computed on (fractions.Fraction's hashing and arithmetic cost
    more than the rest of a count when every group is charged)."""

    def __init__(self, voters: int, share: Fraction) -> None:
        self.group = np.zeros(voters, dtype=np.int64)
        self.num: list[int] = [share.numerator]
        self.den: list[int] = [share.denominator]
        self._floats = np.empty(64, dtype=np.float64)
        self._floats[0] = float(share)
        self.index: dict[tuple[int, int], int] = {(share.numerator, share.denominator): 0}

    @property
    def value_f(self) -> np.ndarray:
        return self._floats[: len(self.num)]

    def value(self, g: int) -> Fraction:
        return Fraction(self.num[g], self.den[g])

    def group_of(self, num: int, den: int) -> int:
        found = self.index.get((num, den))
        if found is None:
            found = len(self.num)
            if found == self._floats.shape[0]:
                self._floats = np.concatenate((self._floats, np.empty_like(self._floats)))
            self.num.append(num)
            self.den.append(den)
            self._floats[found] = num / den
            self.index[(num, den)] = found
        return found

    def counts(
        self, supporters: np.ndarray, exact_order: bool = True
    ) -> list[tuple[Fraction, int]]:
        """(remaining share, number of supporters with it), smallest share first (by the floats
        when `exact_order` is false: equal up to rounding may then come in either order)."""
        tally = np.bincount(self.group[supporters], minlength=len(self.num))
        present = np.flatnonzero(tally)
        if exact_order:
            pairs = [(self.value(g), int(tally[g])) for g in present.tolist()]
            pairs.sort(key=lambda p: p[0])
            return pairs
        ordered = present[np.argsort(self.value_f[present], kind="stable")]
        return [(self.value(g), int(tally[g])) for g in ordered.tolist()]

    def price(self, cost: int, supporters: np.ndarray) -> Fraction | None:
        """The exact payment rho for a project (None when unaffordable). Groups are ordered by
        their floats; the result is then checked exactly (every group that paid everything
        had less than rho, every other had at least rho) and recomputed in exact order if not."""
        pairs = self.counts(supporters, exact_order=False)
        rho, paid_all = _price_walk(cost, pairs)
        if rho is None:  # all their money together is short, in any order
            return None
        rho_f = float(rho)
        below = all(
            value_f < rho_f * (1 - 1e-12) or value < rho
            for value, value_f in ((v, float(v)) for v, _ in pairs[:paid_all])
        )
        if below and _sorted_from(pairs, paid_all):
            return rho
        return _price_walk(cost, sorted(pairs, key=lambda p: p[0]))[0]

    def charge(self, supporters: np.ndarray, rho: Fraction) -> None:
        """Each supporter pays rho, or everything left if less."""
        remap = np.arange(len(self.num), dtype=np.int64)
        c, d = rho.numerator, rho.denominator
        zero = self.group_of(0, 1)
        for g in np.unique(self.group[supporters]).tolist():
            a, b = self.num[g], self.den[g]
            left = a * d - c * b  # (a/b - c/d) * b * d
            if left <= 0:
                remap[g] = zero
                continue
            den = b * d
            common = gcd(left, den)
            remap[g] = self.group_of(left // common, den // common)
        self.group[supporters] = remap[self.group[supporters]]


def _sorted_from(pairs: list[tuple[Fraction, int]], start: int) -> bool:
    """Whether no group after `start` has less than the group at `start` (checked exactly only
    where the floats cannot tell: the floats put them in order up to rounding)."""
    if start >= len(pairs):
        return True
    pivot = pairs[start][0]
    pivot_f = float(pivot)
    for value, _ in pairs[start + 1 :]:
        if float(value) > pivot_f * (1 + 1e-12):
            break
        if value < pivot:
            return False
    return True


def _price_walk(cost: int, pairs: list[tuple[Fraction, int]]) -> tuple[Fraction | None, int]:
    """Walk the groups from the smallest share: a group whose share is below the equal payment
    pays everything. Returns rho (None when all the money is short of the cost) and how many
    groups paid everything."""
    paid = Fraction(0)
    remaining = sum(c for _, c in pairs)
    for position, (value, count) in enumerate(pairs):
        rho = (cost - paid) / remaining
        if value >= rho:
            return rho, position
        paid += value * count
        remaining -= count
    return None, len(pairs)


def _price(cost: int, pairs: list[tuple[Fraction, int]], voters: int) -> Fraction | None:
    """The equal payment rho that lets the supporters pay `cost` (those with less pay all they
    have), or None when all their money together is short of the cost (`pairs` in order)."""
    return _price_walk(cost, pairs)[0]


TOLERANCE = 1e-9  # far above the floats' rounding (about 1e-15 here), far below any real gap


def _price_float(cost: int, shares: np.ndarray) -> float | None:
    """rho in floating point, from the supporters' shares (None when clearly unaffordable)."""
    ordered = np.sort(shares)
    n = ordered.shape[0]
    before = np.cumsum(ordered) - ordered
    rho = (cost - before) / (n - np.arange(n))
    enough = np.flatnonzero(ordered >= rho)
    if enough.shape[0] == 0:
        return None
    return float(rho[enough[0]])


def count_exact(
    costs: list[int],
    supporters: list[np.ndarray],
    voters: int,
    share: Fraction,
    tie_rank: list[int],
) -> Count:
    """One count in exact arithmetic throughout: the plain form of `count` (slower; the tests
    hold `count` to it)."""
    state = _Voters(voters, share)
    result = Count(share=share)
    approvals = [int(s.shape[0]) for s in supporters]
    remaining = [p for p in range(len(costs)) if costs[p] > 0 and approvals[p]]
    while True:
        best: tuple[Fraction, int, int, int] | None = None
        best_p, best_rho = -1, Fraction(0)
        for p in list(remaining):
            rho = _price(costs[p], state.counts(supporters[p]), approvals[p])
            if rho is None:
                remaining.remove(p)
                continue
            key = (rho / costs[p], costs[p], -approvals[p], tie_rank[p])
            if best is None or key < best:
                best, best_p, best_rho = key, p, rho
        if best is None:
            break
        result.chosen.append(best_p)
        result.rho[best_p] = best_rho
        remaining.remove(best_p)
        state.charge(supporters[best_p], best_rho)
    result.state = state
    return result


def count(
    costs: list[int],
    supporters: list[np.ndarray],
    voters: int,
    share: Fraction,
    tie_rank: list[int],
) -> Count:
    """One count of the method at a given per-voter share (see the module docstring).

    Fast and still exact: candidates are compared on floats (each voter's share as a float,
    refreshed from the exact value after every choice), and whenever two candidates are within
    `TOLERANCE` of each other, or a candidate's affordability is that close, the decision is
    taken on exact fractions. The chosen project's payment rho and the charges are always exact.
    """
    state = _Voters(voters, share)
    result = Count(share=share)
    approvals = [int(s.shape[0]) for s in supporters]
    shares_f = np.full(voters, float(share))
    # Each candidate's best effective vote count still reachable (it only falls as shares are
    # spent): candidates are tried from the highest bound down, and once a bound is clearly
    # below the best found the rest cannot win.
    bound = {p: float(approvals[p]) for p in range(len(costs)) if costs[p] > 0 and approvals[p]}
    for _ in range(MAX_ROUNDS):
        evaluated: list[tuple[int, float]] = []
        best_f = 0.0
        for p in sorted(bound, key=lambda p: (-bound[p], costs[p], -approvals[p], tie_rank[p])):
            if evaluated and bound[p] < best_f * (1 - TOLERANCE):
                break
            cost = costs[p]
            mine = shares_f[supporters[p]]
            total = float(mine.sum())
            if total < cost * (1 - TOLERANCE):
                del bound[p]  # unaffordable now, so for the rest of this count
                continue
            rho_f = _price_float(cost, mine) if total > cost * (1 + TOLERANCE) else None
            if rho_f is None:  # too close to call on floats
                rho_exact = state.price(cost, supporters[p])
                if rho_exact is None:
                    del bound[p]
                    continue
                rho_f = float(rho_exact)
            effective = cost / rho_f
            bound[p] = effective
            evaluated.append((p, effective))
            best_f = max(best_f, effective)
        if not evaluated:
            break
        contenders = [p for p, e in evaluated if e >= best_f * (1 - TOLERANCE)]
        best_key: tuple[Fraction, int, int, int] | None = None
        best, best_rho = -1, Fraction(0)
        for p in contenders:
            rho = state.price(costs[p], supporters[p])
            if rho is None:  # pragma: no cover - the floats had a margin of affordability
                del bound[p]
                continue
            key = (rho / costs[p], costs[p], -approvals[p], tie_rank[p])
            if best_key is None or key < best_key:
                best, best_key, best_rho = p, key, rho
        if best_key is None:  # pragma: no cover
            continue
        result.chosen.append(best)
        result.rho[best] = best_rho
        del bound[best]
        chosen = supporters[best]
        state.charge(chosen, best_rho)
        shares_f[chosen] = state.value_f[state.group[chosen]]
    result.state = state
    return result


class _Uncertain(Exception):
    """A decision of the float count was too close to certify."""


_EPS = 2.0**-52


def count_float(
    costs: list[int],
    supporters: list[np.ndarray],
    voters: int,
    share: Fraction,
    tie_rank: list[int],
) -> list[int]:
    """The projects one count chooses, in order, computed in floating point with every decision
    certified: a comparison counts only when its two sides differ by more than a bound on the
    floats' accumulated rounding (`_slack`); otherwise this raises `_Uncertain` and the caller
    counts again with `count` (exact). A certified float count chooses exactly what the exact
    count chooses, about twenty times faster (the completion runs dozens of counts)."""
    shares_f = np.full(voters, float(share))
    share_f = float(share)
    approvals = [int(s.shape[0]) for s in supporters]
    bound = {p: float(approvals[p]) for p in range(len(costs)) if costs[p] > 0 and approvals[p]}
    chosen: list[int] = []
    for charges in range(1, MAX_ROUNDS):
        # Rounding of a value after `charges` subtractions, summed over up to all voters.
        slack_money = 8.0 * voters * (charges + 1) * _EPS * share_f
        evaluated: list[tuple[int, float, float]] = []  # (project, effective count, its error)
        best_f = 0.0
        best_err = 0.0
        for p in sorted(bound, key=lambda p: (-bound[p], costs[p], -approvals[p], tie_rank[p])):
            if evaluated and bound[p] * (1 + TOLERANCE) < best_f - best_err:
                break
            cost = costs[p]
            mine = shares_f[supporters[p]]
            total = float(mine.sum())
            margin = TOLERANCE * cost + slack_money
            if total < cost - margin:
                del bound[p]
                continue
            if total <= cost + margin:
                raise _Uncertain
            rho = _price_float(cost, mine)
            if rho is None:  # pragma: no cover - the total had a margin
                raise _Uncertain
            effective = cost / rho
            # rho's error: the money's rounding spread over at least one payer, and rho's own.
            error = effective * (TOLERANCE + slack_money / rho + 8 * _EPS)
            bound[p] = effective + error
            evaluated.append((p, effective, error))
            if effective > best_f:
                best_f, best_err = effective, error
        if not evaluated:
            break
        best = max(evaluated, key=lambda e: e[1])
        rivals = [e for e in evaluated if e[0] != best[0] and e[1] + e[2] >= best[1] - best[2]]
        if rivals:
            raise _Uncertain
        p = best[0]
        chosen.append(p)
        del bound[p]
        mine = shares_f[supporters[p]]
        rho = costs[p] / best[1]
        shares_f[supporters[p]] = np.where(mine > rho, mine - rho, 0.0)
    return chosen


def _count(
    costs: list[int],
    supporters: list[np.ndarray],
    voters: int,
    share: Fraction,
    tie_rank: list[int],
) -> tuple[list[int], Count | None]:
    """A count's choices: certified floats first, the exact count when they cannot decide."""
    try:
        return count_float(costs, supporters, voters, share, tie_rank), None
    except _Uncertain:
        exact = count(costs, supporters, voters, share, tie_rank)
        return exact.chosen, exact


def leftovers(result: Count, supporters: list[np.ndarray]) -> None:
    """Fill in, for each unfunded project, what its supporters had left at the end."""
    chosen = set(result.chosen)
    state = result.state
    for p in range(len(supporters)):
        if p not in chosen:
            if state is None:
                result.left[p] = Fraction(0)
                continue
            result.left[p] = sum(
                (value * n for value, n in state.counts(supporters[p])), Fraction(0)
            )


def equal_shares(
    budget: int,
    costs: np.ndarray,
    ballots: Ballots,
    ties: list[np.ndarray],
    completion: str = "add1",
    step: int = 100,
) -> Outcome:
    if completion not in COMPLETIONS:
        raise RuleError(ERR_COMPLETION.format(completion=completion))
    if isinstance(step, bool) or not isinstance(step, int) or step <= 0:
        raise RuleError(ERR_STEP)
    projects = costs.shape[0]
    cost_list = [int(c) for c in costs.tolist()]
    voters = ballots.voters
    rank = np.empty(projects, dtype=np.int64)
    rank[tiebreak.order(ties)] = np.arange(projects, dtype=np.int64)
    tie_rank = rank.tolist()
    if voters == 0:
        return Outcome(Count(share=Fraction(0)), 0, 0, step, completion)
    supporters = ballots.supporters(projects)

    def spent(chosen: list[int]) -> int:
        return sum(cost_list[p] for p in chosen)

    share = Fraction(budget, voters)
    current, exact = _count(cost_list, supporters, voters, share, tie_rank)
    first_spent = used = spent(current)
    raises = 0
    if completion == "add1":
        per_voter = (budget // (voters * step)) * step
        # Projects nobody approved can never be chosen: leaving them out of the exhaustiveness
        # check keeps the completion from raising the shares forever (the reference code on
        # equalshares.net counts them, and then never stops while one would fit).
        supported = [p for p in range(projects) if supporters[p].shape[0] and cost_list[p] > 0]
        for _ in range(MAX_ROUNDS):
            taken = set(current)
            if all(p in taken or used + cost_list[p] > budget for p in supported):
                break  # exhaustive: nothing unfunded fits in what is left
            per_voter += step
            candidate, candidate_exact = _count(
                cost_list, supporters, voters, Fraction(per_voter), tie_rank
            )
            if spent(candidate) > budget:
                break
            current, exact, used, share = (
                candidate,
                candidate_exact,
                spent(candidate),
                Fraction(per_voter),
            )
            raises += 1
    if exact is None:  # the payments and leftovers quoted in explanations, in exact arithmetic
        exact = count(cost_list, supporters, voters, share, tie_rank)
        if exact.chosen != current:  # pragma: no cover - certified decisions are exact ones
            raise RuleError("Equal shares: the certified count disagrees with the exact count.")
    leftovers(exact, supporters)
    return Outcome(exact, first_spent, raises, step, completion)


def greedy_by_votes(
    budget: int, costs: np.ndarray, ballots: Ballots, ties: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What most cities use and the comparison for equal shares: projects in order of approvals
    (then the lower cost, then the tie-break), each funded if it still fits. Returns grants,
    approvals and what was left of the budget at each project's turn."""
    projects = costs.shape[0]
    approvals = ballots.approval_counts(projects)
    order = tiebreak.order([-approvals, costs, *ties])
    grant = np.zeros(projects, dtype=np.int64)
    left_at = np.zeros(projects, dtype=np.int64)
    left = budget
    for p in order.tolist():
        left_at[p] = left
        if approvals[p] > 0 and costs[p] <= left:
            grant[p] = costs[p]
            left -= int(costs[p])
    return grant, approvals, left_at
