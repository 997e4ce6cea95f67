"""Every change to the ledger. Each function is one transaction; callers pass the acting user.

Writers serialise on the chain head (`LedgerHead`, locked with SELECT ... FOR UPDATE), which
makes sequence numbers gapless, lets each hash cover its predecessor, and makes the idempotency
check race-free. Accounts are then locked in id order, so two writers never deadlock on them.

The write path (locks, transfers, postings, totals, head) issues its own SQL through
`connection.cursor()` instead of the ORM: building the querysets and model instances cost more
than the statements themselves (issue 7: a single transfer spent 5 ms of CPU in the ORM, a batch
of 8,000 most of its time). The statements are plain SQL that PostgreSQL and SQLite both run;
only the bulk loading branches on the vendor (COPY on PostgreSQL). Reads outside the write path
(the pending transfer being resolved, replays) still go through the ORM.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init
from django.utils import timezone
from psycopg.types.numeric import Int8Dumper

from hms_portal.audit import record_history

from .chain import chain_hash
from .models import (
    Account,
    AccountType,
    LedgerHead,
    OwnerKind,
    PostingPhase,
    PostingSide,
    Transfer,
    TransferKind,
    transfer_legs,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import User

MAX_AMOUNT_MINOR = 10**15  # 10 trillion in a two-decimal currency: past any bureau's budget

ERR_AMOUNT = "The amount must be a whole number of minor units above zero and below 10^15."
ERR_SAME_ACCOUNT = "A transfer needs two different accounts."
ERR_CURRENCY = (
    "Unbalanced transfer: {debit} is in {debit_cur}, {credit} is in {credit_cur}, "
    "the transfer in {cur}."
)
ERR_CLOSED = "Account {code} is closed."
ERR_EXCEEDS_CREDITS = "Account {code} has {available} available; the transfer needs {amount}."
ERR_EXCEEDS_DEBITS = "Account {code} may not be credited beyond its debits."
ERR_IDEMPOTENCY = "Idempotency key {key} was already used for a different transfer."
ERR_NOT_PENDING = "Transfer #{sequence} is not a pending transfer."
ERR_ALREADY_RESOLVED = "Pending transfer #{sequence} was already {how}."
ERR_POST_TOO_MUCH = "Cannot post {amount}: pending transfer #{sequence} reserved {reserved}."
ERR_UNBALANCED = "Unbalanced postings: debits {debits} and credits {credits} in {currency}."
ERR_UNKNOWN_ACCOUNT = "No such account."
ERR_EXPIRY_NOT_PENDING = "Only a pending transfer can carry an expiry."
ERR_EXPIRY_PAST = "The expiry must be in the future."
ERR_EXPIRED = "Pending transfer #{sequence} has expired: it can only be voided."
ERR_NOT_REVERSIBLE = "Transfer #{sequence} moved no posted money: nothing to reverse."
ERR_ALREADY_REVERSED = "Transfer #{sequence} was already reversed by #{by}."
ERR_BATCH_SIZE = "A batch holds at most {maximum} transfers."

MAX_BATCH = 8_000


class LedgerError(ValidationError):
    """A refused ledger operation; its message says why and nothing was written."""


def account_open(
    *,
    actor: User,
    code: str,
    name: str,
    type: str,
    currency: str,
    owner_kind: str,
    owner_ref: str = "",
    debits_must_not_exceed_credits: bool = False,
    credits_must_not_exceed_debits: bool = False,
) -> Account:
    """Open an account, or return the open one with the same code (safe to call twice)."""
    with transaction.atomic():
        existing = Account.objects.filter(code=code).first()
        if existing is not None:
            return existing
        account = Account(
            code=code,
            name=name,
            type=type,
            currency=currency,
            owner_kind=owner_kind,
            owner_ref=owner_ref,
            debits_must_not_exceed_credits=debits_must_not_exceed_credits,
            credits_must_not_exceed_debits=credits_must_not_exceed_debits,
        )
        account.full_clean()
        record_history(account, actor=actor, reason="account opened")
        account.save()
        return account


def payee_account_for(
    *, actor: User, owner_kind: str, owner_ref: str, name: str, currency: str
) -> Account:
    """The liability account the bureau owes a participant on (one per owner and currency)."""
    return account_open(
        actor=actor,
        code=f"PAYEE-{owner_kind.upper()}-{owner_ref}-{currency}",
        name=name,
        type=AccountType.LIABILITY,
        currency=currency,
        owner_kind=owner_kind,
        owner_ref=owner_ref,
    )


# --- Idempotency digests -----------------------------------------------------------------------

_encode_str = json.encoder.encode_basestring_ascii  # json.dumps' own string encoder


def _digest(payload: dict[str, object]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _spec_digest(kind: str, spec: TransferSpec) -> str:
    """`_digest` of a transfer spec's payload. For the usual types the JSON text `json.dumps`
    would produce (sorted keys, default separators) is written directly: the stored digests
    must not change, but the generic encoder costs as much as the rest of a batched item."""
    debit, credit, amount = spec.debit_account_id, spec.credit_account_id, spec.amount_minor
    expires_at, reference, memo, currency = (
        spec.expires_at,
        spec.reference,
        spec.memo,
        spec.currency,
    )
    if not (
        type(debit) is int
        and type(credit) is int
        and type(amount) is int
        and isinstance(currency, str)
        and isinstance(reference, str)
        and isinstance(memo, str)
    ):
        return _digest(
            {
                "kind": kind,
                "debit": debit,
                "credit": credit,
                "amount_minor": amount,
                "currency": currency,
                "expires_at": expires_at.isoformat() if expires_at else None,
                "reference": reference,
                "memo": memo,
            }
        )
    expires = _encode_str(expires_at.isoformat()) if expires_at else "null"
    text = (
        f'{{"amount_minor": {int.__repr__(amount)}, "credit": {int.__repr__(credit)}'
        f', "currency": {_encode_str(currency)}, "debit": {int.__repr__(debit)}'
        f', "expires_at": {expires}, "kind": {_encode_str(kind)}, "memo": {_encode_str(memo)}'
        f', "reference": {_encode_str(reference)}}}'
    )
    return hashlib.sha256(text.encode()).hexdigest()


def _check_amount(amount_minor: int) -> None:
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int):
        raise LedgerError(ERR_AMOUNT, code="invalid_amount")
    if not 0 < amount_minor < MAX_AMOUNT_MINOR:
        raise LedgerError(ERR_AMOUNT, code="invalid_amount")


# --- The write path's SQL ----------------------------------------------------------------------
# Raw SQL on purpose (see the module docstring). `bench/bench_ledger.py` issues these same
# statements with psycopg as its baseline: change them together.

# A transfer row's columns, in the model's field order (after `id`): the write path builds
# plain tuples in this order and turns them into `Transfer` instances without `__init__`.
TRANSFER_COLUMNS = (
    "sequence",
    "idempotency_key",
    "kind",
    "pending_id",
    "debit_account_id",
    "credit_account_id",
    "amount_minor",
    "currency",
    "expires_at",
    "reverses_id",
    "reference",
    "memo",
    "created_by_id",
    "created_at",
    "payload_digest",
    "prev_hash",
    "hash",
)
_ATTNAMES = ("id", *TRANSFER_COLUMNS)
if tuple(f.attname for f in Transfer._meta.concrete_fields) != _ATTNAMES:  # pragma: no cover
    raise RuntimeError("ledger.services.TRANSFER_COLUMNS no longer matches the Transfer model")
_CREATED_AT, _EXPIRES_AT, _CURRENCY = (
    TRANSFER_COLUMNS.index("created_at"),
    TRANSFER_COLUMNS.index("expires_at"),
    TRANSFER_COLUMNS.index("currency"),
)

# Only constant column lists and "%s" placeholders are ever formatted into these statements
# (hence the S608 exemptions); every value travels as a parameter.
_COLUMNS = ", ".join(TRANSFER_COLUMNS)
_PLACEHOLDERS = ", ".join(["%s"] * len(TRANSFER_COLUMNS))
INSERT_TRANSFER_SQL = (
    f"INSERT INTO ledger_transfer ({_COLUMNS}) VALUES ({_PLACEHOLDERS})"  # noqa: S608
    " ON CONFLICT (idempotency_key) DO NOTHING RETURNING id"
)
# Batches on SQLite (executemany): their keys were checked under the lock.
_INSERT_TRANSFERS_SQL = INSERT_TRANSFER_SQL.split(" ON CONFLICT")[0]
_COPY_TRANSFERS_SQL = f"COPY ledger_transfer ({_COLUMNS}) FROM STDIN"
_TRANSFER_IDS_SQL = (
    "SELECT id FROM ledger_transfer WHERE sequence BETWEEN %s AND %s ORDER BY sequence"
)
_POSTING_COLUMNS = "transfer_id, account_id, side, phase, amount_minor, currency"
_COPY_POSTINGS_SQL = f"COPY ledger_posting ({_POSTING_COLUMNS}) FROM STDIN"
KEY_SQL = "SELECT id, payload_digest FROM ledger_transfer WHERE idempotency_key = %s"
_KEYS_SQL = "SELECT idempotency_key, id, payload_digest FROM ledger_transfer WHERE idempotency_key"
HEAD_UPDATE_SQL = "UPDATE ledger_ledgerhead SET sequence = %s, hash = %s WHERE id = 1"
_ACCOUNT_COLUMNS = (
    "id, code, currency, closed, debits_must_not_exceed_credits, credits_must_not_exceed_debits,"
    " debits_pending, debits_posted, credits_pending, credits_posted"
)
_TOTALS = ("debits_pending", "debits_posted", "credits_pending", "credits_posted")
_CHUNK = 500  # ids per statement: well within SQLite's (and PostgreSQL's) parameter limits
_FEW_POSTINGS = 8  # up to this many legs go in one INSERT ... VALUES, more by COPY/executemany


def _for_update(for_update: bool) -> str:
    # SQLite has no row locks (nor the clause): its IMMEDIATE transactions serialise writers.
    return " FOR UPDATE" if for_update else ""


@functools.cache
def head_lock_sql(for_update: bool = True) -> str:
    lock = _for_update(for_update)
    return f"SELECT sequence, hash FROM ledger_ledgerhead WHERE id = 1{lock}"  # noqa: S608


@functools.cache
def accounts_lock_sql(count: int, for_update: bool = True) -> str:
    return (
        f"SELECT {_ACCOUNT_COLUMNS} FROM ledger_account WHERE id IN"  # noqa: S608
        f" ({', '.join(['%s'] * count)}) ORDER BY id{_for_update(for_update)}"
    )


@functools.cache
def postings_insert_sql(count: int) -> str:
    return f"INSERT INTO ledger_posting ({_POSTING_COLUMNS}) VALUES " + ", ".join(  # noqa: S608
        ["(%s, %s, %s, %s, %s, %s)"] * count
    )


@functools.cache
def account_totals_sql(count: int) -> str:
    """Set `count` accounts' four totals: parameters are, per total, (id, value) for each
    account, then the ids. (A CASE per column: PostgreSQL and SQLite both run it, and it plans
    in a third of the time of a join on VALUES.)"""
    cases = " ".join(["WHEN %s THEN %s"] * count)
    columns = ", ".join(f"{total} = CASE id {cases} END" for total in _TOTALS)
    placeholders = ", ".join(["%s"] * count)
    return f"UPDATE ledger_account SET {columns} WHERE id IN ({placeholders})"  # noqa: S608


def account_totals_params(ids: list[int], totals: list[list[int]]) -> list[int]:
    """The parameters of `account_totals_sql` for these accounts and their new totals."""
    pairs = list(zip(ids, totals, strict=True))
    return [v for column in range(4) for pk, t in pairs for v in (pk, t[column])] + ids


# --- Staging under the locks -------------------------------------------------------------------

_DEBIT, _CREDIT = PostingSide.DEBIT.value, PostingSide.CREDIT.value
_PENDING, _POSTED = PostingPhase.PENDING.value, PostingPhase.POSTED.value
_KIND_POSTED, _KIND_PENDING = TransferKind.POSTED.value, TransferKind.PENDING.value
# Which running total a leg moves: index into _LockedAccount.totals.
_TOTAL = {
    (_DEBIT, _PENDING): 0,
    (_DEBIT, _POSTED): 1,
    (_CREDIT, _PENDING): 2,
    (_CREDIT, _POSTED): 3,
}

_Leg = tuple[int, str, str, int]  # account id, side, phase, amount in minor units


class _LockedAccount:
    """An account row read under its lock: what the write path checks and moves."""

    __slots__ = ("closed", "code", "currency", "limit_credits", "limit_debits", "pk", "totals")

    def __init__(self, row: Sequence[Any]) -> None:
        self.pk, self.code, self.currency = row[0], row[1], row[2]
        self.closed, self.limit_debits, self.limit_credits = row[3], row[4], row[5]
        self.totals = [row[6], row[7], row[8], row[9]]  # debits/credits pending/posted


_NEVER = 2**62  # a prepare threshold no statement reaches


class _Sql:
    """One cursor for a write path's statements, on the connection of the current transaction.

    On PostgreSQL it is a psycopg cursor with server-side binding, and a single transfer's
    statements (fixed shapes, issued on every transfer) are prepared: PostgreSQL then skips
    parsing and planning them, which took as long as the rest of the transfer's server work
    (issue 7). Django leaves prepared statements off by default only for connection poolers in
    transaction mode; behind PgBouncer, 1.21 or later with `max_prepared_statements` set keeps
    them working. Whole numbers go as int8, so a statement's parameter types, and with them its
    prepared plan, do not change with the size of an amount. Batches are not prepared: their
    statements change shape with the batch. Errors come as Django's (`wrap_database_errors`).
    On other databases it is Django's own cursor.
    """

    def __init__(self, *, prepare: bool) -> None:
        # `connection` is a proxy that looks the connection up on every attribute: once here.
        self.db = db = connections[DEFAULT_DB_ALIAS]
        self.postgres = db.vendor == "postgresql"
        self.for_update = db.features.has_select_for_update
        self._prepare = prepare
        self._threshold: int | None = None
        if self.postgres:
            db.ensure_connection()
            db.validate_no_broken_transaction()
            import psycopg

            self._native = native = db.connection
            self._cursor: Any = psycopg.Cursor(native)
            self._cursor.adapters.register_dumper(int, Int8Dumper)
            self._threshold = native.prepare_threshold
            if prepare and self._threshold is None:
                # Django's default (no OPTIONS["prepare_threshold"]) switches preparing off on
                # the connection, `prepare=True` included: while the ledger writes, only the
                # statements it asks to prepare are (no threshold is ever reached).
                native.prepare_threshold = _NEVER
        else:
            self._cursor = db.cursor()

    def __enter__(self) -> _Sql:
        return self

    def __exit__(self, *exc: object) -> None:
        self._cursor.close()
        if self.postgres:
            self._native.prepare_threshold = self._threshold

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        if self.postgres:
            with self.db.wrap_database_errors:
                self._cursor.execute(sql, params, prepare=self._prepare)
        else:
            self._cursor.execute(sql, params)

    def executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        self._cursor.executemany(sql, rows)

    def copy(self, sql: str, rows: Iterable[tuple[Any, ...]]) -> None:
        """COPY ... FROM STDIN (PostgreSQL only)."""
        with self.db.wrap_database_errors, self._cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)

    def fetchone(self) -> Any:
        return self._cursor.fetchone()

    def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()


def _lock_head(cursor: _Sql) -> tuple[int, str]:
    # Every writer takes this lock first: it orders the chain and closes the idempotency race.
    cursor.execute(head_lock_sql(cursor.for_update))
    row = cursor.fetchone()
    if row is None:  # only after a test flush: migration 0003 creates the row
        head, _ = LedgerHead.objects.select_for_update().get_or_create(id=1)
        return head.sequence, head.hash
    return row[0], row[1]


def _lock_accounts(cursor: _Sql, account_ids: Iterable[object]) -> dict[int, _LockedAccount]:
    # Lock the accounts in id order so concurrent writers cannot deadlock on them. An id that
    # is not a whole number names no account (the caller refuses it as unknown).
    ids = sorted({int(i) for i in account_ids if isinstance(i, int)})
    if not ids:
        return {}
    cursor.execute(accounts_lock_sql(len(ids), cursor.for_update), ids)
    return {row[0]: _LockedAccount(row) for row in cursor.fetchall()}


@dataclass
class _Staged:
    """Transfers prepared under the head lock and written together by `_flush`."""

    actor: User
    sequence: int  # the head: last sequence number and hash, staged transfers included
    hash: str
    accounts: dict[int, _LockedAccount]
    known: dict[str, tuple[int, str]] = field(default_factory=dict)  # key -> (id, digest)
    rows: list[tuple[Any, ...]] = field(default_factory=list)  # TRANSFER_COLUMNS values
    legs: list[list[_Leg]] = field(default_factory=list)  # per staged row
    by_key: dict[str, int] = field(default_factory=dict)  # key -> index into rows


def _known_keys(cursor: _Sql, keys: Sequence[str]) -> dict[str, tuple[int, str]]:
    """(id, payload digest) of the transfers already written under any of `keys`."""
    known: dict[str, tuple[int, str]] = {}
    unique = list(dict.fromkeys(keys))
    if cursor.postgres:
        cursor.execute(f"{_KEYS_SQL} = ANY(%s)", [unique])
        known.update((key, (pk, digest)) for key, pk, digest in cursor.fetchall())
    else:
        for start in range(0, len(unique), _CHUNK):
            chunk = unique[start : start + _CHUNK]
            cursor.execute(f"{_KEYS_SQL} IN ({', '.join(['%s'] * len(chunk))})", chunk)
            known.update((key, (pk, digest)) for key, pk, digest in cursor.fetchall())
    return known


def _begin(
    cursor: _Sql, *, actor: User, keys: Sequence[str], account_ids: Iterable[object]
) -> _Staged:
    """Lock the head, fetch what was already written under `keys`, then lock the accounts (in
    id order): everything a group of writes needs, in three queries."""
    sequence, head_hash = _lock_head(cursor)
    known = _known_keys(cursor, keys) if keys else {}
    return _Staged(
        actor=actor,
        sequence=sequence,
        hash=head_hash,
        accounts=_lock_accounts(cursor, account_ids),
        known=known,
    )


def _conflict(key: str) -> LedgerError:
    return LedgerError(ERR_IDEMPOTENCY.format(key=key), code="idempotency_conflict")


def _stored_replay(cursor: _Sql, key: str, digest: str) -> Transfer | None:
    """The transfer already written under `key` (same payload), or None; a different payload
    under the key is refused."""
    cursor.execute(KEY_SQL, [key])
    row = cursor.fetchone()
    if row is None:
        return None
    if row[1] != digest:
        raise _conflict(key)
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
    index = len(staged.rows) - 1
    staged.by_key[key] = index
    return index


def _for_sqlite(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """A transfer row with its times adapted as the ORM stores them (psycopg takes datetimes)."""
    adapt = connection.ops.adapt_datetimefield_value
    values = list(row)
    values[_CREATED_AT] = adapt(values[_CREATED_AT])
    values[_EXPIRES_AT] = adapt(values[_EXPIRES_AT])
    return tuple(values)


def _flush(cursor: _Sql, staged: _Staged) -> list[int] | None:
    """Write the staged transfers, their postings, the accounts' new totals and the head: a
    fixed number of statements however many transfers were staged. Returns the new transfers'
    ids, or None (nothing written) when a lone transfer's key turned out to be taken."""
    rows = staged.rows
    if not rows:
        return []
    postgres = cursor.postgres
    if len(rows) == 1:
        cursor.execute(INSERT_TRANSFER_SQL, rows[0] if postgres else _for_sqlite(rows[0]))
        inserted = cursor.fetchone()
        if inserted is None:
            return None
        ids = [inserted[0]]
    else:
        if postgres:
            cursor.copy(_COPY_TRANSFERS_SQL, rows)
        else:
            cursor.executemany(_INSERT_TRANSFERS_SQL, [_for_sqlite(row) for row in rows])
        # The head is locked, so the sequence numbers just written are ours alone.
        cursor.execute(_TRANSFER_IDS_SQL, [rows[0][0], rows[-1][0]])
        ids = [found for (found,) in cursor.fetchall()]
    postings = [
        (transfer_id, account_id, side, phase, amount, row[_CURRENCY])
        for transfer_id, row, legs in zip(ids, rows, staged.legs, strict=True)
        for account_id, side, phase, amount in legs
    ]
    if len(postings) <= _FEW_POSTINGS:
        cursor.execute(
            postings_insert_sql(len(postings)), [v for posting in postings for v in posting]
        )
    elif postgres:
        cursor.copy(_COPY_POSTINGS_SQL, postings)
    else:
        cursor.executemany(postings_insert_sql(1), postings)
    # The accounts are locked (SELECT ... FOR UPDATE), so their in-memory totals are exact:
    # write them, in one statement for up to _CHUNK accounts.
    touched = sorted({leg[0] for legs in staged.legs for leg in legs})
    for start in range(0, len(touched), _CHUNK):
        chunk = touched[start : start + _CHUNK]
        totals = [staged.accounts[pk].totals for pk in chunk]
        cursor.execute(account_totals_sql(len(chunk)), account_totals_params(chunk, totals))
    cursor.execute(HEAD_UPDATE_SQL, [staged.sequence, staged.hash])
    return ids


