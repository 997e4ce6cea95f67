"""The transfer services: create (one or a batch), post or void a reservation, reverse."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from ..models import Transfer, TransferKind, transfer_legs
from .announce import announce_posted
from .batch import create_batch
from .errors import (
    ERR_ALREADY_RESOLVED,
    ERR_ALREADY_REVERSED,
    ERR_BATCH_SIZE,
    ERR_EXPIRED,
    ERR_NOT_PENDING,
    ERR_NOT_REVERSIBLE,
    ERR_POST_TOO_MUCH,
    MAX_BATCH,
    LedgerError,
    check_amount,
    check_text,
)
from .specs import TransferSpec, _digest, _spec_digest
from .sql import _lock_accounts, _lock_head, _Sql
from .staging import (
    _KIND_PENDING,
    _KIND_POSTED,
    _flush,
    _stage,
    _stage_spec,
    _Staged,
    _stored_replay,
    _written,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def _create_single(
    cursor: _Sql, actor: User, spec: TransferSpec, *, debit_within_credits: bool = False
) -> Transfer:
    """One transfer, without a separate look-up of its key: the insert skips a taken key
    (ON CONFLICT DO NOTHING under the head lock), and only then, or when the transfer is
    refused, is the key looked up, so a retry still returns the first transfer (or is refused
    as a conflict) exactly as if the key had been checked first. With `debit_within_credits`
    the debit account is held to "debits must not exceed credits" for this transfer, whatever
    its own flag (the same check and refusal, under the same locks)."""
    check_amount(spec.amount_minor)
    check_text(
        idempotency_key=spec.idempotency_key,
        currency=spec.currency,
        reference=spec.reference,
        memo=spec.memo,
    )
    kind = _KIND_PENDING if spec.pending else _KIND_POSTED
    digest = _spec_digest(kind, spec)
    sequence, head_hash = _lock_head(cursor)
    staged = _Staged(
        actor=actor,
        sequence=sequence,
        hash=head_hash,
        accounts=_lock_accounts(cursor, (spec.debit_account_id, spec.credit_account_id)),
    )
    if debit_within_credits:
        debit = staged.accounts.get(spec.debit_account_id)
        if debit is not None:
            debit.limit_debits = True  # this transaction's copy of the row, not the account
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
    transfer = _written(cursor, staged, ids)[0]
    announce_posted([transfer])
    return transfer


@transaction.atomic
def transfers_create(*, actor: User, specs: Sequence[TransferSpec]) -> list[Transfer]:
    """Write a group of transfers atomically: all of them, or (on any refusal) none.

    Each item keeps its own idempotency key: a retried batch returns the transfers it wrote the
    first time. A refusal in a batch names the item (by position) that stopped it. Text that
    cannot be stored (a lone surrogate, a NUL) is refused as `invalid_text`. The transfers that
    moved posted money are announced (`TRANSFERS_POSTED`) inside this transaction.
    """
    if len(specs) > MAX_BATCH:
        raise LedgerError(ERR_BATCH_SIZE.format(maximum=MAX_BATCH), code="batch_too_large")
    with _Sql(prepare=len(specs) == 1) as cursor:
        if len(specs) == 1:
            return [_create_single(cursor, actor, specs[0])]
        return create_batch(cursor, actor, specs)


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
    debit_within_credits: bool = False,
) -> Transfer:
    """Move `amount_minor` from the debit to the credit account, posted now or reserved
    (`pending=True`, optionally until `expires_at`) for a later post or void. A retry under the
    same key with the same content returns the first transfer and writes nothing.

    `debit_within_credits`: refuse (`exceeds_credits`) unless the debit account's posted
    credits cover its debits, pending ones included, after this transfer, even if the account
    carries no such limit (a participant spending from a payee account, whose balance the
    clearing cycles may otherwise take below zero)."""
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
    if debit_within_credits:
        with transaction.atomic(), _Sql(prepare=True) as cursor:
            return _create_single(cursor, actor, spec, debit_within_credits=True)
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
    announce_posted([transfer])
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
    check_text(idempotency_key=idempotency_key, memo=memo)
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
    check_amount(amount)
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
    check_text(idempotency_key=idempotency_key, memo=memo)
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
