"""How allocations tells the apps above it that claims were granted, without importing them.

An app that owns the subjects behind claims (service requests, for one) registers a handler in
its `AppConfig.ready()`; committing a round calls every handler with the ids of the claims it
granted, inside the commit's transaction (a handler that raises undoes the commit), with the
acting user. Handlers must be idempotent: a claim is reported once per commit, and a commit
happens once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.contrib.auth.models import User

# handler(*, claim_ids: list[int], actor: User); whatever it returns is ignored.
ClaimsGranted = Callable[..., object]

_claims_granted: list[ClaimsGranted] = []


def on_claims_granted(handler: ClaimsGranted) -> None:
    """Register `handler(claim_ids=..., actor=...)` (registering the same one twice is a no-op)."""
    if handler not in _claims_granted:
        _claims_granted.append(handler)


def claims_granted(*, claim_ids: list[int], actor: User) -> None:
    if not claim_ids:
        return
    for handler in list(_claims_granted):
        handler(claim_ids=claim_ids, actor=actor)