def _written(cursor: _Sql, staged: _Staged, ids: list[int]) -> list[Transfer]:
    """The staged transfers as saved `Transfer` instances, built from their column values the
    way `Model.from_db` builds them but without the per-field `__init__`, which cost more than
    inserting the row in a batch. (The import-time check above keeps the columns in step; if
    anything listens to the model's init signals, the instances are made the usual way.)"""
    actor, alias = staged.actor, cursor.db.alias
    if pre_init.has_listeners(Transfer) or post_init.has_listeners(Transfer):
        made = [
            Transfer.from_db(alias, _ATTNAMES, (pk, *row))
            for pk, row in zip(ids, staged.rows, strict=True)
        ]
        for transfer in made:
            transfer._state.fields_cache["created_by"] = actor
        return made
    written = []
    new, update = Transfer.__new__, dict.update
    for pk, row in zip(ids, staged.rows, strict=True):
        transfer = new(Transfer)
        update(transfer.__dict__, zip(_ATTNAMES, (pk, *row), strict=True))
        state = transfer._state = ModelState()
        state.adding = False
        state.db = alias
        state.fields_cache["created_by"] = actor
        written.append(transfer)
    return written


@dataclass(frozen=True)
class TransferSpec:
    """One transfer asked for: what `transfer_create` takes, and one item of a batch."""

    idempotency_key: str
    debit_account_id: int
    credit_account_id: int
    amount_minor: int
    currency: str
    pending: bool = False
    expires_at: datetime | None = None
    reference: str = ""
    memo: str = ""


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


