"""Read-only queries on the ledger: accounts and transfers, clearing cycles and their positions,
and a settled cycle's NACHA file, built from its settlement transfers alone.

A cycle's transfers are the *clearing transfers* in the range of the sequence it claimed when it
closed: posted money (kinds `posted`, `post_pending`) in the cycle's currency with a participant
on at least one side, and not touching the bureau's ACH settlement account (settling a cycle
writes those). See `ledger.services.cycles` and docs/ledger.md, "Clearing and settlement".
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import Count, Max, Q, QuerySet, Sum

from .ach import (
    AchFile,
    Batch,
    BatchHeader,
    EntryDetail,
    FileHeader,
    fit_text,
    read_ach,
    write_ach,
)
from .clearing_errors import ClearingError
from .models import (
    PARTICIPANT_KINDS,
    Account,
    BankAccount,
    BankAccountType,
    ClearingCycle,
    CycleStatus,
    HolderKind,
    NetPosition,
    OwnerKind,
    Transfer,
    TransferKind,
)

SETTLEMENT_OWNER_REF = "ach-settlement"
ENTRY_DESCRIPTION = "SETTLEMENT"
PROGRESS_EVERY = 500

ProgressCallback = Callable[[int, int, str], None]


def account_get(*, account_id: int) -> Account:
    """The account with this id (it must exist)."""
    return Account.objects.get(pk=account_id)


def transfers_for_reference(*, reference: str) -> QuerySet[Transfer]:
    """Every transfer carrying `reference`, oldest first, with both accounts."""
    return Transfer.objects.filter(reference=reference).select_related(
        "debit_account", "credit_account"
    )


def accounts_owned_by(*, owner_kind: str, owner_ref: str) -> QuerySet[Account]:
    """A participant's accounts, by the owner reference the owning app gave them."""
    return Account.objects.filter(owner_kind=owner_kind, owner_ref=owner_ref).order_by("code")


def transfers_touching(*, account_ids: list[int], limit: int = 20) -> list[Transfer]:
    """The latest transfers debiting or crediting any of the accounts, newest first."""
    if not account_ids:
        return []
    return list(
        Transfer.objects.filter(
            Q(debit_account_id__in=account_ids) | Q(credit_account_id__in=account_ids)
        )
        .select_related("debit_account", "credit_account")
        .order_by("-sequence")[:limit]
    )


def open_reservations(*, account_ids: list[int], outgoing: bool = False) -> QuerySet[Transfer]:
    """Pending transfers that are neither posted nor voided yet: to the accounts (money
    reserved for their holders), or with `outgoing` from them (money the holders asked to move
    that waits for approval)."""
    side = "debit_account_id__in" if outgoing else "credit_account_id__in"
    return (
        Transfer.objects.filter(
            kind=TransferKind.PENDING, resolutions__isnull=True, **{side: account_ids}
        )
        .select_related("debit_account", "credit_account")
        .order_by("sequence")
    )


def transfer_by_key(*, idempotency_key: str) -> Transfer | None:
    """The transfer written under `idempotency_key`, with both accounts, or None."""
    return (
        Transfer.objects.select_related("debit_account", "credit_account")
        .filter(idempotency_key=idempotency_key)
        .first()
    )


def transfer_is_resolved(*, pending_id: int) -> bool:
    """Whether a pending transfer was already posted or voided."""
    return Transfer.objects.filter(pending_id=pending_id).exists()


def payee_accounts(*, currency: str, owner_kinds: list[str]) -> QuerySet[Account]:
    """Open accounts of the given owner kinds in `currency`, by name (names and codes only:
    what a payee list may show)."""
    return (
        Account.objects.filter(owner_kind__in=owner_kinds, currency=currency, closed=False)
        .only("pk", "code", "name", "currency", "owner_kind")
        .order_by("name", "code")
    )


def account_by_code(*, code: str) -> Account | None:
    return Account.objects.filter(code=code).first()


def account_find(*, account_id: int) -> Account | None:
    """The account with this id, or None."""
    return Account.objects.filter(pk=account_id).first()


def pending_expired_ids(*, now: datetime, limit: int) -> list[int]:
    """Ids of pending transfers past their expiry that were neither posted nor voided (at most
    `limit`)."""
    expired = Transfer.objects.filter(
        kind=TransferKind.PENDING, expires_at__lte=now, resolutions__isnull=True
    ).values_list("pk", flat=True)
    return list(expired[:limit])


def participant_accounts() -> QuerySet[Account]:
    """The accounts of participants (who may have bank details)."""
    return Account.objects.filter(owner_kind__in=PARTICIPANT_KINDS)


# -- clearing cycles ---------------------------------------------------------------------------


def cycle_find(*, cycle_id: int) -> ClearingCycle | None:
    """The clearing cycle with this id, or None."""
    return ClearingCycle.objects.filter(pk=cycle_id).first()


def cycles_open() -> QuerySet[ClearingCycle]:
    """The open cycles, the earliest window end first."""
    return ClearingCycle.objects.filter(status=CycleStatus.OPEN).order_by("window_end")


def cycle_claim_start(currency: str) -> int:
    """The first sequence number no closed cycle of `currency` has claimed."""
    last = ClearingCycle.objects.filter(currency=currency, last_sequence__isnull=False).aggregate(
        last=Max("last_sequence")
    )["last"]
    return (last or 0) + 1


