"""Clearing and settlement: cycles, multilateral netting, settlement transfers and the ACH file.

A cycle gathers the posted transfers (kinds `posted` and `post_pending`) of its currency whose
`created_at` falls in its window and that touch a participant account (owner kind civilian,
vendor or agency), except the bureau's own settlement transfers. Each transfer joins one cycle
only (`CycleMembership`'s unique constraint; closing takes what no other cycle holds). Every
account the transfers touch gets a net position, credits less debits; by double entry they sum
to zero, which closing checks. Settling writes one transfer per participant with a non-zero net
against the bureau's ACH settlement account, and the NACHA file is built from those transfers
alone: a credit entry to each participant owed money, a debit entry from each who owes. See
docs/ledger.md, "Clearing and settlement".
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.utils import timezone

from hms_portal.audit import record_history

from . import services
from .ach import (
    MAX_AMOUNT,
    AchFile,
    Batch,
    BatchHeader,
    EntryDetail,
    FileHeader,
    fit_text,
    read_ach,
    routing_number_is_valid,
    write_ach,
)
from .models import (
    ERR_ROUTING_NUMBER,
    PARTICIPANT_KINDS,
    Account,
    AccountType,
    BankAccount,
    BankAccountType,
    ClearingCycle,
    CycleMembership,
    CycleStatus,
    HolderKind,
    NetPosition,
    OwnerKind,
    Transfer,
    TransferKind,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import User

# The originating bank and company, copied into each cycle when it opens. Demo values: a
# routing number with a valid check digit and a company id in the usual "1" + EIN form.
ACH_ODFI_ROUTING: str = getattr(settings, "HMS_ACH_ODFI_ROUTING", "021000021")
ACH_DESTINATION_NAME: str = getattr(settings, "HMS_ACH_DESTINATION_NAME", "HMS SETTLEMENT BANK")
ACH_COMPANY_NAME: str = getattr(settings, "HMS_ACH_COMPANY_NAME", "HMS BUREAU")
ACH_COMPANY_ID: str = getattr(settings, "HMS_ACH_COMPANY_ID", "1234567890")

SETTLEMENT_OWNER_REF = "ach-settlement"
ENTRY_DESCRIPTION = "SETTLEMENT"
PROGRESS_EVERY = 500

ERR_WINDOW = "The window must start before it ends."
ERR_WINDOW_FUTURE = "A cycle closes only once its window has ended ({end})."
ERR_NOT_CLOSED = "Cycle {cycle} is {status}: only a closed cycle can be settled."
ERR_NOT_SETTLED = "Cycle {cycle} is {status}: only a settled cycle has an ACH file."
ERR_NOT_ZERO = "Cycle {cycle}: the net positions sum to {total}, not zero; nothing was saved."
ERR_NO_BANK = "No bank account on file for {codes}: add one before settling."
ERR_TOO_LARGE = "Account {code}'s net {amount} exceeds one ACH entry's maximum."
ERR_TIE_OUT = "Cycle {cycle}: the ACH file does not tie out to its settlement transfers: {why}."
ERR_ACH_CURRENCY = "ACH settles US dollars only; cycle {cycle} is in {currency}."

ProgressCallback = Callable[[int, int, str], None]


class ClearingError(ValidationError):
    """A refused clearing operation; nothing was written."""


# -- bank details ------------------------------------------------------------------------------


def bank_account_validate_routing(routing_number: str) -> None:
    """Refuse a routing number without 9 digits and a right ABA check digit (forms call this)."""
    if not routing_number_is_valid(routing_number):
        raise ClearingError(
            ERR_ROUTING_NUMBER.format(value=routing_number), code="routing_check_digit"
        )


@transaction.atomic
def bank_account_save(
    *,
    actor: User,
    account_id: int,
    holder_name: str,
    holder_kind: str,
    routing_number: str,
    account_number: str = "",
    account_type: str = BankAccountType.CHECKING,
    identification: str = "",
) -> BankAccount:
    """Set the bank account a participant settles to (finance officers, via the admin).

    On a change, a blank `account_number` keeps the stored one (the form never shows it).
    The routing number's check digit is verified here and in the model's `clean()`.
    """
    bank_account_validate_routing(routing_number)
    # Lock the row so two editors do not interleave their changes (last one wins, whole).
    bank = BankAccount.objects.select_for_update().filter(account_id=account_id).first()
    if bank is None:
        bank = BankAccount(account=Account.objects.get(pk=account_id))
        reason = "bank account added"
    else:
        reason = "bank account changed"
    bank.holder_name = holder_name
    bank.holder_kind = holder_kind
    bank.routing_number = routing_number
    if account_number or bank.pk is None:
        bank.account_number = account_number
    bank.account_type = account_type
    bank.identification = identification
    bank.full_clean()
    record_history(bank, actor=actor, reason=reason)
    bank.save()
    return bank


# -- cycles ------------------------------------------------------------------------------------


def settlement_account(*, actor: User, currency: str) -> Account:
    """The bureau's ACH settlement account in `currency` (opened on first use)."""
    return services.account_open(
        actor=actor,
        code=f"ACH-SETTLEMENT-{currency}",
        name=f"ACH settlement ({currency})",
        type=AccountType.LIABILITY,
        currency=currency,
        owner_kind=OwnerKind.BUREAU,
        owner_ref=SETTLEMENT_OWNER_REF,
    )


