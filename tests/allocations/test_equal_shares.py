"""The method of equal shares: published examples, an independent naive implementation on
random elections, and the rule's invariants (pure functions: no database)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from allocations.rules import (
    EQUAL_SHARES,
    GREEDY_BY_VOTES,
    Ballots,
    ClaimTable,
    Code,
    RoundSpec,
    RuleError,
    allocate,
    compare,
    tiebreak,
)
from allocations.rules import equal_shares as mes
from tests.allocations import mes_oracle


def _round(costs, ballots, budget, completion="add1", step=100, tie="key"):  # type: ignore[no-untyped-def]
    keys = list(range(1, len(costs) + 1))
    table = ClaimTable.build(keys, costs)
    spec = RoundSpec(
        budget=budget,
        rule=EQUAL_SHARES,
        params={"completion": completion, "step_minor": step},
        tiebreak=tie,
        seed="s",
    )
    return table, spec, Ballots.from_keys(table, ballots)


def _funded(result) -> list[int]:  # type: ignore[no-untyped-def]
    return [int(k) for k, g in zip(result.table.key, result.grant, strict=True) if g > 0]


def test_lackner_skowron_example_2_12_equal_shares_phase():
    """Lackner & Skowron, "Multi-Winner Voting with Approval Preferences" (2023), Example 2.12:
    approval sets {c,d} x3, {a,b} x2, {a,c} x2, {b,d}, three seats (unit costs, budget 3). Equal
    shares first buys c (five supporters pay 1/5 each), then a (rho = 13/40: the two {a,c}
    voters pay their last 7/40), after which no candidate is affordable; the book completes
    the committee with seq-Phragmén ({a, c, d}), a completion this bureau does not use."""
    a, b, c, d = 1, 2, 3, 4
    ballots = [[c, d]] * 3 + [[a, b]] * 2 + [[a, c]] * 2 + [[b, d]]
    table, spec, voters = _round([100] * 4, ballots, 300, completion="none")
    result = allocate(table, spec, voters)
    assert _funded(result) == [a, c]
    assert result.extra["turn"].tolist() == [2, 0, 1, 0]
    assert result.extra["rho"][2] == Fraction(20)  # 100 / 5 supporters
    assert result.extra["rho"][0] == Fraction(65, 2)  # 13/40 of a seat costing 100
    assert "chosen 1st: its 5 supporters paid at most 0.20 each" in result.explain(2)
    assert "had 0.90 left of their shares together, less than its cost" in result.explain(3)


def test_red_and_blue_majority_gets_its_share_not_everything():
    """The motivating example of Peters & Skowron (equalshares.net, "51% red, 49% blue"): ten
    projects fit the budget; utilitarian counting gives the 51% all ten, equal shares five and
    five once the Add1 completion has spent what the first count left."""
    red, blue = list(range(1, 11)), list(range(11, 21))
    ballots = [red] * 51 + [blue] * 49
    costs = [100_000] * 20
    table, spec, voters = _round(costs, ballots, 1_000_000, completion="none")
    first = allocate(table, spec, voters)
    assert _funded(first) == red[:5] + blue[:4]
    table, spec, voters = _round(costs, ballots, 1_000_000)
    result = allocate(table, spec, voters)
    assert _funded(result) == red[:5] + blue[:5]
    assert result.facts["raises"] == 3  # 100.00, 101.00, 102.00, then 103.00 a voter
    assert result.facts["share"] == Fraction(10_300)
    greedy = allocate(table, RoundSpec(budget=1_000_000, rule=GREEDY_BY_VOTES), voters)
    assert _funded(greedy) == red


def test_equalshares_net_reference_example_add1_completes_the_budget():
    """The example in equalshares.net's reference code: three voters each approving their own
    project of 100, 200 and 300 with 600 to spend. The first count buys the first two; Add1
    raises the shares to 300 each and then buys all three."""
    table, spec, voters = _round([100, 200, 300], [[1], [2], [3]], 600, step=1)
    result = allocate(table, spec, voters)
    assert _funded(result) == [1, 2, 3]
    assert result.facts["first_spent"] == 300
    assert result.facts["raises"] == 100


def test_projects_are_funded_in_full_or_not_at_all_within_budget():
    table, spec, voters = _round([500, 400, 300], [[1, 2], [2], [3], [1]], 900)
    result = allocate(table, spec, voters)
    for cost, grant in zip(result.table.demand.tolist(), result.grant.tolist(), strict=True):
        assert grant in (0, cost)
    assert result.total <= 900


def test_floors_and_caps_are_refused_and_ballots_required():
    table = ClaimTable.build([1, 2], [100, 100], floor=[10, 0])
    voters = Ballots.from_keys(table, [[1]])
    with pytest.raises(RuleError, match="in full or not at all"):
        allocate(table, RoundSpec(budget=100, rule=EQUAL_SHARES), voters)
    with pytest.raises(RuleError, match="needs approval ballots"):
        allocate(ClaimTable.build([1], [5]), RoundSpec(budget=100, rule=EQUAL_SHARES))
    with pytest.raises(RuleError, match="not in the round"):
        Ballots.from_keys(table, [[7]])


def test_unsupported_and_ineligible_projects_are_explained():
    table = ClaimTable.build(
        [1, 2, 3], [100, 100, 100], eligible=[True, True, False], reason=["", "", "duplicate"]
    )
    voters = Ballots.from_keys(table, [[1, 3], [1, 3]])
    result = allocate(table, RoundSpec(budget=300, rule=EQUAL_SHARES), voters)
    assert result.code.tolist() == [Code.FUNDED, Code.NO_SUPPORT, Code.EXCLUDED]
    assert "none of the 2 voters approved" in result.explain(1)
    assert "not eligible in this round (duplicate)" in result.explain(2)


@st.composite
def elections(draw):  # type: ignore[no-untyped-def]
    projects = draw(st.integers(1, 7))
    costs = draw(
        st.lists(st.sampled_from([100, 200, 300, 500, 700]), min_size=projects, max_size=projects)
    )
    voters = draw(st.integers(1, 9))
    ballots = [
        draw(st.lists(st.integers(1, projects), max_size=projects, unique=True))
        for _ in range(voters)
    ]
    budget = draw(st.integers(0, sum(costs)))
    step = draw(st.sampled_from([1, 7, 100]))
    completion = draw(st.sampled_from(["add1", "none"]))
    tie = draw(st.sampled_from(["key", "random"]))
    return costs, ballots, budget, step, completion, tie


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(election=elections())
def test_matches_an_independent_naive_implementation(election):  # type: ignore[no-untyped-def]
    costs, ballots, budget, step, completion, tie = election
    table, spec, voters = _round(costs, ballots, budget, completion, step, tie)
    result = allocate(table, spec, voters)
    ties = tiebreak.tie_columns(tie, table.key, table.submitted, "s")
    rank = np.empty(len(costs), dtype=np.int64)
    rank[tiebreak.order(ties)] = np.arange(len(costs))
    approvers = [[v for v, b in enumerate(ballots) if p + 1 in b] for p in range(len(costs))]
    expected = mes_oracle.equal_shares(
        len(ballots), costs, approvers, budget, rank.tolist(), step, completion
    )
    assert _funded(result) == sorted(p + 1 for p in expected)
    chosen_order = sorted(
        (t, k) for k, t in zip(table.key.tolist(), result.extra["turn"].tolist(), strict=True) if t
    )
    assert [k - 1 for _, k in chosen_order] == expected
    assert result.total <= budget


@settings(max_examples=100, deadline=None)
@given(election=elections(), shuffle=st.randoms(use_true_random=False))
def test_result_does_not_depend_on_the_order_of_projects_or_ballots(election, shuffle):  # type: ignore[no-untyped-def]
    costs, ballots, budget, step, completion, tie = election
    table, spec, voters = _round(costs, ballots, budget, completion, step, tie)
    first = allocate(table, spec, voters).grants_by_key()
    order = list(range(len(costs)))
    shuffle.shuffle(order)
    shuffled_table = ClaimTable.build([o + 1 for o in order], [costs[o] for o in order])
    shuffled_ballots = list(ballots)
    shuffle.shuffle(shuffled_ballots)
    again = allocate(shuffled_table, spec, Ballots.from_keys(shuffled_table, shuffled_ballots))
    assert again.grants_by_key() == first


@settings(max_examples=100, deadline=None)
@given(election=elections())
def test_certified_float_count_agrees_with_the_exact_count(election):  # type: ignore[no-untyped-def]
    costs, ballots, budget, step, completion, tie = election
    _table, _spec, voters = _round(costs, ballots, budget, completion, step, tie)
    supporters = voters.supporters(len(costs))
    ranks = list(range(len(costs)))
    share = Fraction(max(budget, 1), voters.voters)
    exact = mes.count_exact(costs, supporters, voters.voters, share, ranks)
    assert mes.count(costs, supporters, voters.voters, share, ranks).chosen == exact.chosen
    try:
        fast = mes.count_float(costs, supporters, voters.voters, share, ranks)
    except mes._Uncertain:  # too close to call on floats: the exact count decides
        return
    assert fast == exact.chosen


def test_compare_on_a_participatory_round_includes_greedy():
    table, spec, voters = _round([100, 200], [[1], [2], [2]], 250)
    side_by_side = compare(table, spec, voters)
    assert {EQUAL_SHARES, GREEDY_BY_VOTES} <= set(side_by_side)