def _create_single(cursor: _Sql, actor: User, spec: TransferSpec) -> Transfer:
    """One transfer, without a separate look-up of its key: the insert skips a taken key
    (ON CONFLICT DO NOTHING under the head lock), and only then, or when the transfer is
    refused, is the key looked up, so a retry still returns the first transfer (or is refused
    as a conflict) exactly as if the key had been checked first."""
    _check_amount(spec.amount_minor)
    kind = _KIND_PENDING if spec.pending else _KIND_POSTED
    digest = _spec_digest(kind, spec)
    sequence, head_hash = _lock_head(cursor)
    staged = _Staged(
        actor=actor,
        sequence=sequence,
        hash=head_hash,
        accounts=_lock_accounts(cursor, (spec.debit_account_id, spec.credit_account_id)),
    )
    try:
        _stage_spec(staged, spec, kind, digest)
    except LedgerError:
        replay = _stored_replay(cursor, spec.idempotency_key, digest)
        if replay is not None:
            return replay
        raise
    ids = _flush(cursor, staged)
    if ids is None:
        replay = _stored_replay(cursor, spec.idempotency_key, digest)
        if replay is None:  # pragma: no cover - the conflict was on this key, under the lock
            raise RuntimeError("idempotency key taken but not found")
        return replay
    return _written(cursor, staged, ids)[0]


