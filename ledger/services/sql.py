"""The write path's SQL: its statements, the cursor that issues them, and the locks.

Raw SQL on purpose (see the package docstring). `bench/bench_ledger.py` issues these same
statements with psycopg as its baseline: change them together.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections
from psycopg.types.numeric import Int8Dumper

from ..models import LedgerHead, PostingPhase, PostingSide, Transfer
from .errors import ERR_CHAIN_BROKEN_AT, LedgerIntegrityError

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
    raise RuntimeError("ledger.services.sql.TRANSFER_COLUMNS no longer matches the Transfer model")
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
_TRANSFER_IDS_SQL = (
    "SELECT id FROM ledger_transfer WHERE sequence BETWEEN %s AND %s ORDER BY sequence"
)
_POSTING_COLUMNS = "transfer_id, account_id, side, phase, amount_minor, currency"
KEY_SQL = "SELECT id, payload_digest FROM ledger_transfer WHERE idempotency_key = %s"
_KEYS_SQL = "SELECT idempotency_key, id, payload_digest FROM ledger_transfer WHERE idempotency_key"
# PostgreSQL: one index probe per key, whatever the table's size. (`= ANY(array)` with
# thousands of keys is planned as a sequential scan once the table has some 100,000 rows: 85 ms
# for a batch's keys at 214,000 transfers, and growing with the ledger.)
_KEYS_SQL_POSTGRES = (
    "SELECT k.key, t.id, t.payload_digest FROM unnest(%s::text[]) AS k(key)"
    " CROSS JOIN LATERAL (SELECT id, payload_digest FROM ledger_transfer"
    " WHERE idempotency_key = k.key LIMIT 1) AS t"
)
HEAD_UPDATE_SQL = "UPDATE ledger_ledgerhead SET sequence = %s, hash = %s WHERE id = 1"
_HASH_AT_SQL = "SELECT hash FROM ledger_transfer WHERE sequence = %s"
_ACCOUNT_COLUMNS = (
    "id, code, currency, closed, debits_must_not_exceed_credits, credits_must_not_exceed_debits,"
    " debits_pending, debits_posted, credits_pending, credits_posted"
)
_TOTALS = ("debits_pending", "debits_posted", "credits_pending", "credits_posted")
_CHUNK = 500  # ids per statement: well within SQLite's (and PostgreSQL's) parameter limits


def _for_update(for_update: bool) -> str:
    # SQLite has no row locks (nor the clause): its IMMEDIATE transactions serialise writers.
    return " FOR UPDATE" if for_update else ""


@functools.cache
def head_lock_sql(for_update: bool = True) -> str:
    """The head (sequence, hash) and, beside it, the stored hash of the transfer it names: a
    writer checks the two agree before it chains a new transfer to them (one index probe in
    the same statement)."""
    lock = _for_update(for_update)
    return (
        "SELECT sequence, hash, (SELECT t.hash FROM ledger_transfer t"  # noqa: S608
        " WHERE t.sequence = ledger_ledgerhead.sequence)"
        f" FROM ledger_ledgerhead WHERE id = 1{lock}"
    )


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


_DEBIT, _CREDIT = PostingSide.DEBIT.value, PostingSide.CREDIT.value
_PENDING, _POSTED = PostingPhase.PENDING.value, PostingPhase.POSTED.value

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

    @contextmanager
    def rows_into(
        self,
        table: str,
        columns: str,
        adapt: Callable[[tuple[Any, ...]], tuple[Any, ...]] | None = None,
    ) -> Iterator[Callable[[tuple[Any, ...]], None]]:
        """Insert rows into `table` as they are produced: yields the function that takes one.

        On PostgreSQL the rows stream through one `COPY ... FROM STDIN`: psycopg sends them in
        chunks as they are written, so the server parses and indexes them on its core while
        this process is still producing the next ones. An exception inside the block aborts the
        COPY (nothing of it is kept) and propagates unchanged. Elsewhere the rows are collected
        (`adapt`ed) and inserted with one executemany when the block ends.
        """
        if self.postgres:
            sql = f"COPY {table} ({columns}) FROM STDIN"
            with self.db.wrap_database_errors, self._cursor.copy(sql) as copy:
                yield copy.write_row
            return
        rows: list[tuple[Any, ...]] = []
        yield rows.append
        placeholders = ", ".join(["%s"] * (columns.count(",") + 1))
        insert = f"INSERT INTO {table} ({columns}) VALUES ({placeholders})"  # noqa: S608
        self._cursor.executemany(insert, [adapt(r) for r in rows] if adapt else rows)

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
    sequence, head_hash, stored = row
    # The chain check on the write path: a head that does not name the last transfer as it is
    # stored (changed, removed) means the chain is broken here; nothing may be chained to it.
    if sequence > 0 and stored != head_hash:
        # Under READ COMMITTED a lock that waited for another writer returns the head that
        # writer committed, but the subquery read the snapshot taken before the wait, without
        # its transfer: look again with a fresh statement before calling the chain broken.
        cursor.execute(_HASH_AT_SQL, [sequence])
        again = cursor.fetchone()
        if again is None or again[0] != head_hash:
            raise LedgerIntegrityError(ERR_CHAIN_BROKEN_AT.format(sequence=sequence))
    return sequence, head_hash


def _lock_accounts(cursor: _Sql, account_ids: Iterable[object]) -> dict[int, _LockedAccount]:
    # Lock the accounts in id order so concurrent writers cannot deadlock on them. An id that
    # is not a whole number names no account (the caller refuses it as unknown).
    ids = sorted({int(i) for i in account_ids if isinstance(i, int)})
    if not ids:
        return {}
    cursor.execute(accounts_lock_sql(len(ids), cursor.for_update), ids)
    return {row[0]: _LockedAccount(row) for row in cursor.fetchall()}


def _known_keys(cursor: _Sql, keys: Sequence[str]) -> dict[str, tuple[int, str]]:
    """(id, payload digest) of the transfers already written under any of `keys`."""
    known: dict[str, tuple[int, str]] = {}
    unique = list(dict.fromkeys(keys))
    if cursor.postgres:
        cursor.execute(_KEYS_SQL_POSTGRES, [unique])
        known.update((key, (pk, digest)) for key, pk, digest in cursor.fetchall())
    else:
        for start in range(0, len(unique), _CHUNK):
            chunk = unique[start : start + _CHUNK]
            cursor.execute(f"{_KEYS_SQL} IN ({', '.join(['%s'] * len(chunk))})", chunk)
            known.update((key, (pk, digest)) for key, pk, digest in cursor.fetchall())
    return known


def _for_sqlite(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """A transfer row with its times adapted as the ORM stores them (psycopg takes datetimes)."""
    adapt = connection.ops.adapt_datetimefield_value
    values = list(row)
    values[_CREATED_AT] = adapt(values[_CREATED_AT])
    values[_EXPIRES_AT] = adapt(values[_EXPIRES_AT])
    return tuple(values)
