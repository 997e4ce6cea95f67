"""Handing outbox rows to whoever sends them, without touching the broker on a request.

An app writes an outbox row (an email to send, a webhook delivery) in the transaction of the
change, then calls `hand_over(kind, ids, send_now)`:
- tasks run in-process (the embedded set-up: no `REDIS_URL`, and the test suite): `send_now`
  runs once the transaction commits, in this process, as the task it enqueues runs eagerly;
- PostgreSQL with a worker: `NOTIFY hms_outbox, '<kind>:<ids>'` in the same transaction, which
  PostgreSQL delivers at commit (and drops on rollback). The worker's drainer
  (`hms_portal.outbox`) listens, sends what it is told of, and sweeps the outbox every few
  seconds for anything no worker heard (none was running, or the note was too long);
- any other database with a broker: `send_now` on commit (the broker publish of old).
A request never waits on Redis for its side effects: the NOTIFY is one statement on the
connection it already holds.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

from celery import current_app
from django.db import connection, transaction

CHANNEL = "hms_outbox"
# PostgreSQL refuses a NOTIFY payload of 8,000 bytes or more; longer hand-overs name the kind
# only and the drainer sweeps that outbox.
MAX_PAYLOAD = 7_900


def runs_in_process() -> bool:
    """Whether tasks run in this process (no broker, or tests without a worker)."""
    return bool(current_app.conf.task_always_eager)


def note(kind: str, ids: Sequence[object]) -> str:
    """The NOTIFY payload naming `ids` of outbox `kind` (the kind alone when too long)."""
    payload = f"{kind}:{json.dumps(list(ids), default=str, separators=(',', ':'))}"
    return payload if len(payload) <= MAX_PAYLOAD else kind


def parse(payload: str) -> tuple[str, list[object] | None]:
    """(kind, ids) of a payload; ids None: sweep the whole outbox of that kind."""
    kind, _, ids = payload.partition(":")
    try:
        listed = json.loads(ids) if ids else None
    except ValueError:
        listed = None
    return kind, listed if isinstance(listed, list) else None


def hand_over(kind: str, ids: Sequence[object], send_now: Callable[[], object]) -> None:
    """Have the outbox rows `ids` of `kind` sent once the current transaction commits (see the
    module's doc)."""
    if not ids:
        return
    if runs_in_process() or connection.vendor != "postgresql":
        transaction.on_commit(send_now)
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_notify(%s, %s)", [CHANNEL, note(kind, ids)])