def _create_batch(cursor: _Sql, actor: User, specs: Sequence[TransferSpec]) -> list[Transfer]:
    staged = _begin(
        cursor,
        actor=actor,
        keys=[s.idempotency_key for s in specs],
        account_ids=[s.debit_account_id for s in specs] + [s.credit_account_id for s in specs],
    )
    known, by_key = staged.known, staged.by_key
    # Each item: the index of its staged row (>= 0), or -1 - position in `replays`.
    items: list[int] = []
    replays: list[int] = []
    digests: dict[int, str] = {}  # staged row index -> digest
    for index, spec in enumerate(specs):
        try:
            _check_amount(spec.amount_minor)
            kind = _KIND_PENDING if spec.pending else _KIND_POSTED
            digest = _spec_digest(kind, spec)
            key = spec.idempotency_key
            staged_index = by_key.get(key)
            if staged_index is not None:
                if digests[staged_index] != digest:
                    raise _conflict(key)
                items.append(staged_index)
                continue
            stored = known.get(key)
            if stored is not None:
                if stored[1] != digest:
                    raise _conflict(key)
                items.append(-1 - len(replays))
                replays.append(stored[0])
                continue
            staged_index = _stage_spec(staged, spec, kind, digest)
            digests[staged_index] = digest
            items.append(staged_index)
        except LedgerError as refused:
            raise LedgerError(
                f"Item {index}: {refused.messages[0]}", code=refused.code, params={"index": index}
            ) from None
    ids = _flush(cursor, staged)
    if ids is None:  # pragma: no cover - the keys were checked under the lock
        raise RuntimeError("idempotency key taken after it was checked")
    written = _written(cursor, staged, ids)
    first = Transfer.objects.in_bulk(replays) if replays else {}
    return [written[i] if i >= 0 else first[replays[-1 - i]] for i in items]


