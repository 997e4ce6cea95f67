"""Staging one transfer under the locks, then writing it: the path of single transfers, posts,
voids and reversals (batches take `batch.py`, which streams)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init
from django.utils import timezone

from ..chain import chain_hash
from ..models import Transfer, TransferKind, transfer_legs
from .errors import (
    ERR_CLOSED,
    ERR_CURRENCY,
    ERR_EXCEEDS_CREDITS,
    ERR_EXCEEDS_DEBITS,
    ERR_EXPIRY_NOT_PENDING,
    ERR_EXPIRY_PAST,
    ERR_SAME_ACCOUNT,
    ERR_UNBALANCED,
    ERR_UNKNOWN_ACCOUNT,
    LedgerError,
    conflict,
)
from .specs import TransferSpec
from .sql import (
    _ATTNAMES,
    _CHUNK,
    _CREDIT,
    _CURRENCY,
    _DEBIT,
    _PENDING,
    _POSTED,
    HEAD_UPDATE_SQL,
    INSERT_TRANSFER_SQL,
    KEY_SQL,
    _for_sqlite,
    _Leg,
    _LockedAccount,
    _Sql,
    account_totals_params,
    account_totals_sql,
    postings_insert_sql,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import User

_KIND_POSTED, _KIND_PENDING = TransferKind.POSTED.value, TransferKind.PENDING.value
# Which running total a leg moves: index into _LockedAccount.totals.
_TOTAL = {
    (_DEBIT, _PENDING): 0,
    (_DEBIT, _POSTED): 1,
    (_CREDIT, _PENDING): 2,
    (_CREDIT, _POSTED): 3,
}


@dataclass
class _Staged:
    """A transfer prepared under the head lock and written by `_flush`."""

    actor: User
    sequence: int  # the head: last sequence number and hash, staged transfers included
    hash: str
    accounts: dict[int, _LockedAccount]
    rows: list[tuple[Any, ...]] = field(default_factory=list)  # TRANSFER_COLUMNS values
    legs: list[list[_Leg]] = field(default_factory=list)  # per staged row


def _stored_replay(cursor: _Sql, key: str, digest: str) -> Transfer | None:
    """The transfer already written under `key` (same payload), or None; a different payload
    under the key is refused."""
    cursor.execute(KEY_SQL, [key])
    row = cursor.fetchone()
    if row is None:
        return None
    if row[1] != digest:
        raise conflict(key)
    return Transfer.objects.get(pk=row[0])


def _apply_legs(legs: list[_Leg], accounts: dict[int, _LockedAccount]) -> None:
    """Move the locked accounts' running totals in memory and enforce each account's limit on
    the new totals; `_flush` writes them."""
    deltas: dict[int, list[int]] = {}
    for account_id, side, phase, amount in legs:
        delta = deltas.get(account_id)
        if delta is None:
            delta = deltas[account_id] = [0, 0, 0, 0]
        delta[_TOTAL[side, phase]] += amount
    for account_id, delta in deltas.items():
        account = accounts[account_id]
        totals = account.totals
        available_before = totals[3] - totals[1] - totals[0]
        totals[0] += delta[0]
        totals[1] += delta[1]
        totals[2] += delta[2]
        totals[3] += delta[3]
        if account.limit_debits and totals[0] + totals[1] > totals[3]:
            raise LedgerError(
                ERR_EXCEEDS_CREDITS.format(
                    code=account.code, available=available_before, amount=delta[0] + delta[1]
                ),
                code="exceeds_credits",
            )
        if account.limit_credits and totals[2] + totals[3] > totals[1]:
            raise LedgerError(ERR_EXCEEDS_DEBITS.format(code=account.code), code="exceeds_debits")


def _stage(
    staged: _Staged,
    *,
    key: str,
    digest: str,
    kind: str,
    pending: Transfer | None,
    debit: _LockedAccount,
    credit: _LockedAccount,
    amount_minor: int,
    currency: str,
    reference: str,
    memo: str,
    legs: list[_Leg],
    expires_at: datetime | None = None,
    reverses: Transfer | None = None,
) -> int:
    """Apply the legs to the locked accounts (limits checked) and chain the new transfer to the
    head; nothing is written until `_flush`. Returns the staged row's index."""
    debits = sum(leg[3] for leg in legs if leg[1] == _DEBIT)
    credits = sum(leg[3] for leg in legs if leg[1] == _CREDIT)
    if debits != credits:
        raise LedgerError(
            ERR_UNBALANCED.format(debits=debits, credits=credits, currency=currency),
            code="unbalanced",
        )
    _apply_legs(legs, staged.accounts)
    actor_id = staged.actor.pk
    now = timezone.now()
    sequence, prev_hash = staged.sequence + 1, staged.hash
    new_hash = chain_hash(
        sequence=sequence,
        idempotency_key=key,
        kind=kind,
        pending_sequence=pending.sequence if pending else None,
        reverses_sequence=reverses.sequence if reverses else None,
        debit_code=debit.code,
        credit_code=credit.code,
        amount_minor=amount_minor,
        currency=currency,
        expires_at=expires_at,
        reference=reference,
        memo=memo,
        created_by_id=actor_id,
        created_at=now,
        prev_hash=prev_hash,
    )
    staged.rows.append(
        (
            sequence,
            key,
            kind,
            pending.pk if pending else None,
            debit.pk,
            credit.pk,
            amount_minor,
            currency,
            expires_at,
            reverses.pk if reverses else None,
            reference,
            memo,
            actor_id,
            now,
            digest,
            prev_hash,
            new_hash,
        )
    )
    staged.legs.append(legs)
    staged.sequence, staged.hash = sequence, new_hash
    return len(staged.rows) - 1


