"""The exchange rules (pure functions: no database).

Worked examples first, each answer derived by hand in the comments; then properties checked
against brute force on small markets: top trading cycles is individually rational, Pareto
efficient, in the core and strategy-proof, its trace equals the textbook round-by-round form;
best swaps moves as many participants as any allocation in cycles within the cap can, with the
smallest rank sum among those, and the same answer for the same seed.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator, Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from allocations.rules import reference
from allocations.rules.exchange import (
    ExchangeInputError,
    ExchangeTooHardError,
    best_swaps,
    cycles_of,
    top_trading_cycles,
    ttc_movers_within_cap,
    ttc_trace,
    validate_prefs,
)

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# A housing market in Shapley and Scarf's model (1974), six participants, worked by hand.
# Round 0: 0 points to 1, 1 to 2, 2 to 0 (their first choices): the cycle [0, 1, 2] trades.
#   3 points to 0, 4 to 1, 5 to 4: no other cycle.
# Round 1: 3's first choice (0) is gone, so 3 points to 4; 4's (1) is gone, so 4 points to 3:
#   the cycle [3, 4] trades. 5 still points to 4.
# Round 2: 5 listed only 4, now gone: 5 points to themself and keeps their own item.
MARKET = [[1, 3], [2, 0], [0, 5], [0, 4, 5], [1, 3], [4]]


def rank(prefs: Sequence[Sequence[int]], i: int, item: int) -> int:
    """Smaller is better: a listed item's position, then the own item, then the rest."""
    p = list(prefs[i])
    if item in p:
        return p.index(item)
    return len(p) if item == i else len(p) + 1


def movers(received: Sequence[int]) -> int:
    return sum(1 for i, item in enumerate(received) if item != i)


def rank_sum(prefs: Sequence[Sequence[int]], received: Sequence[int]) -> int:
    return sum(rank(prefs, i, item) for i, item in enumerate(received) if item != i)


def individually_rational(prefs: Sequence[Sequence[int]], received: Sequence[int]) -> bool:
    return all(item == i or item in prefs[i] for i, item in enumerate(received))


def rational_allocations(prefs: Sequence[Sequence[int]]) -> Iterator[tuple[int, ...]]:
    """Every individually rational allocation (brute force over permutations)."""
    for perm in itertools.permutations(range(len(prefs))):
        if individually_rational(prefs, perm):
            yield perm


def test_market_top_trading_cycles() -> None:
    assert top_trading_cycles(MARKET) == [1, 2, 0, 4, 3, 5]
    assert ttc_trace(MARKET) == [[[0, 1, 2]], [[3, 4]], [[5]]]
    assert cycles_of(top_trading_cycles(MARKET)) == [[0, 1, 2], [3, 4]]


def test_market_best_swaps_in_pairs_beats_truncated_ttc() -> None:
    # Pairs who accept each other's items: {0, 1}, {0, 3}, {3, 4}. Two disjoint pairs at most:
    # {0, 1} and {3, 4}, four movers (the only way to move four). TTC's cycles cut to pairs
    # keep only [3, 4]: two movers.
    assert best_swaps(MARKET, 2) == [1, 0, 2, 4, 3, 5]
    assert ttc_movers_within_cap(MARKET, 2) == 2


def test_market_best_swaps_in_triples_moves_everyone() -> None:
    # Triples: [0, 1, 2] as in TTC and [3, 5, 4] (3 takes 5's item, 5 takes 4's, 4 takes 3's):
    # disjoint, so all six move, one more than TTC moves (5 keeps their item there).
    assert best_swaps(MARKET, 3) == [1, 2, 0, 5, 3, 4]
    assert ttc_movers_within_cap(MARKET, 3) == 5


def test_three_way_swap_without_pairs() -> None:
    # Each wants only the next one's item: TTC makes the three-way swap; in pairs nobody can
    # move, since no two accept each other's items.
    prefs = [[1], [2], [0]]
    assert top_trading_cycles(prefs) == [1, 2, 0]
    assert best_swaps(prefs, 3) == [1, 2, 0]
    assert best_swaps(prefs, 2) == [0, 1, 2]
    assert ttc_movers_within_cap(prefs, 2) == 0