@transaction.atomic
def transfers_create(*, actor: User, specs: Sequence[TransferSpec]) -> list[Transfer]:
    """Write a group of transfers atomically: all of them, or (on any refusal) none.

    Each item keeps its own idempotency key: a retried batch returns the transfers it wrote the
    first time. A refusal in a batch names the item (by position) that stopped it.
    """
    if len(specs) > MAX_BATCH:
        raise LedgerError(ERR_BATCH_SIZE.format(maximum=MAX_BATCH), code="batch_too_large")
    with _Sql(prepare=len(specs) == 1) as cursor:
        if len(specs) == 1:
            return [_create_single(cursor, actor, specs[0])]
        return _create_batch(cursor, actor, specs)


def transfer_create(
    *,
    actor: User,
    idempotency_key: str,
    debit_account_id: int,
    credit_account_id: int,
    amount_minor: int,
    currency: str,
    pending: bool = False,
    expires_at: datetime | None = None,
    reference: str = "",
    memo: str = "",
) -> Transfer:
    """Move `amount_minor` from the debit to the credit account, posted now or reserved
    (`pending=True`, optionally until `expires_at`) for a later post or void. A retry under the
    same key with the same content returns the first transfer and writes nothing."""
    spec = TransferSpec(
        idempotency_key=idempotency_key,
        debit_account_id=debit_account_id,
        credit_account_id=credit_account_id,
        amount_minor=amount_minor,
        currency=currency,
        pending=pending,
        expires_at=expires_at,
        reference=reference,
        memo=memo,
    )
    return transfers_create(actor=actor, specs=[spec])[0]


