"""Property tests for the allocation rules (pure functions: no database).

Every divisible rule, on random claims with floors, caps, weights, priorities, ties and
exclusions: never over budget, nobody over their demand or cap nor under their floor, grants
add up exactly, results independent of input order and identical when recomputed from the
snapshot, and the fast numpy versions equal to the plain reference ones. Then the rules' own
properties: pro rata is proportional, max-min cannot raise a smaller grant without lowering a
larger one (checked against the leximin optimum by brute force on small instances).
"""

from __future__ import annotations

import itertools
from fractions import Fraction
from math import ceil, floor

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from allocations.rules import (
    MAX_MIN,
    NO_CAP,
    PRIORITY,
    PRO_RATA,
    WEIGHTED_MAX_MIN,
    ClaimTable,
    Code,
    RoundSpec,
    RuleError,
    allocate,
    compare,
    metrics,
    reference,
    snapshot,
    tiebreak,
)

DIVISIBLE = (PRIORITY, PRO_RATA, MAX_MIN, WEIGHTED_MAX_MIN)
FILLING = (PRO_RATA, MAX_MIN, WEIGHTED_MAX_MIN)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def claim_rows(draw, max_claims: int = 12, big: bool = False):  # type: ignore[no-untyped-def]
    n = draw(st.integers(0, max_claims))
    keys = draw(st.lists(st.integers(1, 10**6), min_size=n, max_size=n, unique=True))
    top = 10**14 if big and draw(st.booleans()) else draw(st.sampled_from([20, 1_000, 10**6]))
    rows = []
    for key in keys:
        demand = draw(st.integers(1, top))
        cap = draw(st.one_of(st.none(), st.integers(1, top)))
        upper = demand if cap is None else min(cap, demand)
        floor_ = draw(st.one_of(st.just(0), st.integers(0, upper)))
        rows.append(
            {
                "key": key,
                "demand": demand,
                "cap": cap,
                "floor": floor_,
                "weight": draw(st.integers(1, 5)),
                "priority": draw(st.integers(0, 2)),
                "submitted": draw(st.integers(0, 3)),  # few values: many ties
                "eligible": draw(st.booleans().map(lambda b: b or draw(st.booleans()))),
                "reason": "",
            }
        )
    for row in rows:
        if not row["eligible"]:
            row["reason"] = "outside the program's area"
    return rows


