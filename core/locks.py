"""Named locks held until the current transaction ends (PostgreSQL advisory locks)."""

from __future__ import annotations

import hashlib

from django.db import connection


def advisory_xact_lock(name: str) -> None:
    """Wait for, then hold until the transaction ends, the lock called `name`: callers with the
    same name queue here one at a time. A no-op on SQLite, which serialises writers itself."""
    if connection.vendor != "postgresql":
        return
    digest = hashlib.sha256(name.encode()).digest()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s)", [int.from_bytes(digest[:8], "big", signed=True)]
        )