def _begin_single(
    cursor: _Sql, *, actor: User, key: str, digest: str
) -> tuple[_Staged, Transfer | None]:
    """Lock the head and look up `key`: the staged group, and the first transfer written under
    the key (a replay) if there is one."""
    sequence, head_hash = _lock_head(cursor)
    staged = _Staged(actor=actor, sequence=sequence, hash=head_hash, accounts={})
    return staged, _stored_replay(cursor, key, digest)


def _finish_single(
    cursor: _Sql, staged: _Staged, pending: Transfer | None, reverses: Transfer | None
) -> Transfer:
    ids = _flush(cursor, staged)
    if ids is None:  # pragma: no cover - the key was checked under the lock
        raise RuntimeError("idempotency key taken after it was checked")
    transfer = _written(cursor, staged, ids)[0]
    if pending is not None:
        transfer.pending = pending
    if reverses is not None:
        transfer.reverses = reverses
    return transfer


def _resolve(
    cursor: _Sql,
    *,
    actor: User,
    idempotency_key: str,
    pending_id: int,
    kind: str,
    amount_minor: int | None,
    memo: str,
) -> Transfer:
    digest = _digest(
        {"kind": kind, "pending": pending_id, "amount_minor": amount_minor, "memo": memo}
    )
    staged, replay = _begin_single(cursor, actor=actor, key=idempotency_key, digest=digest)
    if replay is not None:
        return replay
    original = Transfer.objects.get(pk=pending_id)
    if original.kind != TransferKind.PENDING:
        raise LedgerError(ERR_NOT_PENDING.format(sequence=original.sequence), code="not_pending")
    done = original.resolutions.first()
    if done is not None:
        how = "posted" if done.kind == TransferKind.POST_PENDING else "voided"
        raise LedgerError(
            ERR_ALREADY_RESOLVED.format(sequence=original.sequence, how=how),
            code="pending_already_resolved",
        )
    expired = original.expires_at is not None and original.expires_at <= timezone.now()
    if kind == TransferKind.POST_PENDING and expired:
        raise LedgerError(ERR_EXPIRED.format(sequence=original.sequence), code="pending_expired")
    amount = original.amount_minor if amount_minor is None else amount_minor
    _check_amount(amount)
    if amount > original.amount_minor:
        raise LedgerError(
            ERR_POST_TOO_MUCH.format(
                amount=amount, sequence=original.sequence, reserved=original.amount_minor
            ),
            code="post_too_much",
        )
    staged.accounts = _lock_accounts(
        cursor, (original.debit_account_id, original.credit_account_id)
    )
    debit = staged.accounts[original.debit_account_id]
    credit = staged.accounts[original.credit_account_id]
    legs = transfer_legs(
        kind=kind,
        debit_id=debit.pk,
        credit_id=credit.pk,
        amount_minor=amount,
        reserved_minor=original.amount_minor,
    )
    _stage(
        staged,
        key=idempotency_key,
        digest=digest,
        kind=str(kind),
        pending=original,
        debit=debit,
        credit=credit,
        amount_minor=amount,
        currency=original.currency,
        reference=original.reference,
        memo=memo,
        legs=legs,
    )
    return _finish_single(cursor, staged, pending=original, reverses=None)