def test_three_way_swap_or_a_pair() -> None:
    # Everyone's first choice closes the cycle 0 -> 1 -> 2 -> 0, which TTC trades. In pairs:
    # {0, 1} (0 gets their first choice, 1 their second) or {0, 2} (0 their second, 2 their
    # first): two movers and a rank sum of 1 either way, so the seed decides.
    prefs = [[1, 2], [2, 0], [0]]
    assert top_trading_cycles(prefs) == [1, 2, 0]
    answers = {tuple(best_swaps(prefs, 2, seed=seed)) for seed in range(12)}
    assert answers == {(1, 0, 2), (2, 1, 0)}
    assert all(best_swaps(prefs, 2, seed=4) == best_swaps(prefs, 2, seed=4) for _ in range(3))


def test_rank_sum_decides_between_equally_many_movers() -> None:
    # {0, 1} gives both their second choices (rank sum 2); {0, 2} gives 0 their first and 2
    # their first (rank sum 0).
    prefs = [[2, 1], [2, 0], [0, 1]]
    for seed in range(5):
        assert best_swaps(prefs, 2, seed=seed) == [2, 1, 0]


def test_empty_and_silent_markets() -> None:
    assert top_trading_cycles([]) == []
    assert best_swaps([], 3) == []
    assert ttc_trace([]) == []
    assert cycles_of([]) == []
    assert top_trading_cycles([[], [], []]) == [0, 1, 2]
    assert best_swaps([[], [], []], 3) == [0, 1, 2]
    assert ttc_trace([[], []]) == [[[0], [1]]]


def test_cap_below_two_keeps_everyone_in_place() -> None:
    assert best_swaps(MARKET, 1) == list(range(6))
    assert best_swaps(MARKET, 0) == list(range(6))


def test_cycles_of_rotates_and_orders() -> None:
    assert cycles_of([0, 4, 2, 1, 3]) == [[1, 4, 3]]
    assert cycles_of([3, 2, 1, 0]) == [[0, 3], [1, 2]]
    with pytest.raises(ValueError, match="not a permutation"):
        cycles_of([1, 1, 0])


@pytest.mark.parametrize(
    ("prefs", "participant", "code", "words"),
    [
        ([[1], [1]], 1, "own_item", "Participant 1 ranks their own item 1"),
        ([[1, 2], [2, 0, 2], [0]], 1, "duplicate", "Participant 1 ranks item 2 more than once"),
        ([[1], [3]], 1, "unknown_item", "Participant 1 ranks item 3, but the items are numbered"),
        ([[-1], [0]], 0, "unknown_item", "ranks item -1"),
        ([[1.5], [0]], 0, "unknown_item", "ranks item 1.5"),
        ([["1"], [0]], 0, "unknown_item", "ranks item 1"),
    ],
)
def test_validation_names_the_participant_and_the_fault(
    prefs: list[list[int]], participant: int, code: str, words: str
) -> None:
    for rule in (
        validate_prefs,
        top_trading_cycles,
        ttc_trace,
        lambda p: best_swaps(p, 3),
        lambda p: ttc_movers_within_cap(p, 3),
    ):
        with pytest.raises(ExchangeInputError) as caught:
            rule(prefs)
        assert caught.value.participant == participant
        assert caught.value.code == code
        assert words in str(caught.value)
        assert isinstance(caught.value, ValueError)


# --- properties, against brute force on small markets -----------------------------------------


@st.composite
def markets(draw: st.DrawFn, max_n: int) -> list[list[int]]:
    """Each participant lists some of the others' items in some order."""
    n = draw(st.integers(0, max_n))
    prefs = []
    for i in range(n):
        order = draw(st.permutations([j for j in range(n) if j != i]))
        prefs.append(list(order[: draw(st.integers(0, len(order)))]))
    return prefs


def reports(n: int, i: int) -> Iterator[list[int]]:
    """Every list participant i could hand in: any ordered selection of the others' items."""
    others = [j for j in range(n) if j != i]
    for size in range(len(others) + 1):
        for chosen in itertools.permutations(others, size):
            yield list(chosen)


