"""Workload fairness: the one definition of the figures the oversight screens show.

For the effort-weighted open requests x_1..x_n of a program's n reviewers:

- Jain's index J = (sum x)^2 / (n * sum x^2): 1 when everyone carries the same, 1/n when one
  person carries everything. With nobody loaded (all zero) the load is even: J = 1.
- Gini G = sum_i sum_j |x_i - x_j| / (2 n^2 mean): 0 when even, (n-1)/n when one carries all.
  With nobody loaded, G = 0.

Pure functions over plain numbers (no Django), so they are tested against hand-computed
values; `service_requests.selectors.workload_by_program` supplies the loads.
"""

from __future__ import annotations

from collections.abc import Sequence


def jain_index(loads: Sequence[float]) -> float:
    """Jain's fairness index of the loads (1.0 for an empty or all-zero list)."""
    total = sum(loads)
    squares = sum(x * x for x in loads)
    if not loads or squares == 0:
        return 1.0
    return total * total / (len(loads) * squares)


def gini(loads: Sequence[float]) -> float:
    """The Gini coefficient of the loads (0.0 for an empty or all-zero list). Sorted form:
    G = (2 * sum_i i * x_(i)) / (n * sum x) - (n + 1) / n, with i = 1..n ascending."""
    n = len(loads)
    total = sum(loads)
    if n == 0 or total == 0:
        return 0.0
    ranked = sorted(loads)
    weighted = sum((i + 1) * x for i, x in enumerate(ranked))
    return 2 * weighted / (n * total) - (n + 1) / n