@transaction.atomic
def transfer_post_pending(
    *,
    actor: User,
    idempotency_key: str,
    pending_id: int,
    amount_minor: int | None = None,
    memo: str = "",
) -> Transfer:
    """Post a pending transfer, in full or in part, exactly once."""
    with _Sql(prepare=True) as cursor:
        return _resolve(
            cursor,
            actor=actor,
            idempotency_key=idempotency_key,
            pending_id=pending_id,
            kind=TransferKind.POST_PENDING,
            amount_minor=amount_minor,
            memo=memo,
        )


@transaction.atomic
def transfer_void_pending(
    *, actor: User, idempotency_key: str, pending_id: int, memo: str = ""
) -> Transfer:
    """Release a pending transfer's reservation, exactly once."""
    with _Sql(prepare=True) as cursor:
        return _resolve(
            cursor,
            actor=actor,
            idempotency_key=idempotency_key,
            pending_id=pending_id,
            kind=TransferKind.VOID_PENDING,
            amount_minor=None,
            memo=memo,
        )


@transaction.atomic
def transfer_reverse(
    *, actor: User, idempotency_key: str, transfer_id: int, memo: str = ""
) -> Transfer:
    """Correct a posted transfer with its mirror image (debit and credit swapped), at most once.

    The reversal is subject to the accounts' limits like any transfer: money already paid on
    from the credited account cannot be taken back past its limit.
    """
    digest = _digest({"kind": "reversal", "reverses": transfer_id, "memo": memo})
    with _Sql(prepare=True) as cursor:
        return _reverse(cursor, actor, idempotency_key, transfer_id, memo, digest)


