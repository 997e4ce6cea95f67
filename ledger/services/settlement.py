"""Settling a closed cycle: one settlement transfer per participant with a non-zero net against
the bureau's ACH settlement account, and the NACHA file built from those transfers alone (a
credit entry to each participant owed money, a debit entry from each who owes), checked to tie
out and stored."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from core import events
from core.audit import record_history
from core.services.queue import task_enqueue

from ..ach import MAX_AMOUNT
from ..clearing_errors import (
    ERR_ACH_CURRENCY,
    ERR_NO_BANK,
    ERR_NOT_CLOSED,
    ERR_NOT_SETTLED,
    ERR_TIE_OUT,
    ERR_TOO_LARGE,
    ClearingError,
)
from ..models import (
    Account,
    AccountType,
    ClearingCycle,
    CycleStatus,
    NetPosition,
    OwnerKind,
    Transfer,
)
from ..selectors import (
    SETTLEMENT_OWNER_REF,
    ProgressCallback,
    cycle_ach_bytes,
    cycle_settlement_positions,
    cycle_tie_out,
)
from .accounts import account_open
from .cycles import locked_cycle
from .errors import MAX_BATCH
from .specs import TransferSpec
from .transfers import transfers_create

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def settlement_account(*, actor: User, currency: str) -> Account:
    """The bureau's ACH settlement account in `currency` (opened on first use)."""
    return account_open(
        actor=actor,
        code=f"ACH-SETTLEMENT-{currency}",
        name=f"ACH settlement ({currency})",
        type=AccountType.LIABILITY,
        currency=currency,
        owner_kind=OwnerKind.BUREAU,
        owner_ref=SETTLEMENT_OWNER_REF,
    )


@transaction.atomic
def cycle_settle(*, actor: User, cycle_id: int) -> ClearingCycle:
    """Write one settlement transfer per participant with a non-zero net (finance officers).

    A participant owed money is debited (the bureau pays it out, an ACH credit); one who owes is
    credited (collected by an ACH debit); the other side is the bureau's settlement account. The
    transfers are written atomically with keys derived from the cycle and the account, and the
    ACH file built from them must tie out before the cycle is marked settled; the settlement is
    announced (`CYCLE_SETTLED`) in this transaction. Idempotent: a settled cycle is returned
    unchanged (and not announced again), and a retry after a failure writes nothing twice.
    """
    cycle = locked_cycle(cycle_id)
    if cycle.status == CycleStatus.SETTLED:
        return cycle
    if cycle.status != CycleStatus.CLOSED:
        raise ClearingError(
            ERR_NOT_CLOSED.format(cycle=cycle.pk, status=cycle.status), code="not_closed"
        )
    if cycle.currency != "USD":
        raise ClearingError(
            ERR_ACH_CURRENCY.format(cycle=cycle.pk, currency=cycle.currency), code="currency"
        )
    positions = cycle_settlement_positions(cycle)
    missing = [p.account.code for p in positions if not hasattr(p.account, "bank_account")]
    if missing:
        shown = ", ".join(missing[:5]) + (
            f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        )
        raise ClearingError(ERR_NO_BANK.format(codes=shown), code="no_bank_account")
    for p in positions:
        if abs(p.net_minor) > MAX_AMOUNT:
            raise ClearingError(
                ERR_TOO_LARGE.format(code=p.account.code, amount=p.net_minor), code="too_large"
            )
    settlement = settlement_account(actor=actor, currency=cycle.currency)
    specs = [
        TransferSpec(
            idempotency_key=f"clearing-{cycle.pk}-settle-{p.account_id}",
            debit_account_id=p.account_id if p.net_minor > 0 else settlement.pk,
            credit_account_id=settlement.pk if p.net_minor > 0 else p.account_id,
            amount_minor=abs(p.net_minor),
            currency=cycle.currency,
            reference=f"clearing-cycle-{cycle.pk}",
            memo="ACH settlement",
        )
        for p in positions
    ]
    written: list[Transfer] = []
    for start in range(0, len(specs), MAX_BATCH):
        written += transfers_create(actor=actor, specs=specs[start : start + MAX_BATCH])
    for position, settled in zip(positions, written, strict=True):
        position.settlement_transfer = settled
    NetPosition.objects.bulk_update(positions, ["settlement_transfer"], batch_size=2_000)
    cycle.settlement_credit_minor = sum(p.net_minor for p in positions if p.net_minor > 0)
    cycle.settlement_debit_minor = -sum(p.net_minor for p in positions if p.net_minor < 0)
    problems = cycle_tie_out(cycle, cycle_ach_bytes(cycle))
    if problems:
        raise ClearingError(
            ERR_TIE_OUT.format(cycle=cycle.pk, why="; ".join(problems[:3])), code="tie_out"
        )
    cycle.status = CycleStatus.SETTLED
    cycle.settled_at = timezone.now()
    record_history(cycle, actor=actor, reason=f"cycle settled: {len(written)} transfers")
    cycle.save()
    events.announce(events.CYCLE_SETTLED, cycle=cycle)
    return cycle


