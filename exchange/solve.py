"""Solving a snapshot: the rule's cycles and, for each participant, the facts their
explanation is written from (no Django; `explain.py` words them in the reader's language).

Facts, by item number (never by person):
    {"rule": "ttc", "own": 12, "receives": 15 | None, "cycle": [12, 15, 11] | [],
     "formed_in": 2, "higher": [15, 19], "ranked": 3, "cap": 3, "movers": 6, "ttc_movers": 4}
`cycle` starts with the participant: each member receives the next member's item, the last
receives the participant's. `higher` lists the items the participant ranked above what they
received (or above keeping their own).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from allocations.rules import exchange as rules

from .snapshot import Snapshot


@dataclass
class Cycle:
    members: list[int]  # item numbers: members[k] receives members[k + 1]'s item
    formed_in: int


@dataclass
class Solution:
    cycles: list[Cycle] = field(default_factory=list)
    facts: dict[int, dict[str, Any]] = field(default_factory=dict)  # by own item number

    @property
    def movers(self) -> int:
        return sum(len(c.members) for c in self.cycles)


def solve(snapshot: Snapshot) -> Solution:
    """The cycles of the snapshot's rule, and every participant's facts. Raises
    `rules.ExchangeInputError` on preferences that are not a valid exchange."""
    info, items, prefs = snapshot.round, snapshot.items, snapshot.prefs
    rule = info["rule"]
    cap = int(info.get("max_cycle", 0))
    rules.validate_prefs(prefs)
    formed: dict[int, int] = {}
    if rule == "ttc":
        for rnd, group in enumerate(rules.ttc_trace(prefs), start=1):
            for cycle in group:
                for member in cycle:
                    formed[member] = rnd
        received = rules.top_trading_cycles(prefs)
        ttc_movers = 0
    else:
        received = rules.best_swaps(prefs, cap, seed=int(info.get("seed", 0)))
        ttc_movers = rules.ttc_movers_within_cap(prefs, cap)
    solution = Solution()
    cycle_of: dict[int, list[int]] = {}
    for members in rules.cycles_of(received):
        for member in members:
            cycle_of[member] = members
        solution.cycles.append(
            Cycle([items[m] for m in members], formed.get(members[0], 1) if formed else 1)
        )
    solution.cycles.sort(key=lambda c: (c.formed_in, min(c.members)))
    movers = solution.movers
    for i, own in enumerate(items):
        got = received[i]
        listed = prefs[i]
        higher = listed[: listed.index(got)] if got != i else list(listed)
        members = cycle_of.get(i, [])
        if members:
            start = members.index(i)
            members = members[start:] + members[:start]
        solution.facts[own] = {
            "rule": rule,
            "own": own,
            "receives": items[got] if got != i else None,
            "cycle": [items[m] for m in members],
            "formed_in": formed.get(i, 1),
            "higher": [items[h] for h in higher],
            "ranked": len(listed),
            "cap": cap,
            "movers": movers,
            "ttc_movers": ttc_movers,
        }
    return solution
