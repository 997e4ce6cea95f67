"""Exchange rules: participants who each bring one item trade them among themselves (pure Python
and OR-Tools, no Django).

Participant `i` owns item `i`. `prefs[i]` lists the items `i` would accept in exchange for their
own, best first; every item not listed ranks below their own item, so an allocation gives
everyone either a listed item or their own (individual rationality). An allocation is a list
`received` with `received[i]` the item participant `i` ends with; it is a permutation, made of
exchange cycles: in the cycle `[a, b, c]` participant a receives b's item, b receives c's and c
receives a's.

- `top_trading_cycles`: Shapley and Scarf's top trading cycles (TTC, credited by them to David
  Gale). Everyone points to the owner of their best remaining acceptable item, or to themself
  when none remains; every cycle of pointers trades and leaves; repeat. With strict
  preferences the result is the unique allocation in the core (Roth and Postlewaite 1977),
  hence individually rational and Pareto efficient, and no participant can gain by
  misreporting (Roth 1982). Cycles may be of any length.
- `best_swaps`: cycles of at most `max_cycle` participants (a long cycle is hard to carry out:
  everyone in it must hand over at once). The allocation moves as many participants as
  possible to an item they prefer to their own, exactly (an integer program over the cycles,
  as in kidney exchange: Roth, Sönmez and Ünver 2007, Abraham, Blum and Sandholm 2007); among
  those, the smallest sum of rank positions of the received items; among those, a tie-break
  drawn from a seed.

TTC runs in time linear in the total length of the preference lists: a path of pointers is
followed until it closes on itself (Abraham, Cechlárová, Manlove and Mehlhorn 2005); each
participant keeps a pointer into their own list that only moves forward, past items already
gone. The textbook round-by-round form, which rebuilds every pointer each round, is
`reference.top_trading_cycles_by_rounds`; the order in which cycles leave does not change the
allocation, and each cycle's round is recovered from the rounds of the items its members had
to pass over.
"""

from __future__ import annotations

import itertools
import numbers
import random
from collections.abc import Sequence

import numpy as np

ERR_OWN_ITEM = (
    "Participant {participant} ranks their own item {participant}; list only the items of others."
)
ERR_DUPLICATE = "Participant {participant} ranks item {item} more than once."
ERR_UNKNOWN_ITEM = (
    "Participant {participant} ranks item {item}, but the items are numbered 0 to {last}."
)
ERR_TOO_HARD = (
    "No provably best exchange of {participants} participants in cycles of at most "
    "{max_cycle} was found within the solver's limit ({cycles} candidate cycles). Try a "
    "smaller cycle cap, or top trading cycles."
)
ERR_NOT_ALLOCATION = "The allocation is not a permutation of 0 to {last}."

# CP-SAT's deterministic time (about a second of work each on a typical core): the same input
# stops at the same point on any machine, so whether a market is too hard does not depend on
# the machine's load.
SOLVE_LIMIT = 600.0
# Candidate cycles `best_swaps` will enumerate: a long cap on a dense market has millions
# (12 people who all accept each other have about 40 million cycles of up to 12), which no
# solve would finish; past this many the rule answers `ExchangeTooHardError` at once.
MAX_CANDIDATE_CYCLES = 200_000
ERR_TOO_MANY_CYCLES = (
    "The market of {participants} participants has more than {limit} possible exchange cycles "
    "of at most {max_cycle}: too many to prove the best exchange. Try a smaller cycle cap, or "
    "top trading cycles."
)

OWN_ITEM = "own_item"
DUPLICATE = "duplicate"
UNKNOWN_ITEM = "unknown_item"


class ExchangeInputError(ValueError):
    """Preference lists that are not a valid exchange: `participant` names the first
    participant at fault, `code` the fault (`own_item`, `duplicate`, `unknown_item`)."""

    def __init__(self, message: str, *, participant: int, code: str) -> None:
        super().__init__(message)
        self.participant = participant
        self.code = code


class ExchangeTooHardError(RuntimeError):
    """`best_swaps` could not prove an allocation optimal within `SOLVE_LIMIT`."""


def _fault(prefs: Sequence[Sequence[int]], i: int) -> ExchangeInputError | None:
    """The fault in participant i's list, if any (unknown items first, then their own item,
    then repeats, each at its first occurrence in the list)."""
    n = len(prefs)
    seen: set[int] = set()
    for item in prefs[i]:
        if not (isinstance(item, numbers.Integral) and 0 <= item < n):
            message = ERR_UNKNOWN_ITEM.format(participant=i, item=item, last=n - 1)
            return ExchangeInputError(message, participant=i, code=UNKNOWN_ITEM)
    for item in prefs[i]:
        if item == i:
            return ExchangeInputError(
                ERR_OWN_ITEM.format(participant=i), participant=i, code=OWN_ITEM
            )
        if item in seen:
            message = ERR_DUPLICATE.format(participant=i, item=item)
            return ExchangeInputError(message, participant=i, code=DUPLICATE)
        seen.add(item)
    return None


