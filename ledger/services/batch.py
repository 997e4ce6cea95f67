"""Batches: up to MAX_BATCH transfers written atomically, all of them or none.

The same rules as a single transfer (`staging._stage_spec`, `staging._stage`): the same checks
in the same order with the same refusals, the same payload digest, the same chain hash. What
differs is how the work is laid out, because at 8,000 transfers the per-item cost is all there
is (issue 7):

- one pass over the items does everything per item (checks, limits on the locked accounts'
  running totals, digest, chain hash) on plain tuples, with the hash content written from
  pieces computed once per batch (the creation time and actor) or per account (its code);
- each transfer row goes into `COPY ledger_transfer` as soon as it is staged, so PostgreSQL
  parses and indexes the first rows on its core while this process stages the next ones, and
  the postings stream the same way while the `Transfer` instances are built;
- a fixed number of statements per batch: lock the head, look up the keys, lock the accounts,
  two COPYs, the new ids, the account totals (one UPDATE per 500 accounts), the head.

A batch shares one creation time (it is staged at one moment and committed as one).
"""

from __future__ import annotations

import gc
import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC
from typing import TYPE_CHECKING, Any

from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init
from django.utils import timezone

from ..chain import chain_hash
from ..models import Transfer
from .announce import announce_posted
from .errors import (
    ERR_CLOSED,
    ERR_CURRENCY,
    ERR_EXCEEDS_CREDITS,
    ERR_EXCEEDS_DEBITS,
    ERR_EXPIRY_NOT_PENDING,
    ERR_EXPIRY_PAST,
    ERR_SAME_ACCOUNT,
    ERR_UNKNOWN_ACCOUNT,
    LedgerError,
    check_amount,
    check_text,
    conflict,
)
from .specs import TransferSpec, _encode_str, _spec_digest
from .sql import (
    _ATTNAMES,
    _COLUMNS,
    _CREDIT,
    _DEBIT,
    _PENDING,
    _POSTED,
    _POSTING_COLUMNS,
    _TRANSFER_IDS_SQL,
    TRANSFER_COLUMNS,
    _for_sqlite,
    _known_keys,
    _lock_accounts,
    _lock_head,
    _LockedAccount,
    _Sql,
)
from .staging import _KIND_PENDING, _KIND_POSTED, transfers_from_rows, write_totals_and_head

if TYPE_CHECKING:
    from django.contrib.auth.models import User

# Where a row (TRANSFER_COLUMNS values) holds what the postings and the replays need.
_KIND, _DEBIT_ID, _CREDIT_ID, _AMOUNT, _CURRENCY_AT, _DIGEST_AT = (
    TRANSFER_COLUMNS.index(column)
    for column in (
        "kind",
        "debit_account_id",
        "credit_account_id",
        "amount_minor",
        "currency",
        "payload_digest",
    )
)


def _refuse_spec(
    spec: TransferSpec, debit: _LockedAccount | None, credit: _LockedAccount | None
) -> None:
    """Raise the refusal `staging._stage_spec` gives for an item the fast checks stopped."""
    if spec.debit_account_id == spec.credit_account_id:
        raise LedgerError(ERR_SAME_ACCOUNT, code="same_account")
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
    raise AssertionError("no refusal applies")  # pragma: no cover


def _plain(spec: TransferSpec, key: str) -> bool:
    """Whether the fast hash content applies (`chain.canonical_content`'s own condition)."""
    return (
        type(spec.amount_minor) is int
        and type(key) is str
        and type(spec.currency) is str
        and type(spec.reference) is str
        and type(spec.memo) is str
    )


@contextmanager
def _collection_paused() -> Iterator[None]:
    """No cyclic garbage collection while a batch runs. A batch allocates some 100,000 objects
    (rows, postings, instances) that all outlive it, so a collection in between frees nothing,
    yet every 700 allocations start one, and now and then a full one walks every object of the
    process: 60 ms in a Django worker, a sixth of a batch. Reference counting still frees what
    dies; the collector resumes (and catches up) when the batch returns or fails."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def create_batch(cursor: _Sql, actor: User, specs: Sequence[TransferSpec]) -> list[Transfer]:
    """Stage and write `specs` under the head lock (see the module docstring); the transfers,
    in the order asked, replays included. Called inside the caller's transaction."""
    with _collection_paused():
        return _create_batch(cursor, actor, specs)


