"""Clearing and settlement: cycles, multilateral netting, settlement transfers and the ACH file.

Closing a cycle claims a contiguous range of the gapless transfer sequence: from the first
transfer no earlier cycle of its currency claimed to the last one created before the window's
end, recorded on the cycle (`first_sequence`, `last_sequence`). The cycle's transfers are the
posted transfers (kinds `posted` and `post_pending`) of its currency in that range that touch a
participant account (owner kind civilian, vendor or agency), except the bureau's own settlement
transfers. Ranges of a currency follow each other without overlap (on PostgreSQL an exclusion
constraint says so), so each transfer belongs to one cycle by construction. Every account the
transfers touch gets a net position, credits less debits, computed from the transfers by one
set-based statement; by double entry they sum to zero, which closing checks. Settling writes one
transfer per participant with a non-zero net against the bureau's ACH settlement account, and
the NACHA file is built from those transfers alone: a credit entry to each participant owed
money, a debit entry from each who owes. See docs/ledger.md, "Clearing and settlement".
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
from django.db.models import Count, Max, Q, QuerySet, Sum
from django.utils import timezone

from core.audit import record_history
from core.locks import advisory_xact_lock

from . import conf, services
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
ERR_ALREADY_OPEN = (
    "Cycle {cycle} ({currency}) is still open until {end}: close it before opening the next one."
)

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


@transaction.atomic
def cycle_open_next(*, actor: User, currency: str = "USD") -> ClearingCycle:
    """Open the next cycle of `currency` (finance officers, from the admin): its window starts
    where the latest cycle's ended (now, for the first) and runs `HMS_LEDGER_CYCLE_HOURS` past
    now. Refused (`cycle_open`) while a cycle of the currency is still open: one running cycle
    at a time is what the participants' "position in the open cycle" shows."""
    _claim_lock(currency)  # two finance officers clicking at once queue here
    current = (
        ClearingCycle.objects.filter(currency=currency, status=CycleStatus.OPEN)
        .order_by("window_end", "pk")
        .first()
    )
    if current is not None:
        raise ClearingError(
            ERR_ALREADY_OPEN.format(
                cycle=current.pk, currency=currency, end=current.window_end.isoformat()
            ),
            code="cycle_open",
        )
    now = timezone.now()
    latest = (
        ClearingCycle.objects.filter(currency=currency).aggregate(end=Max("window_end"))["end"]
        or now
    )
    start = min(latest, now)
    end = now + timedelta(hours=conf.get("CYCLE_HOURS"))
    return cycle_open(actor=actor, window_start=start, window_end=end, currency=currency)


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


def _lock_cycle(cycle_id: int) -> ClearingCycle:
    # Lock the cycle row for the whole transaction: two finance officers (or a retried task)
    # closing or settling the same cycle queue here, and the second sees the first's outcome.
    return ClearingCycle.objects.select_for_update().get(pk=cycle_id)


# -- closing: claim a range of the sequence, net it ---------------------------------------------
#
# A cycle's transfers are the *clearing transfers* in its claimed range: posted money (kinds
# `posted`, `post_pending`) in the cycle's currency with a participant on at least one side,
# and not touching the bureau's ACH settlement account (settling a cycle writes those). Below,
# "bureau accounts" are all accounts that are not participants, the settlement accounts
# among them; the two SQL forms and `cycle_transfers` say the same thing.

# PostgreSQL: one statement. One scan of the range aggregates both sides at once (grouping
# sets: the credits per credit account, the debits per debit account), the positions are
# inserted from that, and the statement returns what closing checks and records.
_CLOSE_SQL_POSTGRES = """
WITH sides AS (
    SELECT CASE WHEN GROUPING(credit_account_id) = 0 THEN credit_account_id
                ELSE debit_account_id END AS account_id,
           CASE WHEN GROUPING(credit_account_id) = 0 THEN SUM(amount_minor)
                ELSE -SUM(amount_minor) END AS moved,
           CASE WHEN GROUPING(credit_account_id) = 0 THEN COUNT(*) ELSE 0 END AS transfers
      FROM {transfer}
     WHERE sequence BETWEEN %(first)s AND %(last)s
       AND kind IN (%(posted)s, %(post_pending)s)
       AND currency = %(currency)s
       AND NOT (debit_account_id = ANY(%(bureau)s) AND credit_account_id = ANY(%(bureau)s))
       AND debit_account_id <> ALL(%(settlement)s)
       AND credit_account_id <> ALL(%(settlement)s)
     GROUP BY GROUPING SETS ((credit_account_id), (debit_account_id))
), nets AS (
    SELECT account_id, SUM(moved) AS net, SUM(transfers) AS transfers
      FROM sides GROUP BY account_id
), stored AS (
    INSERT INTO {position} (cycle_id, account_id, participant, net_minor)
    SELECT %(cycle)s, nets.account_id, a.owner_kind IN ({kinds}), nets.net
      FROM nets JOIN {account} a ON a.id = nets.account_id
    RETURNING participant, net_minor
)
SELECT (SELECT COALESCE(SUM(transfers), 0) FROM nets),
       COALESCE(SUM(net_minor), 0),
       COUNT(*) FILTER (WHERE participant)
  FROM stored
"""

# Other databases (SQLite): the same positions, one side of the ledger after the other.
_ELIGIBLE_SQL = """
  FROM {transfer}
 WHERE sequence BETWEEN %s AND %s AND kind IN (%s, %s) AND currency = %s
   AND NOT (debit_account_id IN ({bureau}) AND credit_account_id IN ({bureau}))
   AND debit_account_id NOT IN ({settlement}) AND credit_account_id NOT IN ({settlement})
"""
_CLOSE_SQL_OTHER = """
INSERT INTO {position} (cycle_id, account_id, participant, net_minor)
SELECT %s, n.account_id, a.owner_kind IN ({kinds}), SUM(n.moved)
  FROM (SELECT credit_account_id AS account_id, amount_minor AS moved {eligible}
        UNION ALL
        SELECT debit_account_id, -amount_minor {eligible}) n
  JOIN {account} a ON a.id = n.account_id
 GROUP BY n.account_id, a.owner_kind
"""

