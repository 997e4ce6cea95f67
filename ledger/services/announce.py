"""Telling other apps that posted money moved: the `core.events.TRANSFERS_POSTED` fact.

The ledger writes transfers with raw SQL, so no model signal fires for them. Every write path
(single transfers, batches, posts of pending transfers, reversals) calls `announce_posted`
inside its transaction with the transfers it just wrote; a replayed idempotent request wrote
nothing and announces nothing. The fact carries only the transfers that moved posted money
(kinds `posted` and `post_pending`). Its handlers run in the writer's transaction, after the
rows are written: what they write (an outbox row) commits or rolls back with the transfers, so
a committed transfer is announced exactly once and a rolled-back one never, and a handler that
raises refuses the write.
"""

from __future__ import annotations

from collections.abc import Sequence

from core import events

from ..models import Transfer, TransferKind

POSTING_KINDS = frozenset({TransferKind.POSTED.value, TransferKind.POST_PENDING.value})


def announce_posted(transfers: Sequence[Transfer]) -> None:
    """Announce the posted transfers among `transfers` (nothing when none is, or when nobody
    listens: the list is not even built then)."""
    if not events.subscribed(events.TRANSFERS_POSTED):
        return
    posted = [t for t in transfers if str(t.kind) in POSTING_KINDS]
    if not posted:
        return
    events.announce(events.TRANSFERS_POSTED, transfers=posted)