def _all_valid(prefs: Sequence[Sequence[int]]) -> bool:
    """Whether every list is valid, checked in bulk (numpy, and map in C): true only when every
    entry is a plain int from 0 to n - 1, none is the participant's own item and no list
    repeats an item. False leaves the lists to be looked at one by one."""
    n = len(prefs)
    if not set(map(type, itertools.chain.from_iterable(prefs))) <= {int}:
        return False
    sizes = np.fromiter(map(len, prefs), dtype=np.int64, count=n)
    flat = np.fromiter(itertools.chain.from_iterable(prefs), dtype=np.int64, count=int(sizes.sum()))
    owner = np.repeat(np.arange(n, dtype=np.int64), sizes)
    if ((flat < 0) | (flat >= n) | (flat == owner)).any():
        return False
    if n and (sizes == sizes[0]).all():  # equally long lists: sort each row, look for repeats
        rows = np.sort(flat.reshape(n, int(sizes[0])), axis=1)
        return not (rows[:, 1:] == rows[:, :-1]).any()
    return sum(map(len, map(set, prefs))) == flat.shape[0]


def validate_prefs(prefs: Sequence[Sequence[int]]) -> None:
    """Refuse a list that ranks an unknown item (not a whole number from 0 to n - 1), the
    participant's own item, or one item twice: `ExchangeInputError` for the first participant
    at fault."""
    try:
        if _all_valid(prefs):
            return
    except (TypeError, ValueError, OverflowError):  # not numbers, or past int64
        pass
    for i in range(len(prefs)):
        error = _fault(prefs, i)
        if error is not None:
            raise error


def _ttc(prefs: Sequence[Sequence[int]]) -> tuple[list[int], list[list[int]], list[int]]:
    """TTC by following one path of pointers (see the module's docstring).

    Returns the allocation, the cycles in the order they left (each in pointing order, one
    member for a participant who keeps their own item) and each cycle's round. A cycle's round
    is the first round of the textbook form in which all its members point along it: every
    item a member prefers to the one they point at must have gone in an earlier round, so the
    round is one more than the latest round among the items any member passed over (0 when
    none passed over anything).
    """
    n = len(prefs)
    received = list(range(n))
    left = [-1] * n  # the round in which i left in a cycle; -1 while i is still there
    place = [-1] * n  # i's position on the path; -1 when off it
    ptr = [0] * n  # the position in prefs[i] of the item i points at (len: their own)
    passed = [-1] * n  # the latest round among the items i has passed over
    path: list[int] = []
    cycles: list[list[int]] = []
    rounds: list[int] = []
    for start in range(n):
        if left[start] >= 0:
            continue
        cur = start
        while True:
            p = prefs[cur]
            k = ptr[cur]
            latest = passed[cur]
            size = len(p)
            while k < size:
                r = left[p[k]]
                if r < 0:
                    break
                if r > latest:
                    latest = r
                k += 1
            ptr[cur] = k
            passed[cur] = latest
            nxt = p[k] if k < size else cur
            place[cur] = len(path)
            path.append(cur)
            at = place[nxt]
            if at < 0:
                cur = nxt
                continue
            # The path closed on itself: the members from nxt to the top trade and leave.
            cycle = path[at:]
            del path[at:]
            rnd = max([passed[member] for member in cycle]) + 1
            for member, item in zip(cycle, cycle[1:] + cycle[:1], strict=True):
                received[member] = item
                left[member] = rnd
                place[member] = -1
            cycles.append(cycle)
            rounds.append(rnd)
            if not path:
                break
            # The member below pointed into the cycle: it points again, from where it was.
            cur = path.pop()
            place[cur] = -1
    return received, cycles, rounds


def _rotated(cycle: list[int]) -> list[int]:
    at = cycle.index(min(cycle))
    return cycle[at:] + cycle[:at]


def top_trading_cycles(prefs: Sequence[Sequence[int]]) -> list[int]:
    """The top trading cycles allocation: `received[i]` is the item participant i ends with.

    The unique core allocation for these (strict) preferences: individually rational, Pareto
    efficient, and no participant gains by misreporting. Linear in the total list length."""
    validate_prefs(prefs)
    return _ttc(prefs)[0]


def ttc_trace(prefs: Sequence[Sequence[int]]) -> list[list[list[int]]]:
    """TTC's cycles grouped by round (round 0 first), each as in `cycles_of`, ordered by
    smallest member; a participant who keeps their own item is a one-member cycle `[i]` in
    the round they left. Items a participant ranked above what they received went to cycles
    of earlier rounds."""
    validate_prefs(prefs)
    _, cycles, rounds = _ttc(prefs)
    grouped: list[list[list[int]]] = [[] for _ in range(max(rounds, default=-1) + 1)]
    for cycle, rnd in zip(cycles, rounds, strict=True):
        grouped[rnd].append(_rotated(cycle))
    for group in grouped:
        group.sort()
    return grouped


