"""Committing an approved exchange round: cycle by cycle, each approved cycle's money (the
deposits, rent differences and fees its items carry) moves as one ledger batch, all or
nothing, between each mover's account and the round's settlement account. A cycle that
carries no money moves none. A cycle the ledger refuses stays approved and uncommitted with
the reason, nothing of it written; the others commit. The round is committed once no approved
cycle is left uncommitted; committing again retries only what is left."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from core.audit import record_history
from ledger import services as ledger

from ..models import (
    COMMIT_EXCHANGE_PERMISSION,
    CycleStatus,
    ExchangeCycle,
    ExchangeItem,
    ExchangeRound,
    ExchangeState,
)
from .common import require, round_locked, round_save, state_refused
from .errors import ERR_SETTLEMENT, refused

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def cycle_transfer_specs(round_: ExchangeRound, cycle: ExchangeCycle) -> list[ledger.TransferSpec]:
    """The cycle's transfers: a holder who pays on moving is debited, one who receives is
    credited, the settlement account on the other side of each."""
    items = list(
        ExchangeItem.objects.filter(assignments__cycle=cycle).exclude(amount_minor=0).order_by("pk")
    )
    if not items:
        return []
    settlement = round_.settlement_account
    if settlement is None:
        raise refused(
            "settlement_account", ERR_SETTLEMENT.format(currency=round_.currency), "settlement"
        )
    specs = []
    for item in items:
        pays = item.amount_minor > 0
        assert item.account_id is not None  # a model constraint: money needs an account
        specs.append(
            ledger.TransferSpec(
                idempotency_key=f"exchange-{round_.pk}-cycle-{cycle.number}-item-{item.pk}",
                debit_account_id=item.account_id if pays else settlement.pk,
                credit_account_id=settlement.pk if pays else item.account_id,
                amount_minor=abs(item.amount_minor),
                currency=round_.currency,
                reference=f"exchange-{round_.pk}",
                memo=f"exchange round {round_.pk}, cycle {cycle.number}",
            )
        )
    return specs


@transaction.atomic
def round_commit(*, actor: User, round_id: int) -> ExchangeRound:
    """Commit every approved, uncommitted cycle of an approved round (see the module)."""
    require(actor, COMMIT_EXCHANGE_PERMISSION, "commit")
    round_ = round_locked(round_id)
    if round_.state == ExchangeState.COMMITTED:
        return round_
    if round_.state != ExchangeState.APPROVED:
        raise state_refused(round_, "committed")
    pending = list(
        ExchangeCycle.objects.select_for_update(of=("self",))
        .filter(round=round_, status=CycleStatus.APPROVED)
        .order_by("number")
    )
    for cycle in pending:
        try:
            # A savepoint per cycle: a refused cycle leaves nothing behind, the others stand.
            with transaction.atomic():
                specs = cycle_transfer_specs(round_, cycle)
                if specs:
                    ledger.transfers_create(actor=actor, specs=specs)
                cycle.status = CycleStatus.COMMITTED
                cycle.committed_at = timezone.now()
                cycle.commit_error = ""
                record_history(cycle, actor=actor, reason="committed")
                cycle.save()
        except ValidationError as error:  # LedgerError and ExchangeError alike
            cycle.refresh_from_db()
            cycle.commit_error = "; ".join(error.messages)
            record_history(cycle, actor=actor, reason="commit refused")
            cycle.save()
    if not round_.cycles.filter(status=CycleStatus.APPROVED).exists():
        round_.commit()
        round_.committed_at = timezone.now()
        round_save(round_, actor=actor, reason="committed")
    return round_
