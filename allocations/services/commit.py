"""Committing an approved round into the ledger: one pending ledger transfer (an obligation)
per positive grant, through the ledger's batch path, in one transaction: all or nothing. A second
commit writes nothing, and a fund whose available amount no longer covers the round (money spent
meanwhile) refuses it.

The commit announces the claims it granted (`core.events.CLAIMS_GRANTED`, to the apps that own
their subjects) and the committed round (`core.events.ROUND_COMMITTED`; the totals it committed
are `selectors.round_commitment`), inside its transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from django.db import connection, transaction
from django.utils import timezone
from simple_history.utils import bulk_update_with_history

from core import events
from ledger import services as ledger

from ..models import (
    COMMIT_ROUND_PERMISSION,
    AllocationGrant,
    AllocationRound,
    Claim,
    ClaimStatus,
    RoundState,
)
from ..selectors import fund_available_minor
from .common import require, round_locked, round_money, round_save, round_step
from .errors import RoundError

if TYPE_CHECKING:
    from django.contrib.auth.models import User

ERR_COMMIT_OVER = (
    "The fund now has {available} available; the round needs {needed}. Money was spent from "
    "the fund since the round was approved, so nothing was committed: make a new round."
)


_HISTORY_FIELDS = ("history_id", "history_date", "history_change_reason", "history_type")


def _decide_claims_sql() -> str:
    """One statement that writes the commit's decision on every claim of the round and a history
    row for each, built from the models' metadata (so it follows their fields):

    - granted: the claim takes its grant's amount and explanation and its transfer as its
      obligation (the ledger returns the transfers in the order of the specs: two arrays);
    - every other claim of the round (a zero grant, or no longer awaiting funds) leaves the
      round to wait for another, a waiting one with its grant's explanation;
    - the history rows are the updated rows themselves (`RETURNING`), with the acting user.

    Parameters: status granted, claim ids, obligation ids, round id, status awaiting funds,
    round id, round id, claim ids, then (history date, reason, user id) twice.
    """
    claims, grants = Claim._meta.db_table, AllocationGrant._meta.db_table
    history = Claim.history.model  # type: ignore[attr-defined]
    tracked = [
        f.column
        for f in history._meta.concrete_fields
        if f.name not in _HISTORY_FIELDS and f.name != "history_user"
    ]
    columns = ", ".join(tracked)
    return (
        f"WITH granted AS (UPDATE {claims} AS c SET status = %s,"  # noqa: S608
        " granted_minor = g.granted_minor, obligation_id = p.obligation_id,"
        " explanation = g.explanation"
        f" FROM unnest(%s::bigint[], %s::bigint[]) AS p(claim_id, obligation_id), {grants} AS g"
        " WHERE c.id = p.claim_id AND g.round_id = %s AND g.claim_id = p.claim_id"
        f" RETURNING c.*), released AS (UPDATE {claims} AS c SET round_id = NULL,"
        " explanation = CASE WHEN c.status = %s THEN g.explanation ELSE c.explanation END"
        f" FROM {grants} AS g WHERE g.round_id = %s AND g.claim_id = c.id AND c.round_id = %s"
        " AND NOT (c.id = ANY(%s::bigint[])) RETURNING c.*)"
        f" INSERT INTO {history._meta.db_table} ({columns}, history_date,"
        " history_change_reason, history_type, history_user_id)"
        f" SELECT {columns}, %s, %s, '~', %s FROM granted"
        f" UNION ALL SELECT {columns}, %s, %s, '~', %s FROM released"
    )


def _decide_claims(
    round_: AllocationRound,
    obligation_of: dict[int, int],
    history: tuple[datetime, str, int],
    actor: User,
) -> None:
    """What `_decide_claims_sql` does, through the ORM, for databases without data-modifying
    `WITH` (SQLite: the embedded default): the paid claims granted with their obligation, the
    round's other claims released, a history row each."""
    grants = {g.claim_id: g for g in AllocationGrant.objects.filter(round=round_)}
    changed = []
    for claim in Claim.objects.filter(pk__in=list(grants)).order_by("pk"):
        grant = grants[claim.pk]
        if claim.pk in obligation_of:
            claim.status = ClaimStatus.GRANTED
            claim.granted_minor = grant.granted_minor
            claim.obligation_id = obligation_of[claim.pk]
            claim.explanation = grant.explanation
        elif claim.round_id == round_.pk:
            if claim.status == ClaimStatus.AWAITING_FUNDS:
                claim.explanation = grant.explanation
            claim.round_id = None
        else:
            continue
        changed.append(claim)
    when, reason, _user_id = history
    bulk_update_with_history(
        changed,
        Claim,
        ["status", "granted_minor", "obligation", "explanation", "round"],
        default_user=actor,
        default_change_reason=reason,
        default_date=when,
    )


