"""Taking a snapshot of the items still in play and storing a solve's cycles and assignments
(shared by freezing, solving and the re-solve after a withdrawal)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import Max

from allocations.rules import exchange as rules
from core.audit import record_history

from .. import snapshot as frozen
from ..models import (
    ExchangeAssignment,
    ExchangeCycle,
    ExchangeItem,
    ExchangeRanking,
    ExchangeRound,
    ExchangeSnapshot,
)
from ..solve import Solution, solve
from .errors import ERR_TAMPERED, ERR_TOO_HARD, refused

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def snapshot_take(
    round_: ExchangeRound, *, items: list[int], reason: str, previous: str = ""
) -> ExchangeSnapshot:
    """Write the canonical snapshot of `items` (their holders' rankings restricted to them)."""
    rankings: dict[int, list[int]] = {}
    for item_id, ranked_id in (
        ExchangeRanking.objects.filter(item_id__in=items)
        .order_by("item_id", "position")
        .values_list("item_id", "ranked_id")
    ):
        rankings.setdefault(item_id, []).append(ranked_id)
    info = {
        "id": round_.pk,
        "rule": round_.rule,
        "max_cycle": round_.max_cycle,
        "seed": round_.seed,
        "currency": round_.currency,
        "kind": round_.item_kind,
        "previous": previous,
    }
    data = frozen.build(info, rankings, items)
    digest = frozen.sha256(data)
    return ExchangeSnapshot.objects.create(
        round=round_,
        data=data.decode("utf-8"),
        sha256=digest,
        participants=len(items),
        reason=reason[:200],
    )


def snapshot_solve(stored: ExchangeSnapshot, expected: str) -> Solution:
    """Solve a stored snapshot after checking its bytes still match the hash in force."""
    data = stored.data.encode("utf-8")
    if frozen.sha256(data) != expected or stored.sha256 != expected:
        raise refused("snapshot", ERR_TAMPERED.format(title=stored.round.title), "tampered")
    try:
        return solve(frozen.load(data))
    except (ValueError, rules.ExchangeInputError) as error:
        raise refused("snapshot", str(error), "invalid") from None
    except rules.ExchangeTooHardError:
        title = stored.round.title
        raise refused("max_cycle", ERR_TOO_HARD.format(title=title), "too_hard") from None


def solution_store(
    round_: ExchangeRound, stored: ExchangeSnapshot, solution: Solution, *, actor: User
) -> list[ExchangeCycle]:
    """Write the solution's cycles (numbered after the round's existing ones) and one current
    assignment per participant of the snapshot, replacing their previous ones."""
    participants = list(solution.facts)
    for old in ExchangeAssignment.objects.filter(item_id__in=participants, current=True):
        old.current = False
        record_history(old, actor=actor, reason=f"re-solved {stored.sha256[:12]}")
        old.save()
    last = ExchangeCycle.objects.filter(round=round_).aggregate(n=Max("number"))["n"] or 0
    cycles: list[ExchangeCycle] = []
    cycle_of: dict[int, ExchangeCycle] = {}
    for number, found in enumerate(solution.cycles, start=last + 1):
        cycle = ExchangeCycle(
            round=round_,
            snapshot=stored,
            number=number,
            formed_in=found.formed_in,
            size=len(found.members),
        )
        record_history(cycle, actor=actor, reason="found by the solve")
        cycle.save()
        cycles.append(cycle)
        for member in found.members:
            cycle_of[member] = cycle
    for own, facts in solution.facts.items():
        assignment = ExchangeAssignment(
            round=round_,
            snapshot=stored,
            item_id=own,
            receives_id=facts["receives"],
            cycle=cycle_of.get(own),
            facts=facts,
        )
        record_history(assignment, actor=actor, reason="solved")
        assignment.save()
    return cycles


def active_items(round_: ExchangeRound) -> list[int]:
    """The numbers of the round's items not withdrawn."""
    return list(
        ExchangeItem.objects.filter(round=round_, withdrawn_at__isnull=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
