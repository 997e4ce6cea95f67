"""An independent, deliberately naive method of equal shares for the tests to check against.

It follows the description on equalshares.net for approval ballots step by step: one exact
fraction per voter, every remaining project priced on every round, ties to the lower cost, then
more approvals, then the lower tie rank; the Add1 completion as in the site's reference code
(start from the whole-unit per-voter budget, raise it one unit at a time while the outcome
still fits, stop when it is exhaustive). Written separately from `allocations.rules` (no shared
code) so that a mistake in one is unlikely to be repeated in the other.
"""

from __future__ import annotations

from fractions import Fraction


def fixed_budget(
    voters: int,
    costs: list[int],
    approvers: list[list[int]],
    share: Fraction,
    tie_rank: list[int],
) -> list[int]:
    budget = [share] * voters
    remaining = [p for p in range(len(costs)) if costs[p] > 0 and approvers[p]]
    winners: list[int] = []
    while True:
        best = None
        best_key = None
        best_rho = None
        for p in list(remaining):
            supporters = sorted(approvers[p], key=lambda i: budget[i])
            if sum(budget[i] for i in supporters) < costs[p]:
                remaining.remove(p)
                continue
            paid = Fraction(0)
            left = len(supporters)
            rho = None
            for i in supporters:
                payment = (costs[p] - paid) / left
                if payment > budget[i]:
                    paid += budget[i]
                    left -= 1
                else:
                    rho = payment
                    break
            assert rho is not None
            key = (rho / costs[p], costs[p], -len(approvers[p]), tie_rank[p])
            if best_key is None or key < best_key:
                best, best_key, best_rho = p, key, rho
        if best is None:
            return winners
        winners.append(best)
        remaining.remove(best)
        for i in approvers[best]:
            budget[i] = budget[i] - best_rho if budget[i] > best_rho else Fraction(0)


def equal_shares(
    voters: int,
    costs: list[int],
    approvers: list[list[int]],
    budget: int,
    tie_rank: list[int],
    step: int,
    completion: str = "add1",
) -> list[int]:
    winners = fixed_budget(voters, costs, approvers, Fraction(budget, voters), tie_rank)
    if completion != "add1":
        return winners
    total = (budget // (voters * step)) * voters * step
    spent = sum(costs[p] for p in winners)
    # Unapproved projects can never win: they do not keep the completion going.
    candidates = [p for p in range(len(costs)) if approvers[p] and costs[p] > 0]
    while True:
        if all(p in winners or spent + costs[p] > budget for p in candidates):
            return winners
        total += voters * step
        attempt = fixed_budget(voters, costs, approvers, Fraction(total, voters), tie_rank)
        cost = sum(costs[p] for p in attempt)
        if cost > budget:
            return winners
        winners, spent = attempt, cost