@transaction.atomic
def cycle_progress_set(*, cycle_id: int, done: int, total: int, note: str) -> None:
    """Record generation progress for the finance officer's page (the admin when it queues the
    file, the task as it builds it). Outside any lock and without a history row: progress is a
    display, not a state; the update commits at once so the page sees it while the task runs."""
    ClearingCycle.objects.filter(pk=cycle_id).update(
        progress_done=done, progress_total=total, progress_note=note[:200]
    )


# The task that builds the file (`ledger.tasks`, which imports these services), by name.
GENERATE_FILE_TASK = "ledger.tasks.generate_cycle_file"


@transaction.atomic
def cycle_file_request(*, actor: User, cycle_id: int) -> ClearingCycle:
    """Queue the building of a settled cycle's ACH file (finance officers, from the admin).

    The progress reads "queued" and the task is kept with this transaction
    (`core.services.queue`): a broker that is away delays the file and loses nothing. A cycle
    that is not settled is refused.
    """
    cycle = ClearingCycle.objects.get(pk=cycle_id)
    if cycle.status != CycleStatus.SETTLED:
        raise ClearingError(
            ERR_NOT_SETTLED.format(cycle=cycle.pk, status=cycle.status), code="not_settled"
        )
    cycle_progress_set(cycle_id=cycle.pk, done=0, total=0, note="queued")
    task_enqueue(name=GENERATE_FILE_TASK, args=[cycle.pk, actor.pk])
    return cycle


def cycle_file_generate(
    *, actor: User, cycle_id: int, progress: ProgressCallback | None = None
) -> ClearingCycle:
    """Build, check and store a settled cycle's ACH file (the task; finance officers).

    Idempotent: a cycle whose file is stored is returned unchanged. The file is built outside
    the lock (it can take a while and reads only settled, immutable rows), then stored under it.
    """
    cycle = ClearingCycle.objects.get(pk=cycle_id)
    if cycle.status != CycleStatus.SETTLED:
        raise ClearingError(
            ERR_NOT_SETTLED.format(cycle=cycle.pk, status=cycle.status), code="not_settled"
        )
    if cycle.ach_sha256:
        return cycle
    data = cycle_ach_bytes(cycle, progress)
    if progress is not None:
        progress(cycle.participant_count, cycle.participant_count, "verifying")
    problems = cycle_tie_out(cycle, data)
    if problems:
        raise ClearingError(
            ERR_TIE_OUT.format(cycle=cycle.pk, why="; ".join(problems[:3])), code="tie_out"
        )
    with transaction.atomic():
        # Lock the cycle so two generating tasks store the file once.
        cycle = locked_cycle(cycle_id)
        if cycle.ach_sha256:
            return cycle
        name = f"ach/hms-cycle-{cycle.pk}.ach"
        storage = cycle.ach_file.storage
        if storage.exists(name):  # left by an attempt that failed before its commit
            storage.delete(name)
        cycle.ach_file.save(name.removeprefix("ach/"), ContentFile(data), save=False)
        cycle.ach_sha256 = hashlib.sha256(data).hexdigest()
        record_history(cycle, actor=actor, reason="ACH file generated")
        cycle.save()
    return cycle