@transaction.atomic
def round_commit(*, actor: User, round_id: int) -> AllocationRound:
    """Commit an approved round: one pending ledger transfer (an obligation) per positive grant,
    from the fund to the claim's payee, in one transaction through the ledger's batch path.

    Guarantees: no commit without approval; a second commit returns the committed round and
    writes nothing; if the fund's available amount no longer covers the grants (a spend since
    approval), the commit is refused and nothing is written (the ledger's own limit check, made
    under its locks, is the final word). Claims with a zero grant, or no longer awaiting funds,
    are released to wait for another round.

    The claims are decided, and their history rows written, in one set-based statement
    (`_decide_claims_sql`): per-row ORM updates took longer than the ledger's own work on a
    100,000-grant round (see docs/performance.md).
    """
    require(actor, COMMIT_ROUND_PERMISSION, "commit")
    round_ = round_locked(round_id)
    if round_.state == RoundState.COMMITTED:
        return round_
    round_step(round_, "commit", "committed")
    fund = round_.fund
    money = round_money(round_)
    # Lock the round's claims: a concurrent cancellation of a request waits for the commit.
    claims = {
        pk: (status, payee, reference)
        for pk, status, payee, reference in Claim.objects.select_for_update(of=("self",))
        .filter(round=round_)
        .order_by("pk")
        .values_list("pk", "status", "payee_account_id", "reference")
    }
    paying = [
        (claim_id, granted)
        for claim_id, granted in round_.grants.filter(granted_minor__gt=0)
        .order_by("line")
        .values_list("claim_id", "granted_minor")
        if claim_id in claims and claims[claim_id][0] == ClaimStatus.AWAITING_FUNDS
    ]
    needed = sum(granted for _, granted in paying)
    available = fund_available_minor(fund=fund)
    if needed > available:
        raise RoundError(
            ERR_COMMIT_OVER.format(available=money(available), needed=money(needed)),
            code="exceeds_available",
        )
    specs = [
        ledger.TransferSpec(
            idempotency_key=_obligation_key(round_, claim_id),
            debit_account_id=fund.account_id,
            credit_account_id=claims[claim_id][1],
            amount_minor=granted,
            currency=round_.currency,
            pending=True,
            reference=claims[claim_id][2],
            memo=f"allocation round {round_.pk}",
        )
        for claim_id, granted in paying
    ]
    try:
        obligations: list[int] = []
        for start in range(0, len(specs), ledger.MAX_BATCH):
            written = ledger.transfers_create(
                actor=actor, specs=specs[start : start + ledger.MAX_BATCH]
            )
            obligations += [transfer.pk for transfer in written]
    except ledger.LedgerError as refused:
        if refused.code == "exceeds_credits":
            raise RoundError(
                ERR_COMMIT_OVER.format(
                    available=money(fund_available_minor(fund=fund)), needed=money(needed)
                ),
                code="exceeds_available",
            ) from None
        raise
    paid_ids = [claim_id for claim_id, _ in paying]
    history = (timezone.now(), f"committed by round {round_.pk}", actor.pk)
    if connection.vendor != "postgresql":
        _decide_claims(round_, dict(zip(paid_ids, obligations, strict=True)), history, actor)
    else:
        with connection.cursor() as cursor:
            cursor.execute(
                _decide_claims_sql(),
                [
                    ClaimStatus.GRANTED.value,
                    paid_ids,
                    obligations,
                    round_.pk,
                    ClaimStatus.AWAITING_FUNDS.value,
                    round_.pk,
                    round_.pk,
                    paid_ids,
                    *history,
                    *history,
                ],
            )
    round_.committed_at = timezone.now()
    round_save(round_, actor=actor, reason="committed")
    if paid_ids:
        events.announce(events.CLAIMS_GRANTED, claim_ids=paid_ids, actor=actor)
    events.announce(events.ROUND_COMMITTED, round=round_)
    return round_


def _obligation_key(round_: AllocationRound, claim_id: int | str) -> str:
    return f"round-{round_.pk}-claim-{claim_id}"
