"""Clearing cycles: opening one, and closing it (claiming its range of transfers, netting it).

Closing a cycle claims a contiguous range of the gapless transfer sequence: from the first
transfer no earlier cycle of its currency claimed to the last one created before the window's
end, recorded on the cycle (`first_sequence`, `last_sequence`). The cycle's transfers are the
posted transfers (kinds `posted` and `post_pending`) of its currency in that range that touch a
participant account (owner kind civilian, vendor or agency), except the bureau's own settlement
transfers. Ranges of a currency follow each other without overlap (on PostgreSQL an exclusion
constraint says so), so each transfer belongs to one cycle by construction. Every account the
transfers touch gets a net position, credits less debits, computed from the transfers by one
set-based statement; by double entry they sum to zero, which closing checks. Settling
(`ledger.services.settlement`) pays those nets out. See docs/ledger.md, "Clearing and
settlement".
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Max, Q, Sum
from django.utils import timezone

from core.audit import record_history
from core.locks import advisory_xact_lock

from .. import conf
from ..ach import fit_text
from ..clearing_errors import (
    ERR_ALREADY_OPEN,
    ERR_NOT_ZERO,
    ERR_WINDOW,
    ERR_WINDOW_FUTURE,
    ClearingError,
)
from ..models import (
    PARTICIPANT_KINDS,
    Account,
    ClearingCycle,
    CycleStatus,
    NetPosition,
    Transfer,
    TransferKind,
)
from ..selectors import bureau_account_ids, cycle_claim_start

if TYPE_CHECKING:
    from django.contrib.auth.models import User

# The originating bank and company, copied into each cycle when it opens. Demo values: a
# routing number with a valid check digit and a company id in the usual "1" + EIN form.
ACH_ODFI_ROUTING: str = getattr(settings, "HMS_ACH_ODFI_ROUTING", "021000021")
ACH_DESTINATION_NAME: str = getattr(settings, "HMS_ACH_DESTINATION_NAME", "HMS SETTLEMENT BANK")
ACH_COMPANY_NAME: str = getattr(settings, "HMS_ACH_COMPANY_NAME", "HMS BUREAU")
ACH_COMPANY_ID: str = getattr(settings, "HMS_ACH_COMPANY_ID", "1234567890")


def locked_cycle(cycle_id: int) -> ClearingCycle:
    """The cycle, its row locked till the transaction ends."""
    # Lock the cycle row for the whole transaction: two finance officers (or a retried task)
    # closing or settling the same cycle queue here, and the second sees the first's outcome.
    return ClearingCycle.objects.select_for_update().get(pk=cycle_id)


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


def _claim_lock(currency: str) -> None:
    """Serialise the closing of cycles of one currency (till the transaction ends), so two
    closes never compute the same next range."""
    advisory_xact_lock(f"ledger.clearing.claim:{currency}")


# -- closing: claim a range of the sequence, net it ---------------------------------------------
#
# A cycle's transfers are the *clearing transfers* in its claimed range: posted money (kinds
# `posted`, `post_pending`) in the cycle's currency with a participant on at least one side,
# and not touching the bureau's ACH settlement account (settling a cycle writes those). Below,
# "bureau accounts" are all accounts that are not participants, the settlement accounts
# among them; the two SQL forms and `ledger.selectors.cycle_transfers` say the same thing.

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


def _net_into_positions(cycle: ClearingCycle, first: int, last: int) -> tuple[int, int, int]:
    """Store the cycle's net positions from the transfers in [first, last]: (transfers netted,
    sum of the positions, participants)."""
    bureau, settlement = bureau_account_ids()
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
    (see the comment on closing). Ranges of a currency follow each other, so a transfer belongs to
    exactly one cycle, none is ever skipped (one committed after the previous close, or dated
    before this window's start, falls to this cycle), and overlapping windows never take a
    transfer twice. The positions are computed from the transfers by one set-based statement.

    Idempotent: a cycle already closed (or settled) is returned unchanged.
    """
    cycle = locked_cycle(cycle_id)
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