def bureau_account_ids() -> tuple[list[int], list[int]]:
    """The ids of all accounts that are not participants, and of the settlement accounts."""
    bureau = Account.objects.exclude(owner_kind__in=PARTICIPANT_KINDS)
    settlement = bureau.filter(owner_kind=OwnerKind.BUREAU, owner_ref=SETTLEMENT_OWNER_REF)
    return list(bureau.values_list("pk", flat=True)), list(settlement.values_list("pk", flat=True))


@dataclass(frozen=True)
class OpenPosition:
    """An account's running net in the open cycle of its currency: credits less debits of the
    clearing transfers since the last closed range (positive: the bureau owes the owner)."""

    cycle: ClearingCycle
    account_id: int
    net_minor: int
    transfer_count: int

    @property
    def size_minor(self) -> int:
        """The net without its sign (what is owed, whichever way)."""
        return abs(self.net_minor)


def cycle_open_positions(*, account_ids: list[int]) -> dict[int, OpenPosition]:
    """Each account's running position in the open cycle of its currency (the one that closes
    first), by account id; accounts whose currency has no open cycle are left out. What closing
    the cycle now would net for them: the clearing transfers after the range already claimed
    and before the window's end. Three queries, plus two per currency with an open cycle."""
    if not account_ids:
        return {}
    accounts = dict(Account.objects.filter(pk__in=account_ids).values_list("pk", "currency"))
    cycles: dict[str, ClearingCycle] = {}
    for cycle in ClearingCycle.objects.filter(
        status=CycleStatus.OPEN, currency__in=set(accounts.values())
    ).order_by("-window_end", "-pk"):
        cycles[cycle.currency] = cycle  # the last assigned closes first
    if not cycles:
        return {}
    settlement = list(
        Account.objects.filter(
            owner_kind=OwnerKind.BUREAU, owner_ref=SETTLEMENT_OWNER_REF
        ).values_list("pk", flat=True)
    )
    positions: dict[int, OpenPosition] = {}
    for currency, cycle in cycles.items():
        ids = [pk for pk, cur in accounts.items() if cur == currency]
        rows = (
            Transfer.objects.filter(
                sequence__gte=cycle_claim_start(currency),
                created_at__lt=cycle.window_end,
                kind__in=(TransferKind.POSTED, TransferKind.POST_PENDING),
                currency=currency,
            )
            .filter(Q(debit_account_id__in=ids) | Q(credit_account_id__in=ids))
            .exclude(debit_account_id__in=settlement)
            .exclude(credit_account_id__in=settlement)
            .values_list("debit_account_id", "credit_account_id")
            .annotate(total=Sum("amount_minor"), count=Count("pk"))
            .order_by()
        )
        nets = dict.fromkeys(ids, 0)
        counts = dict.fromkeys(ids, 0)
        for debit_id, credit_id, total, count in rows:
            if credit_id in nets:
                nets[credit_id] += int(total)
                counts[credit_id] += count
            if debit_id in nets:
                nets[debit_id] -= int(total)
                counts[debit_id] += count
        for pk in ids:
            positions[pk] = OpenPosition(
                cycle=cycle, account_id=pk, net_minor=nets[pk], transfer_count=counts[pk]
            )
    return positions


def cycle_transfers(cycle: ClearingCycle) -> QuerySet[Transfer]:
    """The transfers a closed cycle netted (none for an open cycle), oldest first. For a cycle
    closed before ranges existed (migration 0011 gave it one), the clearing transfers of its
    range, which may include some another overlapping window netted then."""
    if cycle.first_sequence is None or cycle.last_sequence is None:
        return Transfer.objects.none()
    return (
        Transfer.objects.filter(
            sequence__range=(cycle.first_sequence, cycle.last_sequence),
            kind__in=(TransferKind.POSTED, TransferKind.POST_PENDING),
            currency=cycle.currency,
        )
        .filter(
            Q(debit_account__owner_kind__in=PARTICIPANT_KINDS)
            | Q(credit_account__owner_kind__in=PARTICIPANT_KINDS)
        )
        .exclude(
            debit_account__owner_kind=OwnerKind.BUREAU,
            debit_account__owner_ref=SETTLEMENT_OWNER_REF,
        )
        .exclude(
            credit_account__owner_kind=OwnerKind.BUREAU,
            credit_account__owner_ref=SETTLEMENT_OWNER_REF,
        )
        .order_by("sequence")
    )


def cycle_settlement_positions(cycle: ClearingCycle) -> list[NetPosition]:
    """The participants' non-zero net positions of a cycle, by account code, with the bank
    details and the settlement transfer (what settling writes and the file is built from)."""
    return list(
        NetPosition.objects.filter(cycle=cycle, participant=True)
        .exclude(net_minor=0)
        .select_related("account", "account__bank_account", "settlement_transfer")
        .order_by("account__code")
    )


# -- the ACH file ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Line:
    """One settlement as the file sees it, taken from the settlement transfer."""

    position: NetPosition
    transfer: Transfer
    credit: bool  # True: the bureau pays the participant (an ACH credit)


def _lines(cycle: ClearingCycle) -> list[_Line]:
    lines = []
    for p in cycle_settlement_positions(cycle):
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


def cycle_file_bytes(cycle: ClearingCycle) -> bytes:
    """The stored file's bytes (checked against the stored SHA-256)."""
    with cycle.ach_file.open("rb") as handle:
        data: bytes = handle.read()
    if hashlib.sha256(data).hexdigest() != cycle.ach_sha256:
        raise ClearingError(f"Cycle {cycle.pk}: the stored ACH file does not match its SHA-256.")
    return data