def cycles_of(received: Sequence[int]) -> list[list[int]]:
    """The exchange cycles of an allocation: `[a, b, c]` means a receives b's item, b receives
    c's and c receives a's. Participants keeping their own item are left out; each cycle
    starts at its smallest member; cycles are ordered by smallest member."""
    n = len(received)
    if sorted(received) != list(range(n)):
        raise ValueError(ERR_NOT_ALLOCATION.format(last=n - 1))
    seen = bytearray(n)
    cycles = []
    for start in range(n):
        if seen[start] or received[start] == start:
            continue
        cycle = []
        cur = start
        while not seen[cur]:
            seen[cur] = 1
            cycle.append(cur)
            cur = received[cur]
        cycles.append(cycle)  # starts at its smallest member: smaller ones were all seen
    return cycles


def ttc_movers_within_cap(prefs: Sequence[Sequence[int]], max_cycle: int) -> int:
    """How many participants move if TTC's allocation is carried out without its cycles of
    more than `max_cycle` participants (whose members keep their own items): the baseline
    `best_swaps` improves on."""
    return sum(
        len(cycle) for cycle in cycles_of(top_trading_cycles(prefs)) if len(cycle) <= max_cycle
    )


# --- best swaps within a cap ------------------------------------------------------------------


def exchange_cycles(
    prefs: Sequence[Sequence[int]], max_cycle: int, *, limit: int = MAX_CANDIDATE_CYCLES
) -> list[tuple[int, ...]]:
    """Every cycle of 2 to `max_cycle` participants in which each member receives an item they
    listed, once each, starting at its smallest member (in depth-first order).
    `ExchangeTooHardError` as soon as there are more than `limit`."""
    accepts = [set(p) for p in prefs]
    found: list[tuple[int, ...]] = []

    def extend(path: list[int]) -> None:
        head, tail = path[0], path[-1]
        for item in prefs[tail]:
            if item <= head or item in path:
                continue
            path.append(item)
            if head in accepts[item]:
                found.append(tuple(path))
                if len(found) > limit:
                    raise ExchangeTooHardError(
                        ERR_TOO_MANY_CYCLES.format(
                            participants=len(prefs), limit=limit, max_cycle=max_cycle
                        )
                    )
            if len(path) < max_cycle:
                extend(path)
            path.pop()

    for start in range(len(prefs)):
        extend([start])
    return found


def best_swaps(prefs: Sequence[Sequence[int]], max_cycle: int, *, seed: int = 0) -> list[int]:
    """The individually rational allocation in cycles of at most `max_cycle` participants
    that moves the most participants to an item they prefer to their own; among those, the
    smallest sum of rank positions (0 for a first choice) of the items received. Exact: one
    integer program over the candidate cycles (`exchange_cycles`), solved to optimality by
    CP-SAT, maximising `scale * movers - rank sum` with `scale` above any possible rank sum,
    which orders solutions by movers first and rank sum second.

    Ties among optimal allocations are broken by the seed: it shuffles the order of the
    candidate cycles and seeds the solver, which runs on one worker with no clock limit, so
    the same input and seed give the same answer. `ExchangeTooHardError` if the market has
    more than `MAX_CANDIDATE_CYCLES` candidate cycles, or the solver has not proved an optimum
    within `SOLVE_LIMIT` (long caps on large, dense markets)."""
    from ortools.sat.python import cp_model

    validate_prefs(prefs)
    n = len(prefs)
    received = list(range(n))
    if max_cycle < 2:
        return received
    cycles = exchange_cycles(prefs, max_cycle)
    if not cycles:
        return received
    random.Random(seed).shuffle(cycles)
    rank = [{item: r for r, item in enumerate(p)} for p in prefs]
    scale = sum(len(p) for p in prefs) + 1
    gains = [
        scale * len(c) - sum(rank[c[j]][c[(j + 1) % len(c)]] for j in range(len(c))) for c in cycles
    ]

    model = cp_model.CpModel()
    chosen = [model.new_bool_var(f"c{k}") for k in range(len(cycles))]
    member_of: list[list[int]] = [[] for _ in range(n)]
    for k, cycle in enumerate(cycles):
        for member in cycle:
            member_of[member].append(k)
    for ks in member_of:
        if len(ks) > 1:
            model.add_at_most_one(chosen[k] for k in ks)
    model.maximize(cp_model.LinearExpr.weighted_sum(chosen, gains))

    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = seed % 2**31
    solver.parameters.max_deterministic_time = SOLVE_LIMIT
    # The full linear relaxation: the cycle formulation's LP bound is close to the optimum,
    # and without it one worker takes minutes to prove the rank sum optimal.
    solver.parameters.linearization_level = 2
    status = solver.solve(model)
    if status != cp_model.OPTIMAL:
        raise ExchangeTooHardError(
            ERR_TOO_HARD.format(cycles=len(cycles), max_cycle=max_cycle, participants=n)
        )
    for k, cycle in enumerate(cycles):
        if solver.boolean_value(chosen[k]):
            for j, member in enumerate(cycle):
                received[member] = cycle[(j + 1) % len(cycle)]
    return received