# The last transfer created before the window's end, after the range already claimed. Only
# committed transfers are visible and every writer holds the head lock until it commits, so the
# visible transfers are always a prefix of the sequence: none can later appear in the range.
_CUT_SQL = """
SELECT sequence FROM {transfer}
 WHERE sequence > %s AND created_at < %s
 ORDER BY sequence DESC LIMIT 1
"""


def _sql(template: str, **more: str) -> str:
    kinds = ", ".join(f"'{k.value}'" for k in PARTICIPANT_KINDS)
    return template.format(
        transfer=Transfer._meta.db_table,
        account=Account._meta.db_table,
        position=NetPosition._meta.db_table,
        kinds=kinds,
        **more,
    )


def _bureau_accounts() -> tuple[list[int], list[int]]:
    """The ids of all accounts that are not participants, and of the settlement accounts."""
    bureau = Account.objects.exclude(owner_kind__in=PARTICIPANT_KINDS)
    settlement = bureau.filter(owner_kind=OwnerKind.BUREAU, owner_ref=SETTLEMENT_OWNER_REF)
    return list(bureau.values_list("pk", flat=True)), list(settlement.values_list("pk", flat=True))


def _claim_lock(currency: str) -> None:
    """Serialise the closing of cycles of one currency (till the transaction ends), so two
    closes never compute the same next range."""
    advisory_xact_lock(f"ledger.clearing.claim:{currency}")


def cycle_claim_start(currency: str) -> int:
    """The first sequence number no closed cycle of `currency` has claimed."""
    last = ClearingCycle.objects.filter(currency=currency, last_sequence__isnull=False).aggregate(
        last=Max("last_sequence")
    )["last"]
    return (last or 0) + 1


def _net_into_positions(cycle: ClearingCycle, first: int, last: int) -> tuple[int, int, int]:
    """Store the cycle's net positions from the transfers in [first, last]: (transfers netted,
    sum of the positions, participants)."""
    bureau, settlement = _bureau_accounts()
    kinds = (TransferKind.POSTED.value, TransferKind.POST_PENDING.value)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                _sql(_CLOSE_SQL_POSTGRES),
                {
                    "cycle": cycle.pk,
                    "first": first,
                    "last": last,
                    "posted": kinds[0],
                    "post_pending": kinds[1],
                    "currency": cycle.currency,
                    "bureau": bureau,
                    "settlement": settlement,
                },
            )
            transfers, total, participants = cursor.fetchone()
            return int(transfers), int(total), int(participants)
        # `IN (-1)`: no account has that id, and `IN ()` is not SQL.
        lists = {
            "bureau": ", ".join(["%s"] * len(bureau)) or "-1",
            "settlement": ", ".join(["%s"] * len(settlement)) or "-1",
        }
        eligible = _sql(_ELIGIBLE_SQL, **lists)
        params: list[int | str] = [first, last, *kinds, cycle.currency]
        params += [*bureau, *bureau, *settlement, *settlement]
        cursor.execute(_sql(_CLOSE_SQL_OTHER, eligible=eligible), [cycle.pk, *params, *params])
        cursor.execute(f"SELECT COUNT(*) {eligible}", params)
        (transfers,) = cursor.fetchone()
    stored = NetPosition.objects.filter(cycle=cycle).aggregate(
        total=Sum("net_minor", default=0), participants=Count("pk", filter=Q(participant=True))
    )
    return int(transfers), int(stored["total"]), int(stored["participants"])


@transaction.atomic
def cycle_close(*, actor: User, cycle_id: int) -> ClearingCycle:
    """Claim the cycle's range of transfers and fix its net positions (finance officers).

    The range runs from the first transfer no earlier cycle of the currency claimed to the last
    one created before the window's end; the cycle's transfers are the clearing transfers in it
    (see the comment above). Ranges of a currency follow each other, so a transfer belongs to
    exactly one cycle, none is ever skipped (one committed after the previous close, or dated
    before this window's start, falls to this cycle), and overlapping windows never take a
    transfer twice. The positions are computed from the transfers by one set-based statement.

    Idempotent: a cycle already closed (or settled) is returned unchanged.
    """
    cycle = _lock_cycle(cycle_id)
    if cycle.status != CycleStatus.OPEN:
        return cycle
    now = timezone.now()
    if cycle.window_end > now:
        raise ClearingError(ERR_WINDOW_FUTURE.format(end=cycle.window_end), code="window_open")
    _claim_lock(cycle.currency)
    first = cycle_claim_start(cycle.currency)
    with connection.cursor() as cursor:
        cursor.execute(_sql(_CUT_SQL), [first - 1, cycle.window_end])
        row = cursor.fetchone()
    gathered = participants = 0
    if row is not None:
        last = int(row[0])
        gathered, total, participants = _net_into_positions(cycle, first, last)
        if total != 0:  # cannot happen with balanced transfers; refuse rather than settle a hole
            raise ClearingError(ERR_NOT_ZERO.format(cycle=cycle.pk, total=total), code="not_zero")
        cycle.first_sequence, cycle.last_sequence = first, last
    cycle.status = CycleStatus.CLOSED
    cycle.closed_at = now.replace(microsecond=0)
    cycle.transfer_count = gathered
    cycle.participant_count = participants
    record_history(cycle, actor=actor, reason=f"cycle closed: {gathered} transfers")
    cycle.save()
    return cycle


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