def write_totals_and_head(
    cursor: _Sql,
    accounts: dict[int, _LockedAccount],
    touched: Iterable[int],
    head: tuple[int, str],
) -> None:
    """Write the touched accounts' running totals and move the head to `head`.

    The accounts are locked (SELECT ... FOR UPDATE), so their in-memory totals are exact:
    they are written in one statement for up to _CHUNK accounts."""
    ordered = sorted(touched)
    for start in range(0, len(ordered), _CHUNK):
        chunk = ordered[start : start + _CHUNK]
        totals = [accounts[pk].totals for pk in chunk]
        cursor.execute(account_totals_sql(len(chunk)), account_totals_params(chunk, totals))
    cursor.execute(HEAD_UPDATE_SQL, list(head))


def _flush(cursor: _Sql, staged: _Staged) -> list[int] | None:
    """Write the staged transfer, its postings, the accounts' new totals and the head, in four
    statements. Returns the new transfer's id (in a list), or None (nothing written) when its
    key turned out to be taken."""
    (row,) = staged.rows
    (legs,) = staged.legs
    cursor.execute(INSERT_TRANSFER_SQL, row if cursor.postgres else _for_sqlite(row))
    inserted = cursor.fetchone()
    if inserted is None:
        return None
    transfer_id, currency = inserted[0], row[_CURRENCY]
    cursor.execute(
        postings_insert_sql(len(legs)),
        [v for leg in legs for v in (transfer_id, *leg, currency)],
    )
    touched = {leg[0] for leg in legs}
    write_totals_and_head(cursor, staged.accounts, touched, (staged.sequence, staged.hash))
    return [transfer_id]


def transfers_from_rows(
    alias: str, actor: User, ids: Sequence[int], rows: Sequence[tuple[Any, ...]]
) -> list[Transfer]:
    """Written transfers as saved `Transfer` instances, built from their column values the way
    `Model.from_db` builds them but without the per-field `__init__`, which cost more than
    inserting the row in a batch. (The import-time check in `sql.py` keeps the columns in step;
    if anything listens to the model's init signals, the instances are made the usual way.)"""
    if pre_init.has_listeners(Transfer) or post_init.has_listeners(Transfer):
        made = [
            Transfer.from_db(alias, _ATTNAMES, (pk, *row))
            for pk, row in zip(ids, rows, strict=True)
        ]
        for transfer in made:
            transfer._state.fields_cache["created_by"] = actor
        return made
    written = []
    new, update = Transfer.__new__, dict.update
    for pk, row in zip(ids, rows, strict=True):
        transfer = new(Transfer)
        update(transfer.__dict__, zip(_ATTNAMES, (pk, *row), strict=True))
        state = transfer._state = ModelState()
        state.adding = False
        state.db = alias
        state.fields_cache["created_by"] = actor
        written.append(transfer)
    return written


def _written(cursor: _Sql, staged: _Staged, ids: list[int]) -> list[Transfer]:
    """The staged transfers as saved instances (see `transfers_from_rows`)."""
    return transfers_from_rows(cursor.db.alias, staged.actor, ids, staged.rows)


def _stage_spec(staged: _Staged, spec: TransferSpec, kind: str, digest: str) -> int:
    """Check a new transfer against the locked accounts and stage it (see `_stage`)."""
    accounts = staged.accounts
    if spec.debit_account_id == spec.credit_account_id:
        raise LedgerError(ERR_SAME_ACCOUNT, code="same_account")
    debit = accounts.get(spec.debit_account_id)
    credit = accounts.get(spec.credit_account_id)
    if debit is None or credit is None:
        raise LedgerError(ERR_UNKNOWN_ACCOUNT, code="unknown_account")
    if debit.currency != spec.currency or credit.currency != spec.currency:
        raise LedgerError(
            ERR_CURRENCY.format(
                debit=debit.code,
                debit_cur=debit.currency,
                credit=credit.code,
                credit_cur=credit.currency,
                cur=spec.currency,
            ),
            code="currency_mismatch",
        )
    for account in (debit, credit):
        if account.closed:
            raise LedgerError(ERR_CLOSED.format(code=account.code), code="account_closed")
    if spec.expires_at is not None:
        if not spec.pending:
            raise LedgerError(ERR_EXPIRY_NOT_PENDING, code="expiry_not_pending")
        if spec.expires_at <= timezone.now():
            raise LedgerError(ERR_EXPIRY_PAST, code="expiry_in_past")
    amount = spec.amount_minor
    return _stage(
        staged,
        key=spec.idempotency_key,
        digest=digest,
        kind=kind,
        pending=None,
        debit=debit,
        credit=credit,
        amount_minor=amount,
        currency=spec.currency,
        reference=spec.reference,
        memo=spec.memo,
        legs=transfer_legs(
            kind=kind,
            debit_id=debit.pk,
            credit_id=credit.pk,
            amount_minor=amount,
            reserved_minor=None,
        ),
        expires_at=spec.expires_at,
    )
