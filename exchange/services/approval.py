"""Second-person approval of an exchange round: one governance case per cycle (subject kind
"exchange_cycle"). The officer who sends the round is each case's maker and the officer who
solved it its recommender, so neither may decide; the program's policy says who may. The round
is approved once no cycle awaits a decision."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction

from core.audit import record_history
from governance import services as governance

from ..models import (
    RUN_EXCHANGE_PERMISSION,
    CycleStatus,
    ExchangeCycle,
    ExchangeItem,
    ExchangeRound,
    ExchangeState,
)
from .common import require, round_locked, round_save, round_step

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from governance.models import ApprovalCase, Decision

SUBJECT_KIND = "exchange_cycle"


def _cycle_money(cycle: ExchangeCycle) -> int:
    amounts = ExchangeItem.objects.filter(assignments__cycle=cycle).values_list(
        "amount_minor", flat=True
    )
    return sum(abs(a) for a in amounts)


def cases_open(round_: ExchangeRound, cycles: list[ExchangeCycle], *, actor: User) -> None:
    """Open one case per proposed cycle (inside the caller's transaction)."""
    maker = round_.sent_by or actor
    for cycle in cycles:
        if cycle.status != CycleStatus.PROPOSED:
            continue
        cycle.approval_case = governance.case_open(
            actor=actor,
            program=round_.program,
            subject_kind=SUBJECT_KIND,
            subject_label=f"Exchange round {round_.title}: cycle {cycle.number}",
            maker=maker,
            recommender=round_.solved_by if round_.solved_by_id != maker.pk else None,
            summary=(
                f"Cycle {cycle.number} of {cycle.size} members in exchange round "
                f"{round_.title} ({round_.get_rule_display()}). Input hash "
                f"{round_.input_sha256}."
            ),
            amount_minor=_cycle_money(cycle),
            currency=round_.currency,
        )
        cycle.status = CycleStatus.UNDER_APPROVAL
        cycle.full_clean()
        record_history(cycle, actor=actor, reason="sent for approval")
        cycle.save()


def round_settle_approval(round_: ExchangeRound, *, actor: User) -> None:
    """An approval round with no cycle left awaiting a decision becomes approved."""
    if round_.state != ExchangeState.UNDER_APPROVAL:
        return
    if not round_.cycles.filter(status=CycleStatus.UNDER_APPROVAL).exists():
        round_.approve()
        round_save(round_, actor=actor, reason="every cycle decided")


@transaction.atomic
def round_send_for_approval(*, actor: User, round_id: int) -> ExchangeRound:
    """Put each proposed cycle of the solved round before the program's deciders."""
    require(actor, RUN_EXCHANGE_PERMISSION, "send for approval")
    round_ = round_locked(round_id)
    round_step(round_, "send_for_approval", "sent for approval")
    round_.sent_by = actor
    round_save(round_, actor=actor, reason="sent for approval")
    cases_open(round_, list(round_.cycles.filter(status=CycleStatus.PROPOSED)), actor=actor)
    round_settle_approval(round_, actor=actor)
    return round_


def cycle_on_decision(case: ApprovalCase, decision: Decision, actor: User) -> None:
    """Governance's final decision on a cycle's case (inside the decision's transaction):
    approve → the cycle is approved; reject, return or recall → it is declined (its members
    keep their items). A cycle no longer awaiting a decision (broken by a withdrawal) is left
    as it is."""
    # The round first, then the cycle: the order every exchange service locks them in.
    round_ = round_locked(
        ExchangeCycle.objects.values_list("round_id", flat=True).get(approval_case=case)
    )
    cycle = ExchangeCycle.objects.select_for_update(of=("self",)).get(approval_case=case)
    if cycle.status != CycleStatus.UNDER_APPROVAL:
        return
    outcome = str(decision.outcome)
    cycle.status = CycleStatus.APPROVED if outcome == "approve" else CycleStatus.DECLINED
    record_history(cycle, actor=actor, reason=f"{outcome}: {decision.reason}"[:100])
    cycle.save()
    round_settle_approval(round_, actor=actor)
