"""Benchmark: the exchange rules (`allocations.rules.exchange`; pure Python, no Django).

Run with `uv run python -m bench bench_exchange` (or `make bench`). Markets are random and drawn
from fixed seeds: every participant ranks distinct items of others, uniformly at random.

1. top trading cycles on 100,000 participants ranking 20 items each (validation included):
   target under 2 s. Baseline in the same run: the textbook form that rebuilds
   every pointer each round (`reference.top_trading_cycles_by_rounds`) against ours on the
   same market of 2,000 participants ranking 20 items, both checked to give the same rounds.
   Best of 5, with the processor time beside the wall-clock time (the machine is shared).
2. best swaps on 1,000 participants ranking 10 items each, cycles of at most 3, best of 3
   (OR-Tools imported before the clock starts; the import time is printed apart): target under
   30 s. Printed beside it: how many participants it moves, and how many TTC's allocation
   moves once its cycles of more than 3 are dropped (`ttc_movers_within_cap`), the baseline
   it improves on.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np

TTC_N, TTC_RANKED, TTC_TARGET = 100_000, 20, 2.0
BASELINE_N = 2_000
SWAPS_N, SWAPS_RANKED, SWAPS_CAP, SWAPS_TARGET = 1_000, 10, 3, 30.0


def _best(run: Callable[[], Any], repeat: int = 3) -> tuple[float, Any]:
    return _timed(run, repeat)[0::2]


def _timed(run: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    """The best wall-clock time, the best processor time and the value of the last run (the
    machine is shared: processor time shows the work apart from waiting for a core)."""
    wall, cpu, value = float("inf"), float("inf"), None
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        value = run()
        wall = min(wall, time.perf_counter() - start)
        cpu = min(cpu, time.process_time() - start_cpu)
    return wall, cpu, value


def market(n: int, ranked: int, seed: int) -> list[list[int]]:
    """n participants, each ranking `ranked` distinct items of others in random order."""
    rng = np.random.default_rng(seed)
    # Draw from the n - 1 other items: a draw at or above one's own number names the next item.
    own = np.arange(n)[:, None]
    draws = rng.integers(0, n - 1, size=(n, ranked))
    draws += draws >= own
    ordered = np.sort(draws, axis=1)
    for i in np.flatnonzero((ordered[:, 1:] == ordered[:, :-1]).any(axis=1)).tolist():
        others = np.delete(np.arange(n), i)
        draws[i] = rng.choice(others, size=ranked, replace=False)
    return draws.tolist()


def _movers(received: list[int]) -> int:
    return sum(1 for i, item in enumerate(received) if item != i)


def bench_ttc() -> bool:
    from allocations.rules import reference
    from allocations.rules.exchange import top_trading_cycles, ttc_trace

    prefs = market(TTC_N, TTC_RANKED, seed=11)
    seconds, cpu, received = _timed(lambda: top_trading_cycles(prefs), repeat=5)
    met = seconds < TTC_TARGET
    rounds = len(ttc_trace(prefs))
    print(
        f"top trading cycles, {TTC_N:,} participants x {TTC_RANKED} ranked: {seconds:.2f} s   "
        f"target {TTC_TARGET:.0f} s: ratio {seconds / TTC_TARGET:.2f} "
        f"({'met' if met else 'MISSED'}; processor {cpu:.2f} s, load average "
        f"{os.getloadavg()[0]:.1f}); {_movers(received):,} move, {rounds} rounds"
    )
    small = market(BASELINE_N, TTC_RANKED, seed=12)
    fast, trace = _best(lambda: ttc_trace(small))
    plain, expected = _best(lambda: reference.top_trading_cycles_by_rounds(small), repeat=1)
    assert trace == expected, "path-following and textbook TTC disagree"
    print(
        f"  on {BASELINE_N:,} x {TTC_RANKED}: ours {fast * 1000:.1f} ms, textbook rounds "
        f"{plain * 1000:.0f} ms ({plain / fast:.0f}x), same {len(trace)} rounds"
    )
    return met


def bench_swaps() -> bool:
    start = time.perf_counter()
    from ortools.sat.python import cp_model  # noqa: F401  (imported here to time it apart)

    imported = time.perf_counter() - start
    from allocations.rules.exchange import (
        best_swaps,
        exchange_cycles,
        top_trading_cycles,
        ttc_movers_within_cap,
    )

    prefs = market(SWAPS_N, SWAPS_RANKED, seed=13)
    seconds, received = _best(lambda: best_swaps(prefs, SWAPS_CAP, seed=1))
    met = seconds < SWAPS_TARGET
    print(
        f"best swaps, {SWAPS_N:,} participants x {SWAPS_RANKED} ranked, cycles <= {SWAPS_CAP}: "
        f"{seconds:.2f} s   target {SWAPS_TARGET:.0f} s: ratio {seconds / SWAPS_TARGET:.3f} "
        f"({'met' if met else 'MISSED'}; OR-Tools import {imported:.1f} s apart)"
    )
    cycles = exchange_cycles(prefs, SWAPS_CAP)
    print(
        f"  {_movers(received):,} move, against {ttc_movers_within_cap(prefs, SWAPS_CAP):,} "
        f"for TTC with its cycles over {SWAPS_CAP} dropped "
        f"({_movers(top_trading_cycles(prefs)):,} with them); {len(cycles):,} candidate cycles"
    )
    return met


def main() -> int:
    ok = bench_ttc()
    ok &= bench_swaps()
    return 0 if ok else 1