def _reverse(
    cursor: _Sql,
    actor: User,
    idempotency_key: str,
    transfer_id: int,
    memo: str,
    digest: str,
) -> Transfer:
    staged, replay = _begin_single(cursor, actor=actor, key=idempotency_key, digest=digest)
    if replay is not None:
        return replay
    original = Transfer.objects.get(pk=transfer_id)
    if original.kind not in (TransferKind.POSTED, TransferKind.POST_PENDING):
        raise LedgerError(
            ERR_NOT_REVERSIBLE.format(sequence=original.sequence), code="not_reversible"
        )
    earlier = Transfer.objects.filter(reverses=original).first()
    if earlier is not None:
        raise LedgerError(
            ERR_ALREADY_REVERSED.format(sequence=original.sequence, by=earlier.sequence),
            code="already_reversed",
        )
    staged.accounts = _lock_accounts(
        cursor, (original.debit_account_id, original.credit_account_id)
    )
    debit = staged.accounts[original.credit_account_id]
    credit = staged.accounts[original.debit_account_id]
    amount = original.amount_minor
    _stage(
        staged,
        key=idempotency_key,
        digest=digest,
        kind=_KIND_POSTED,
        pending=None,
        debit=debit,
        credit=credit,
        amount_minor=amount,
        currency=original.currency,
        reference=original.reference,
        memo=memo or f"reversal of #{original.sequence}",
        legs=transfer_legs(
            kind=_KIND_POSTED,
            debit_id=debit.pk,
            credit_id=credit.pk,
            amount_minor=amount,
            reserved_minor=None,
        ),
        reverses=original,
    )
    return _finish_single(cursor, staged, pending=None, reverses=original)


__all__ = [
    "AccountType",
    "LedgerError",
    "OwnerKind",
    "TransferSpec",
    "account_open",
    "payee_account_for",
    "transfer_create",
    "transfer_post_pending",
    "transfer_reverse",
    "transfer_void_pending",
    "transfers_create",
]
