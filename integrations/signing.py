"""Webhook signatures: HMAC-SHA256 over the timestamp and the exact body bytes.

    X-HMS-Signature: t=1767225600,v1=5f0c…e1

`v1` is the lowercase hex HMAC-SHA256, keyed with the subscription's secret, of
`<t>.<body>`: the decimal Unix timestamp, a full stop, and the raw request body. A receiver
recomputes it, compares in constant time, and refuses a timestamp more than `TOLERANCE` seconds
from its clock (a replayed capture). docs/api.md shows a receiver in a few lines.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-HMS-Signature"
EVENT_ID_HEADER = "X-HMS-Event-Id"
EVENT_TYPE_HEADER = "X-HMS-Event-Type"
DELIVERY_HEADER = "X-HMS-Delivery"
ATTEMPT_HEADER = "X-HMS-Delivery-Attempt"
TOLERANCE = 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of `<timestamp>.<body>` under `secret`."""
    message = str(int(timestamp)).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={int(timestamp)},v1={signature(secret, timestamp, body)}"


def verify(
    secret: str,
    header: str,
    body: bytes,
    *,
    tolerance: int = TOLERANCE,
    now: float | None = None,
) -> bool:
    """Whether `header` signs `body` with `secret` at a time within `tolerance` of `now`."""
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1" and value:
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        return False
    expected = signature(secret, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)