@transaction.atomic
def cycle_open(
    *, actor: User, window_start: datetime, window_end: datetime, currency: str = "USD"
) -> ClearingCycle:
    """Open a cycle over [window_start, window_end) with the configured originating bank."""
    if window_start >= window_end:
        raise ClearingError(ERR_WINDOW, code="window")
    cycle = ClearingCycle(
        window_start=window_start,
        window_end=window_end,
        currency=currency,
        odfi_routing=ACH_ODFI_ROUTING,
        destination_name=fit_text(ACH_DESTINATION_NAME, 23),
        origin_name=fit_text(getattr(settings, "HMS_BUREAU_NAME", ACH_COMPANY_NAME), 23),
        company_name=fit_text(ACH_COMPANY_NAME, 16),
        company_identification=ACH_COMPANY_ID,
        created_by=actor,
    )
    cycle.full_clean()
    record_history(cycle, actor=actor, reason="cycle opened")
    cycle.save()
    return cycle


def _lock_cycle(cycle_id: int) -> ClearingCycle:
    # Lock the cycle row for the whole transaction: two finance officers (or a retried task)
    # closing or settling the same cycle queue here, and the second sees the first's outcome.
    return ClearingCycle.objects.select_for_update().get(pk=cycle_id)


_GATHER_SQL = """
INSERT INTO {membership} (cycle_id, transfer_id)
SELECT %s, t.id
  FROM {transfer} t
  JOIN {account} d ON d.id = t.debit_account_id
  JOIN {account} c ON c.id = t.credit_account_id
 WHERE t.kind IN (%s, %s)
   AND t.currency = %s
   AND t.created_at >= %s AND t.created_at < %s
   AND (d.owner_kind IN ({kinds}) OR c.owner_kind IN ({kinds}))
   AND NOT (d.owner_kind = %s AND d.owner_ref = %s)
   AND NOT (c.owner_kind = %s AND c.owner_ref = %s)
ON CONFLICT (transfer_id) DO NOTHING
"""

_NET_SQL = """
SELECT n.account_id, a.owner_kind, SUM(n.amount)
  FROM (
        SELECT t.credit_account_id AS account_id, t.amount_minor AS amount
          FROM {membership} m JOIN {transfer} t ON t.id = m.transfer_id
         WHERE m.cycle_id = %s
        UNION ALL
        SELECT t.debit_account_id, -t.amount_minor
          FROM {membership} m JOIN {transfer} t ON t.id = m.transfer_id
         WHERE m.cycle_id = %s
       ) n
  JOIN {account} a ON a.id = n.account_id
 GROUP BY n.account_id, a.owner_kind
"""