def _check_texts(specs: Sequence[TransferSpec]) -> None:
    """Refuse (`invalid_text`, naming the item) text that cannot be stored, before any of it
    reaches the database (the keys are looked up first). The usual batch, all ASCII without a
    NUL, is checked in one pass over its joined text; otherwise item by item."""
    try:
        joined = "".join(
            [t for s in specs for t in (s.idempotency_key, s.memo, s.reference, s.currency)]
        )
    except TypeError:  # not all text: the items' own checks refuse what is wrong
        joined = None
    if joined is not None and joined.isascii() and "\x00" not in joined:
        return
    for index, spec in enumerate(specs):
        try:
            check_text(
                idempotency_key=spec.idempotency_key,
                currency=spec.currency,
                reference=spec.reference,
                memo=spec.memo,
            )
        except LedgerError as refused:
            raise LedgerError(
                f"Item {index}: {refused.messages[0]}",
                code=refused.code,
                params={"index": index},
            ) from None


def _create_batch(cursor: _Sql, actor: User, specs: Sequence[TransferSpec]) -> list[Transfer]:
    _check_texts(specs)
    sequence, head_hash = _lock_head(cursor)
    known = _known_keys(cursor, [s.idempotency_key for s in specs])
    accounts = _lock_accounts(
        cursor, [s.debit_account_id for s in specs] + [s.credit_account_id for s in specs]
    )
    first_sequence = sequence + 1
    now = timezone.now()
    actor_id = actor.pk
    # The parts of the hash content that are the same for every item, or for every item on
    # one account (`chain.canonical_content` writes the same bytes field by field).
    plain_actor = type(actor_id) is int
    at_and_by = (
        f',"created_at":{_encode_str(now.astimezone(UTC).isoformat())}'
        f',"created_by":{int.__repr__(actor_id)},"credit":'
        if plain_actor
        else ""
    )
    coded = {pk: _encode_str(a.code) for pk, a in accounts.items()}
    encoded: dict[str, str] = {}  # short repeated strings (currency, kind, memo, reference)

    def enc(text: str) -> str:
        found = encoded.get(text)
        if found is None:
            found = encoded[text] = _encode_str(text)
        return found

    rows: list[tuple[Any, ...]] = []
    by_key: dict[str, int] = {}  # key -> index into rows
    items: list[int] = []  # per item: its row (>= 0) or -1 - its place in `replays`
    replays: list[int] = []
    touched: set[int] = set()
    sha256 = hashlib.sha256
    with cursor.rows_into("ledger_transfer", _COLUMNS, _for_sqlite) as write:
        for index, spec in enumerate(specs):
            try:
                amount = spec.amount_minor
                check_amount(amount)
                pending = bool(spec.pending)
                kind = _KIND_PENDING if pending else _KIND_POSTED
                digest = _spec_digest(kind, spec)
                key = spec.idempotency_key
                staged_index = by_key.get(key)
                if staged_index is not None:
                    if rows[staged_index][_DIGEST_AT] != digest:
                        raise conflict(key)
                    items.append(staged_index)
                    continue
                stored = known.get(key)
                if stored is not None:
                    if stored[1] != digest:
                        raise conflict(key)
                    items.append(-1 - len(replays))
                    replays.append(stored[0])
                    continue
                debit_id, credit_id = spec.debit_account_id, spec.credit_account_id
                debit, credit = accounts.get(debit_id), accounts.get(credit_id)
                currency = spec.currency
                if (
                    debit_id == credit_id
                    or debit is None
                    or credit is None
                    or debit.currency != currency
                    or credit.currency != currency
                    or debit.closed
                    or credit.closed
                ):
                    _refuse_spec(spec, debit, credit)
                assert debit is not None
                assert credit is not None
                expires_at = spec.expires_at
                if expires_at is not None:
                    if not pending:
                        raise LedgerError(ERR_EXPIRY_NOT_PENDING, code="expiry_not_pending")
                    if expires_at <= now:
                        raise LedgerError(ERR_EXPIRY_PAST, code="expiry_in_past")
                # The legs (`models.transfer_legs`): the debit account's debits and the credit
                # account's credits move by `amount`, pending or posted. Only the debit side
                # can break "debits must not exceed credits", only the credit side the reverse
                # (the limits held before: the database's check constraints say so).
                d_totals, c_totals = debit.totals, credit.totals
                if pending:
                    d_totals[0] += amount
                    c_totals[2] += amount
                else:
                    d_totals[1] += amount
                    c_totals[3] += amount
                if debit.limit_debits and d_totals[0] + d_totals[1] > d_totals[3]:
                    raise LedgerError(
                        ERR_EXCEEDS_CREDITS.format(
                            code=debit.code,
                            available=d_totals[3] - d_totals[1] - d_totals[0] + amount,
                            amount=amount,
                        ),
                        code="exceeds_credits",
                    )
                if credit.limit_credits and c_totals[2] + c_totals[3] > c_totals[1]:
                    raise LedgerError(
                        ERR_EXCEEDS_DEBITS.format(code=credit.code), code="exceeds_debits"
                    )
                sequence += 1
                reference, memo = spec.reference, spec.memo
                if plain_actor and _plain(spec, key):
                    expires = (
                        "null"
                        if not expires_at
                        else _encode_str(expires_at.astimezone(UTC).isoformat())
                    )
                    content = (
                        f'{{"amount_minor":{int.__repr__(amount)}{at_and_by}{coded[credit.pk]}'
                        f',"currency":{enc(currency)},"debit":{coded[debit.pk]}'
                        f',"expires_at":{expires},"idempotency_key":{_encode_str(key)}'
                        f',"kind":{enc(kind)},"memo":{enc(memo)},"pending":null'
                        f',"prev_hash":{_encode_str(head_hash)},"reference":{enc(reference)}'
                        f',"reverses":null,"sequence":{int.__repr__(sequence)}}}'
                    )
                    new_hash = sha256(content.encode()).hexdigest()
                else:
                    new_hash = chain_hash(
                        sequence=sequence,
                        idempotency_key=key,
                        kind=kind,
                        pending_sequence=None,
                        reverses_sequence=None,
                        debit_code=debit.code,
                        credit_code=credit.code,
                        amount_minor=amount,
                        currency=currency,
                        expires_at=expires_at,
                        reference=reference,
                        memo=memo,
                        created_by_id=actor_id,
                        created_at=now,
                        prev_hash=head_hash,
                    )
                row = (
                    sequence,
                    key,
                    kind,
                    None,
                    debit.pk,
                    credit.pk,
                    amount,
                    currency,
                    expires_at,
                    None,
                    reference,
                    memo,
                    actor_id,
                    now,
                    digest,
                    head_hash,
                    new_hash,
                )
            except LedgerError as refused:
                raise LedgerError(
                    f"Item {index}: {refused.messages[0]}",
                    code=refused.code,
                    params={"index": index},
                ) from None
            write(row)
            head_hash = new_hash
            by_key[key] = len(rows)
            items.append(len(rows))
            rows.append(row)
            touched.add(debit.pk)
            touched.add(credit.pk)
    written: list[Transfer] = []
    if rows:
        # The head is locked, so the sequence numbers just written are ours alone.
        cursor.execute(_TRANSFER_IDS_SQL, [first_sequence, sequence])
        ids = [found for (found,) in cursor.fetchall()]
        with cursor.rows_into("ledger_posting", _POSTING_COLUMNS) as write:
            for transfer_id, row in zip(ids, rows, strict=True):
                phase = _PENDING if row[_KIND] == _KIND_PENDING else _POSTED
                moved, in_currency = row[_AMOUNT], row[_CURRENCY_AT]
                write((transfer_id, row[_DEBIT_ID], _DEBIT, phase, moved, in_currency))
                write((transfer_id, row[_CREDIT_ID], _CREDIT, phase, moved, in_currency))
            # Built while PostgreSQL takes in the last postings.
            written = _instances(cursor.db.alias, actor, ids, rows)
        write_totals_and_head(cursor, accounts, touched, (sequence, head_hash))
    if written:
        announce_posted(written)
    first = Transfer.objects.in_bulk(replays) if replays else {}
    return [written[i] if i >= 0 else first[replays[-1 - i]] for i in items]


def _instances(
    alias: str, actor: User, ids: Sequence[int], rows: Sequence[tuple[Any, ...]]
) -> list[Transfer]:
    """`staging.transfers_from_rows`, with one dictionary of column values made per transfer
    (the instance takes it as its own) instead of an update per field."""
    if pre_init.has_listeners(Transfer) or post_init.has_listeners(Transfer):
        return transfers_from_rows(alias, actor, ids, rows)
    written = []
    new = Transfer.__new__
    for pk, row in zip(ids, rows, strict=True):
        transfer = new(Transfer)
        values = dict(zip(_ATTNAMES, (pk, *row), strict=True))
        state = values["_state"] = ModelState()
        state.adding = False
        state.db = alias
        state.fields_cache["created_by"] = actor
        transfer.__dict__ = values
        written.append(transfer)
    return written