@SETTINGS
@given(markets(10))
def test_trace_equals_the_textbook_rounds(prefs: list[list[int]]) -> None:
    trace = ttc_trace(prefs)
    assert trace == reference.top_trading_cycles_by_rounds(prefs)
    received = top_trading_cycles(prefs)
    traded = sorted(c for cycles in trace for c in cycles if len(c) > 1)
    assert cycles_of(received) == traded
    assert sorted(i for cycles in trace for c in cycles for i in c) == list(range(len(prefs)))
    # Everything a participant ranked above what they received left in an earlier round.
    left = {i: r for r, cycles in enumerate(trace) for c in cycles for i in c}
    for i, item in enumerate(received):
        better = prefs[i][: rank(prefs, i, item)]
        assert all(left[j] < left[i] for j in better)


@SETTINGS
@given(markets(6))
def test_ttc_is_rational_efficient_and_in_the_core(prefs: list[list[int]]) -> None:
    received = top_trading_cycles(prefs)
    assert individually_rational(prefs, received)
    n = len(prefs)
    mine = [rank(prefs, i, received[i]) for i in range(n)]
    # No coalition (everyone together included: Pareto efficiency) can share out its own
    # items so that nobody in it is worse off and someone is better off.
    for size in range(1, n + 1):
        for coalition in itertools.combinations(range(n), size):
            for items in itertools.permutations(coalition):
                ranks = [rank(prefs, i, item) for i, item in zip(coalition, items, strict=True)]
                mine_here = [mine[i] for i in coalition]
                assert not (
                    all(r <= m for r, m in zip(ranks, mine_here, strict=True))
                    and ranks != mine_here
                ), (coalition, items)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(markets(4))
def test_ttc_is_strategy_proof(prefs: list[list[int]]) -> None:
    truthful = top_trading_cycles(prefs)
    n = len(prefs)
    for i in range(n):
        honest = rank(prefs, i, truthful[i])
        for report in reports(n, i):
            lied = [report if j == i else prefs[j] for j in range(n)]
            assert rank(prefs, i, top_trading_cycles(lied)[i]) >= honest, (i, report)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(markets(7), st.integers(2, 4), st.integers(0, 2**31))
def test_best_swaps_is_the_brute_force_optimum(
    prefs: list[list[int]], max_cycle: int, seed: int
) -> None:
    received = best_swaps(prefs, max_cycle, seed=seed)
    assert individually_rational(prefs, received)
    assert all(len(c) <= max_cycle for c in cycles_of(received))
    feasible = [
        perm
        for perm in rational_allocations(prefs)
        if all(len(c) <= max_cycle for c in cycles_of(perm))
    ]
    most = max(movers(perm) for perm in feasible)
    assert movers(received) == most
    assert rank_sum(prefs, received) == min(
        rank_sum(prefs, perm) for perm in feasible if movers(perm) == most
    )
    assert movers(received) >= ttc_movers_within_cap(prefs, max_cycle)
    assert best_swaps(prefs, max_cycle, seed=seed) == received


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(markets(9), st.integers(0, 2**31))
def test_best_swaps_without_a_binding_cap_moves_at_least_as_many_as_ttc(
    prefs: list[list[int]], seed: int
) -> None:
    # A cap as long as TTC's longest cycle does not bind TTC's own allocation.
    cap = max([2, *(len(c) for c in cycles_of(top_trading_cycles(prefs)))])
    received = best_swaps(prefs, cap, seed=seed)
    assert movers(received) >= movers(top_trading_cycles(prefs))
    assert best_swaps(prefs, cap, seed=seed) == received


def test_a_market_with_too_many_cycles_is_refused_at_once() -> None:
    # Fourteen people who all accept each other: billions of cycles of up to fourteen.
    everyone = [[j for j in range(14) if j != i] for i in range(14)]
    started = time.perf_counter()
    with pytest.raises(ExchangeTooHardError, match="too many to prove"):
        best_swaps(everyone, 14)
    assert time.perf_counter() - started < 30
    assert len(best_swaps(everyone, 2)) == 14  # the same market with a short cap is solved