@st.composite
def instances(draw, big: bool = False):  # type: ignore[no-untyped-def]
    rows = draw(claim_rows(big=big))
    table = ClaimTable.from_records(rows)
    eligible = table.eligible
    floors = int(sum(table.floor[eligible].tolist()))
    uppers = int(sum(table.upper[eligible].tolist()))
    budget = draw(st.integers(floors, max(floors, uppers + uppers // 4 + 3)))
    tie = draw(st.sampled_from(["submitted", "key", "random"]))
    seed = draw(st.sampled_from(["", "2026 round 1"]))
    return rows, table, budget, tie, seed


def _spec(rule: str, budget: int, tie: str, seed: str, **params) -> RoundSpec:  # type: ignore[no-untyped-def]
    return RoundSpec(budget=budget, rule=rule, params=params, tiebreak=tie, seed=seed)


def _ties(table: ClaimTable, tie: str, seed: str) -> list[tuple[int, ...]]:
    columns = tiebreak.tie_columns(tie, table.key, table.submitted, seed)
    return list(zip(*(c.tolist() for c in columns), strict=True))


@pytest.mark.parametrize("rule", DIVISIBLE)
@SETTINGS
@given(data=instances(big=True))
def test_grants_stay_within_budget_demand_cap_and_floor(rule, data):  # type: ignore[no-untyped-def]
    rows, table, budget, tie, seed = data
    result = allocate(table, _spec(rule, budget, tie, seed))
    grant = result.grant
    assert grant.dtype == np.int64
    total = sum(grant.tolist())
    assert total == result.total <= budget
    assert result.unspent == budget - total
    for i, row in enumerate(rows):
        if not row["eligible"]:
            assert grant[i] == 0
            assert result.code[i] == Code.EXCLUDED
            continue
        upper = row["demand"] if row["cap"] is None else min(row["cap"], row["demand"])
        assert row["floor"] <= grant[i] <= upper <= row["demand"]
    if rule in FILLING:
        # Water-filling spends the budget exactly, unless every claim is met in full.
        uppers = sum(table.upper[table.eligible].tolist())
        assert total == min(budget, uppers)


@pytest.mark.parametrize("rule", DIVISIBLE)
@SETTINGS
@given(data=instances(), shuffle=st.randoms(use_true_random=False))
def test_result_does_not_depend_on_input_order(rule, data, shuffle):  # type: ignore[no-untyped-def]
    rows, table, budget, tie, seed = data
    first = allocate(table, _spec(rule, budget, tie, seed)).grants_by_key()
    shuffled = list(rows)
    shuffle.shuffle(shuffled)
    again = allocate(ClaimTable.from_records(shuffled), _spec(rule, budget, tie, seed))
    assert again.grants_by_key() == first


@pytest.mark.parametrize("rule", DIVISIBLE)
@SETTINGS
@given(data=instances(), shuffle=st.randoms(use_true_random=False))
def test_recomputing_from_the_snapshot_gives_the_same_result(rule, data, shuffle):  # type: ignore[no-untyped-def]
    rows, table, budget, tie, seed = data
    info = {"budget": budget, "rule": rule, "params": {}, "tiebreak": tie, "seed": seed}
    frozen = snapshot.build(info, table)
    shuffled = list(rows)
    shuffle.shuffle(shuffled)
    # The same claims in another order freeze to the same bytes, hence the same hash.
    assert snapshot.build(info, ClaimTable.from_records(shuffled)) == frozen
    loaded = snapshot.load(frozen)
    original = allocate(table, loaded.spec)
    recomputed = allocate(loaded.table, loaded.spec)
    assert recomputed.grants_by_key() == original.grants_by_key()
    assert recomputed.digest() == original.digest()
    assert recomputed.explanations() == [
        original.explanations()[list(table.key).index(k)] for k in loaded.table.key
    ]


@pytest.mark.parametrize("rule", FILLING)
@SETTINGS
@given(data=instances(big=True))
def test_fast_water_filling_equals_the_reference(rule, data):  # type: ignore[no-untyped-def]
    _rows, table, budget, tie, seed = data
    result = allocate(table, _spec(rule, budget, tie, seed))
    rows_ = np.flatnonzero(table.eligible)
    lower = table.floor[rows_].tolist()
    upper = table.upper[rows_].tolist()
    weight = {
        MAX_MIN: [1] * len(upper),
        PRO_RATA: upper,
        WEIGHTED_MAX_MIN: table.weight[rows_].tolist(),
    }[rule]
    ties = [_ties(table, tie, seed)[i] for i in rows_.tolist()]
    grants, extra, level = reference.waterfill(budget, lower, upper, weight, ties)
    assert result.grant[rows_].tolist() == grants
    assert result.plus[rows_].tolist() == extra
    assert result.facts["level"] == level or (level is None) == (result.facts["level"] is None)


@SETTINGS
@given(data=instances(big=True), mode=st.sampled_from(["skip", "stop", "partial"]))
def test_fast_priority_equals_the_reference(data, mode):  # type: ignore[no-untyped-def]
    _rows, table, budget, tie, seed = data
    result = allocate(table, _spec(PRIORITY, budget, tie, seed, on_shortfall=mode))
    rows_ = np.flatnonzero(table.eligible)
    ties = _ties(table, tie, seed)
    keys = [(int(table.priority[i]), int(table.submitted[i]), *ties[i]) for i in rows_.tolist()]
    expected = reference.priority(
        budget, table.floor[rows_].tolist(), table.upper[rows_].tolist(), keys, mode
    )
    assert result.grant[rows_].tolist() == expected


@SETTINGS
@given(data=instances())
def test_pro_rata_is_proportional(data):  # type: ignore[no-untyped-def]
    _rows, table, budget, tie, seed = data
    result = allocate(table, _spec(PRO_RATA, budget, tie, seed))
    level = result.facts["level"]
    fraction = Fraction(1) if level is None else level
    for i in np.flatnonzero(table.eligible).tolist():
        upper = int(table.upper[i])
        exact = fraction * upper
        grant = int(result.grant[i])
        if exact >= int(table.floor[i]):
            # Everyone gets the same fraction of what they may receive, to the minor unit.
            assert floor(exact) <= grant <= ceil(exact)
        else:
            assert grant == int(table.floor[i])


@SETTINGS
@given(data=instances())
def test_max_min_cannot_raise_a_smaller_grant_without_lowering_a_larger(data):  # type: ignore[no-untyped-def]
    _rows, table, budget, tie, seed = data
    g = allocate(table, _spec(MAX_MIN, budget, tie, seed)).grant
    lower, upper = table.floor, table.upper
    eligible = np.flatnonzero(table.eligible).tolist()
    for i, j in itertools.permutations(eligible, 2):
        # Moving a unit from j to i would help the smaller one without hurting a smaller one.
        if g[i] < upper[i] and g[j] > lower[j]:
            assert g[j] - g[i] <= 1


@SETTINGS
@given(data=instances())
def test_weighted_max_min_levels_agree_up_to_rounding(data):  # type: ignore[no-untyped-def]
    _rows, table, budget, tie, seed = data
    g = allocate(table, _spec(WEIGHTED_MAX_MIN, budget, tie, seed)).grant
    w, lower, upper = table.weight, table.floor, table.upper
    eligible = np.flatnonzero(table.eligible).tolist()
    for i, j in itertools.permutations(eligible, 2):
        if g[i] < upper[i] and g[j] > lower[j]:
            assert (g[j] - 1) * w[i] < (g[i] + 1) * w[j]


def _leximin_optimum(budget: int, lower: list[int], upper: list[int]) -> list[int]:
    """The best sorted grant vector over every integer allocation (brute force)."""
    target = min(budget, sum(upper))
    best: list[int] | None = None
    for grants in itertools.product(
        *(range(lo, up + 1) for lo, up in zip(lower, upper, strict=True))
    ):
        if sum(grants) != target:
            continue
        ranked = sorted(grants)
        if best is None or ranked > best:
            best = ranked
    assert best is not None
    return best


@settings(max_examples=200, deadline=None)
@given(
    claims=st.lists(st.tuples(st.integers(1, 9), st.integers(0, 3)), min_size=1, max_size=4),
    spare=st.integers(0, 12),
    tie=st.sampled_from(["submitted", "key", "random"]),
)
def test_max_min_is_the_leximin_optimum_by_brute_force(claims, spare, tie):  # type: ignore[no-untyped-def]
    demand = [d for d, _ in claims]
    floors = [min(f, d) for d, f in claims]
    budget = sum(floors) + spare
    table = ClaimTable.build(list(range(1, len(claims) + 1)), demand, floor=floors)
    result = allocate(table, RoundSpec(budget=budget, rule=MAX_MIN, tiebreak=tie, seed="s"))
    assert sorted(result.grant.tolist()) == _leximin_optimum(budget, floors, demand)


@pytest.mark.parametrize("rule", DIVISIBLE)
def test_floors_above_the_budget_are_refused(rule):  # type: ignore[no-untyped-def]
    table = ClaimTable.build([1, 2], [1_000, 1_000], floor=[600, 600])
    with pytest.raises(RuleError, match="floors add up to 1200, more than the budget of 1000"):
        allocate(table, RoundSpec(budget=1_000, rule=rule))


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ({"key": [1, 1], "demand": [5, 5]}, "appears twice"),
        ({"key": [1], "demand": [0]}, "amount asked"),
        ({"key": [1], "demand": [5], "floor": [6]}, "floor"),
        ({"key": [1], "demand": [5], "cap": [0]}, "cap must be above zero"),
        ({"key": [1], "demand": [5], "weight": [0]}, "weight"),
        ({"key": [0], "demand": [5]}, "above zero"),
    ],
)
def test_invalid_claims_are_refused(columns, message):  # type: ignore[no-untyped-def]
    key, demand = columns.pop("key"), columns.pop("demand")
    with pytest.raises(RuleError, match=message):
        ClaimTable.build(key, demand, **columns)


def test_the_issue_example_reads_as_promised():
    """40 claims of 1,200.00 and 10 of 500.00 with 40,000.00: every claim is met up to 875.00."""
    demand = [120_000] * 40 + [50_000] * 10
    table = ClaimTable.build(list(range(1, 51)), demand)
    result = allocate(table, RoundSpec(budget=4_000_000, rule=MAX_MIN))
    assert result.grant.tolist() == [87_500] * 40 + [50_000] * 10
    assert result.explain(0) == (
        "You asked 1,200.00; every claim was met up to 875.00 because the budget of 40,000.00 "
        "ran out at that level. You received 875.00."
    )
    assert result.explain(45).startswith("You asked 500.00 and received it in full")


def test_leftover_cents_go_by_the_tie_break_and_are_explained():
    table = ClaimTable.build([3, 1, 2], [1_000, 1_000, 1_000], submitted=[10, 30, 20])
    by_time = allocate(table, RoundSpec(budget=1_001, rule=MAX_MIN, tiebreak="submitted"))
    assert by_time.grant.tolist() == [334, 333, 334]  # the two earliest submitted
    assert "received one of them" in by_time.explain(0)
    assert "received one of them" not in by_time.explain(1)
    by_key = allocate(table, RoundSpec(budget=1_001, rule=MAX_MIN, tiebreak="key"))
    assert by_key.grant.tolist() == [333, 334, 334]  # claims 1 and 2


def test_random_tie_break_is_the_documented_splitmix_order():
    keys = np.arange(1, 200, dtype=np.int64)
    mixed = tiebreak.mix64_array(keys, "seed")
    assert mixed.tolist() == [tiebreak.mix64(int(k) ^ tiebreak.seed64("seed")) for k in keys]


def test_priority_explanations_follow_the_queue():
    table = ClaimTable.build(
        [1, 2, 3], [600, 500, 100], priority=[0, 1, 1], submitted=[3, 1, 2], floor=[0, 50, 0]
    )
    result = allocate(table, RoundSpec(budget=800, rule=PRIORITY))
    assert result.grant.tolist() == [600, 50, 100]
    assert "1st of 3, and was paid in full" in result.explain(0)
    assert "2nd of 3; when its turn came 1.50 was left" in result.explain(1)
    assert "passed over" in result.explain(1)
    assert "guaranteed minimum of 0.50" in result.explain(1)
    stop = allocate(table, RoundSpec(budget=800, rule=PRIORITY, params={"on_shortfall": "stop"}))
    assert stop.grant.tolist() == [600, 50, 0]
    partial = allocate(
        table, RoundSpec(budget=800, rule=PRIORITY, params={"on_shortfall": "partial"})
    )
    assert partial.grant.tolist() == [600, 200, 0]


def test_metrics_of_a_known_allocation():
    table = ClaimTable.build([1, 2, 3, 4], [100, 100, 100, 100], eligible=[1, 1, 1, 0])
    m = metrics(table, np.array([100, 50, 0, 0]), 200)
    assert (m.granted, m.unspent, m.fully_met, m.eligible) == (150, 50, 1, 3)
    assert (m.share_min, m.share_median) == (Fraction(0), Fraction(1, 2))
    # Amounts 0, 50, 100: Gini = 2*(1*0 + 2*50 + 3*100)/(3*150) - 4/3 = 4/9 (the mean
    # absolute difference over ordered pairs, 400/9, over twice the mean, 100).
    assert m.gini_amount == pytest.approx(4 / 9)
    assert m.jain_amount == pytest.approx(150**2 / (3 * 12_500))
    assert m.as_json()["share_median"] == "1/2"


def test_compare_runs_every_divisible_rule_on_the_same_claims():
    table = ClaimTable.build([1, 2, 3], [1_000, 500, 100])
    side_by_side = compare(table, RoundSpec(budget=900, rule=MAX_MIN))
    assert set(side_by_side) == set(DIVISIBLE)
    assert side_by_side[MAX_MIN].granted == 900
    assert side_by_side[PRIORITY].fully_met == 2


def test_huge_amounts_use_exact_big_integers():
    demand = [10**14 - 1, 10**14 - 3, 7]
    table = ClaimTable.build([1, 2, 3], demand, weight=[3, 1, 2])
    budget = 10**14
    for rule in FILLING:
        result = allocate(table, RoundSpec(budget=budget, rule=rule))
        assert result.total == budget
    assert NO_CAP == -1


def test_a_single_claim_and_no_claims():
    empty = ClaimTable.build([], [])
    for rule in DIVISIBLE:
        assert allocate(empty, RoundSpec(budget=5, rule=rule)).total == 0
    one = ClaimTable.build([9], [10])
    assert allocate(one, RoundSpec(budget=5, rule=MAX_MIN)).grant.tolist() == [5]
