"""What a client asks for (`TransferSpec`) and the idempotency digest of a request's payload.

The digest is stored with the transfer (`payload_digest`): a retry under the same key must carry
the same payload, or it is refused. Its definition is `_digest`: SHA-256 of `json.dumps` of the
payload with sorted keys and the default separators. Stored digests must never change.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

_encode_str = json.encoder.encode_basestring_ascii  # json.dumps' own string encoder


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
