"""Listeners told of posted transfers.

The ledger writes transfers with raw SQL, so no model signal fires for them. An app that must
react to money moving (integrations emits the `transfer.posted` webhook) registers a callback
here, typically when its `AppConfig.ready()` imports its receivers; the ledger knows nothing of
who listens.

A callback gets the transfers that moved posted money in the write that just ran (kinds
`posted` and `post_pending`: single transfers, batches, posts of pending transfers and
reversals; a replayed idempotent request wrote nothing and calls no one). It runs inside the
writer's transaction, after the rows are written: whatever it writes (an outbox row) commits or
rolls back with the transfers, so a committed transfer is announced exactly once and a
rolled-back one never. A callback that raises refuses the write.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .models import Transfer, TransferKind

TransfersCallback = Callable[[Sequence[Transfer]], None]

POSTING_KINDS = frozenset({TransferKind.POSTED.value, TransferKind.POST_PENDING.value})

_listeners: list[TransfersCallback] = []


def on_transfers_posted(callback: TransfersCallback) -> TransfersCallback:
    """Register `callback` (once: registering it again does nothing). Returns it, so it can
    decorate a function."""
    if callback not in _listeners:
        _listeners.append(callback)
    return callback


def remove_listener(callback: TransfersCallback) -> None:
    """Unregister `callback` (tests)."""
    if callback in _listeners:
        _listeners.remove(callback)


def transfers_posted(transfers: Sequence[Transfer]) -> None:
    """Tell every listener of the posted transfers among `transfers` (called by the write
    paths inside their transaction with the transfers they just wrote)."""
    if not _listeners:
        return
    posted = [t for t in transfers if str(t.kind) in POSTING_KINDS]
    if not posted:
        return
    for callback in list(_listeners):
        callback(posted)
