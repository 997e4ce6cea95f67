"""The hash chain: what each transfer's SHA-256 covers, computed one way for writer and verifier.

A transfer's hash covers its canonical content (every stored field that says what moved, by
whom and when, accounts by code and linked transfers by sequence number) and the hash of the
transfer before it, so changing, removing or reordering any transfer breaks every hash after it.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

GENESIS_HASH = "0" * 64

# What `json.dumps` itself uses for a string with the default `ensure_ascii=True` (the C
# accelerated encoder): the fast path below writes exactly the bytes `json.dumps` would.
_encode_str = json.encoder.encode_basestring_ascii


def _content_dict(
    *,
    sequence: int,
    idempotency_key: str,
    kind: str,
    pending_sequence: int | None,
    reverses_sequence: int | None,
    debit_code: str,
    credit_code: str,
    amount_minor: int,
    currency: str,
    expires_at: datetime | None,
    reference: str,
    memo: str,
    created_by_id: int,
    created_at: datetime,
    prev_hash: str,
) -> dict[str, Any]:
    return {
        "sequence": sequence,
        "idempotency_key": idempotency_key,
        "kind": kind,
        "pending": pending_sequence,
        "reverses": reverses_sequence,
        "debit": debit_code,
        "credit": credit_code,
        "amount_minor": amount_minor,
        "currency": currency,
        "expires_at": expires_at.astimezone(UTC).isoformat() if expires_at else None,
        "reference": reference,
        "memo": memo,
        "created_by": created_by_id,
        "created_at": created_at.astimezone(UTC).isoformat(),
        "prev_hash": prev_hash,
    }


def canonical_content(
    *,
    sequence: int,
    idempotency_key: str,
    kind: str,
    pending_sequence: int | None,
    reverses_sequence: int | None,
    debit_code: str,
    credit_code: str,
    amount_minor: int,
    currency: str,
    expires_at: datetime | None,
    reference: str,
    memo: str,
    created_by_id: int,
    created_at: datetime,
    prev_hash: str,
) -> bytes:
    """The bytes a transfer's hash is computed over: sorted-key compact JSON, times in UTC (the
    database hands them back in UTC whatever zone they were written in).

    Definition: `json.dumps(_content_dict(...), sort_keys=True, separators=(",", ":"))`. For the
    usual value types (ints, strings, None) the same bytes are written directly, keys already in
    sorted order: every ledger writer hashes each transfer, and the generic encoder's sorting and
    dispatch cost as much as the rest of a batched transfer's Python work.
    """
    if not (
        type(sequence) is int
        and type(amount_minor) is int
        and type(created_by_id) is int
        and (pending_sequence is None or type(pending_sequence) is int)
        and (reverses_sequence is None or type(reverses_sequence) is int)
        and isinstance(idempotency_key, str)
        and isinstance(kind, str)
        and isinstance(debit_code, str)
        and isinstance(credit_code, str)
        and isinstance(currency, str)
        and isinstance(reference, str)
        and isinstance(memo, str)
        and isinstance(prev_hash, str)
    ):
        content = _content_dict(
            sequence=sequence,
            idempotency_key=idempotency_key,
            kind=kind,
            pending_sequence=pending_sequence,
            reverses_sequence=reverses_sequence,
            debit_code=debit_code,
            credit_code=credit_code,
            amount_minor=amount_minor,
            currency=currency,
            expires_at=expires_at,
            reference=reference,
            memo=memo,
            created_by_id=created_by_id,
            created_at=created_at,
            prev_hash=prev_hash,
        )
        return json.dumps(content, sort_keys=True, separators=(",", ":")).encode()
    expires = "null" if not expires_at else _encode_str(expires_at.astimezone(UTC).isoformat())
    pending = "null" if pending_sequence is None else int.__repr__(pending_sequence)
    reverses = "null" if reverses_sequence is None else int.__repr__(reverses_sequence)
    return (
        f'{{"amount_minor":{int.__repr__(amount_minor)}'
        f',"created_at":{_encode_str(created_at.astimezone(UTC).isoformat())}'
        f',"created_by":{int.__repr__(created_by_id)}'
        f',"credit":{_encode_str(credit_code)}'
        f',"currency":{_encode_str(currency)}'
        f',"debit":{_encode_str(debit_code)}'
        f',"expires_at":{expires}'
        f',"idempotency_key":{_encode_str(idempotency_key)}'
        f',"kind":{_encode_str(kind)}'
        f',"memo":{_encode_str(memo)}'
        f',"pending":{pending}'
        f',"prev_hash":{_encode_str(prev_hash)}'
        f',"reference":{_encode_str(reference)}'
        f',"reverses":{reverses}'
        f',"sequence":{int.__repr__(sequence)}}}'
    ).encode()


def chain_hash(**fields: Any) -> str:
    """SHA-256 (hex) of `canonical_content(**fields)`."""
    return hashlib.sha256(canonical_content(**fields)).hexdigest()