def _sql(template: str) -> str:
    kinds = ", ".join(f"'{k.value}'" for k in PARTICIPANT_KINDS)
    return template.format(
        membership=CycleMembership._meta.db_table,
        transfer=Transfer._meta.db_table,
        account=Account._meta.db_table,
        kinds=kinds,
    )


def cycle_net_positions(cycle_id: int) -> list[tuple[int, str, int]]:
    """(account id, owner kind, net) for every account the cycle's transfers touch: one
    GROUP BY over the cycle's transfers, credits positive and debits negative."""
    with connection.cursor() as cursor:
        cursor.execute(_sql(_NET_SQL), [cycle_id, cycle_id])
        return [(int(a), str(k), int(n)) for a, k, n in cursor.fetchall()]


@transaction.atomic
def cycle_close(*, actor: User, cycle_id: int) -> ClearingCycle:
    """Gather the cycle's transfers and fix its net positions (finance officers, the task).

    Idempotent: a cycle already closed (or settled) is returned unchanged. A transfer already
    in another cycle is skipped, so overlapping windows never take a transfer twice.
    """
    cycle = _lock_cycle(cycle_id)
    if cycle.status != CycleStatus.OPEN:
        return cycle
    now = timezone.now()
    if cycle.window_end > now:
        raise ClearingError(ERR_WINDOW_FUTURE.format(end=cycle.window_end), code="window_open")
    with connection.cursor() as cursor:
        cursor.execute(
            _sql(_GATHER_SQL),
            [
                cycle.pk,
                TransferKind.POSTED.value,
                TransferKind.POST_PENDING.value,
                cycle.currency,
                cycle.window_start,
                cycle.window_end,
                OwnerKind.BUREAU.value,
                SETTLEMENT_OWNER_REF,
                OwnerKind.BUREAU.value,
                SETTLEMENT_OWNER_REF,
            ],
        )
        gathered = cursor.rowcount
    nets = cycle_net_positions(cycle.pk)
    total = sum(net for _, _, net in nets)
    if total != 0:  # cannot happen with balanced transfers; refuse rather than settle a hole
        raise ClearingError(ERR_NOT_ZERO.format(cycle=cycle.pk, total=total), code="not_zero")
    NetPosition.objects.bulk_create(
        [
            NetPosition(
                cycle=cycle,
                account_id=account_id,
                participant=kind in PARTICIPANT_KINDS,
                net_minor=net,
            )
            for account_id, kind, net in nets
        ],
        batch_size=2_000,
    )
    cycle.status = CycleStatus.CLOSED
    cycle.closed_at = now.replace(microsecond=0)
    cycle.transfer_count = gathered
    cycle.participant_count = sum(1 for _, kind, _ in nets if kind in PARTICIPANT_KINDS)
    record_history(cycle, actor=actor, reason=f"cycle closed: {gathered} transfers")
    cycle.save()
    return cycle


def _settlement_positions(cycle: ClearingCycle) -> list[NetPosition]:
    return list(
        NetPosition.objects.filter(cycle=cycle, participant=True)
        .exclude(net_minor=0)
        .select_related("account", "account__bank_account", "settlement_transfer")
        .order_by("account__code")
    )


@transaction.atomic
def cycle_settle(*, actor: User, cycle_id: int) -> ClearingCycle:
    """Write one settlement transfer per participant with a non-zero net (finance officers).

    A participant owed money is debited (the bureau pays it out, an ACH credit); one who owes is
    credited (collected by an ACH debit); the other side is the bureau's settlement account. The
    transfers are written atomically with keys derived from the cycle and the account, and the
    ACH file built from them must tie out before the cycle is marked settled. Idempotent: a
    settled cycle is returned unchanged, and a retry after a failure writes nothing twice.
    """
    cycle = _lock_cycle(cycle_id)
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
    positions = _settlement_positions(cycle)
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
        services.TransferSpec(
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
    for start in range(0, len(specs), services.MAX_BATCH):
        written += services.transfers_create(
            actor=actor, specs=specs[start : start + services.MAX_BATCH]
        )
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
    return cycle


# -- the ACH file ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Line:
    """One settlement as the file sees it, taken from the settlement transfer."""

    position: NetPosition
    transfer: Transfer
    credit: bool  # True: the bureau pays the participant (an ACH credit)


def _lines(cycle: ClearingCycle) -> list[_Line]:
    lines = []
    for p in _settlement_positions(cycle):
        transfer = p.settlement_transfer
        if transfer is None:
            continue
        lines.append(_Line(p, transfer, credit=transfer.debit_account_id == p.account_id))
    return lines


def _transaction_code(bank: BankAccount, credit: bool) -> int:
    savings = bank.account_type == BankAccountType.SAVINGS
    if credit:
        return 32 if savings else 22
    return 37 if savings else 27


def cycle_ach_bytes(cycle: ClearingCycle, progress: ProgressCallback | None = None) -> bytes:
    """The cycle's NACHA file, built from its settlement transfers only; deterministic.

    Creation date and time come from `closed_at` (UTC), the effective entry date is the next
    day, entries are ordered by account code within a PPD batch (individuals) and a CCD batch
    (organisations), and trace numbers ascend from the ODFI's. Same cycle, same bytes.
    """
    assert cycle.closed_at is not None
    closed = cycle.closed_at.astimezone(UTC)
    lines = _lines(cycle)
    total = len(lines)
    batches = []
    done = 0
    odfi = cycle.odfi_routing[:8]
    for holder_kind, sec in ((HolderKind.INDIVIDUAL, "PPD"), (HolderKind.ORGANISATION, "CCD")):
        entries = []
        for line in lines:
            bank = line.position.account.bank_account
            if bank.holder_kind != holder_kind:
                continue
            entries.append(
                EntryDetail(
                    transaction_code=_transaction_code(bank, line.credit),
                    rdfi_routing=bank.routing_number,
                    dfi_account_number=bank.account_number,
                    amount=line.transfer.amount_minor,
                    receiver_name=fit_text(bank.holder_name, 22),
                    identification_number=bank.identification or f"HMS{line.position.account_id}",
                    # Ascending across the whole file, not restarting in each batch.
                    trace_number=f"{odfi}{done + 1:07d}",
                )
            )
            done += 1
            if progress is not None and done % PROGRESS_EVERY == 0:
                progress(done, total, "building entries")
        if entries:
            batches.append(
                Batch(
                    header=BatchHeader(
                        company_name=cycle.company_name,
                        company_identification=cycle.company_identification,
                        sec_code=sec,
                        company_entry_description=ENTRY_DESCRIPTION,
                        effective_entry_date=(closed + timedelta(days=1)).date(),
                        odfi_identification=odfi,
                        company_discretionary_data=f"CYCLE {cycle.pk}",
                    ),
                    entries=entries,
                )
            )
    if progress is not None:
        progress(total, total, "writing file")
    return write_ach(
        AchFile(
            header=FileHeader(
                immediate_destination=cycle.odfi_routing,
                immediate_origin=cycle.odfi_routing,
                file_creation_date=closed.date(),
                file_creation_time=closed.time().replace(second=0, microsecond=0),
                file_id_modifier="A",
                immediate_destination_name=cycle.destination_name,
                immediate_origin_name=cycle.origin_name,
                reference_code=f"CYC{cycle.pk}"[:8],
            ),
            batches=batches,
        )
    )


def cycle_tie_out(cycle: ClearingCycle, data: bytes) -> list[str]:
    """What keeps `data` from tying out to the cycle's settlement transfers (empty: it does).

    The file must read back without a problem, its file control totals must equal the
    settlement transfers' credits and debits, and its entries must be those transfers, one
    each, with the participant's bank details.
    """
    read = read_ach(data)
    problems = [f"{e.code}: {e.message}" for e in read.errors]
    if read.control is None:
        return [*problems, "no file control"]
    lines = _lines(cycle)
    credit = sum(line.transfer.amount_minor for line in lines if line.credit)
    debit = sum(line.transfer.amount_minor for line in lines if not line.credit)
    if read.control.total_credit != credit:
        problems.append(f"file credits {read.control.total_credit}, transfers {credit}")
    if read.control.total_debit != debit:
        problems.append(f"file debits {read.control.total_debit}, transfers {debit}")
    if credit != cycle.settlement_credit_minor or debit != cycle.settlement_debit_minor:
        problems.append("transfers differ from the cycle's net positions")
    in_file = sorted(
        (e.is_credit, e.amount, e.rdfi_routing, e.dfi_account_number)
        for batch in read.batches
        for e in batch.entries
    )
    expected = sorted(
        (
            line.credit,
            line.transfer.amount_minor,
            line.position.account.bank_account.routing_number,
            line.position.account.bank_account.account_number.upper(),
        )
        for line in lines
    )
    if in_file != expected:
        problems.append("the entries are not the settlement transfers")
    return problems


def cycle_progress_set(cycle_id: int, done: int, total: int, note: str) -> None:
    """Record generation progress for the finance officer's page (outside any lock: progress is
    a display, not a state; the update commits at once so the page sees it while the task runs)."""
    ClearingCycle.objects.filter(pk=cycle_id).update(
        progress_done=done, progress_total=total, progress_note=note[:200]
    )


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
        cycle = _lock_cycle(cycle_id)
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


def cycle_file_bytes(cycle: ClearingCycle) -> bytes:
    """The stored file's bytes (checked against the stored SHA-256)."""
    with cycle.ach_file.open("rb") as handle:
        data: bytes = handle.read()
    if hashlib.sha256(data).hexdigest() != cycle.ach_sha256:
        raise ClearingError(f"Cycle {cycle.pk}: the stored ACH file does not match its SHA-256.")
    return data


# -- the demo bureau ---------------------------------------------------------------------------

_DEMO_BANKS = ["011000015", "026009593", "121000358", "111000025", "031000053", "061000104"]


def demo_cycle_settle(*, actor: User) -> ClearingCycle | None:
    """Give the demo's participants bank details, then close and settle one cycle over every
    transfer so far, with its file (for `seed_demo`). Safe to run twice: a settled cycle exists
    already, so it returns None."""
    if ClearingCycle.objects.filter(status=CycleStatus.SETTLED).exists():
        return None
    participants = Account.objects.filter(owner_kind__in=PARTICIPANT_KINDS, currency="USD")
    for n, account in enumerate(participants.select_related("bank_account").order_by("code")):
        if hasattr(account, "bank_account"):
            continue
        bank_account_save(
            actor=actor,
            account_id=account.pk,
            holder_name=account.name,
            holder_kind=(
                HolderKind.INDIVIDUAL
                if account.owner_kind == OwnerKind.CIVILIAN
                else HolderKind.ORGANISATION
            ),
            routing_number=_DEMO_BANKS[n % len(_DEMO_BANKS)],
            account_number=f"{4_000_123_000 + 7919 * (n + 1)}",
            account_type=BankAccountType.SAVINGS if n % 3 == 2 else BankAccountType.CHECKING,
        )
    end = timezone.now().replace(microsecond=0)
    cycle = cycle_open(actor=actor, window_start=datetime(2000, 1, 1, tzinfo=UTC), window_end=end)
    cycle_close(actor=actor, cycle_id=cycle.pk)
    cycle_settle(actor=actor, cycle_id=cycle.pk)
    return cycle_file_generate(actor=actor, cycle_id=cycle.pk)
