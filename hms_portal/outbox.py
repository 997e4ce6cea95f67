"""The worker's outbox drainer: sends what the requests left in the outboxes, so that no request
publishes to the broker (`core.outbox`).

A thread of every Celery worker process on PostgreSQL `LISTEN`s on `core.outbox.CHANNEL`. A
note names the rows a transaction committed; the drainer sends those at once. Every
`HMS_OUTBOX_SWEEP_SECONDS` (5 s) it also sweeps each outbox whole, for what no worker heard (it
was not running, or the note named no ids): civilians' emails and links are sent from here
directly, so they go out while the broker is down; webhook deliveries and queued tasks (staff
emails, long admin jobs: `core.services.queue`) are published to Celery (their own retries,
leases and backoff run there), and wait in the outbox while it is down.

Several workers may drain at once: each email's row is locked while it is sent and skipped by a
sender that finds it locked. Emails are sent at least once (`service_requests.services.
notifications`); a worker killed between the send and the commit sends that one again, with
the same `Message-ID`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from celery import bootsteps
from django.conf import settings

from core.outbox import CHANNEL, parse

logger = logging.getLogger(__name__)

BATCH = 500


def _event_emails(ids: list[Any] | None) -> int:
    from service_requests import selectors, services

    def send(pk: Any) -> str:
        return services.event_email_send(actor=None, event_id=int(pk))

    return _send_each(ids, selectors.events_awaiting_email, send)


def _draft_links(ids: list[Any] | None) -> int:
    from service_requests import selectors, services

    def send(pk: Any) -> str:
        return services.draft_verification_send(actor=None, draft_id=str(pk))

    return _send_each(ids, selectors.drafts_awaiting_link, send)


def _send_each(
    ids: list[Any] | None,
    pending: Callable[..., list[Any]],
    send: Callable[[Any], str],
) -> int:
    """Send the rows `ids` (None: the outbox's pending rows, oldest first) one by one; a
    failure (the mail server away) leaves its row pending for the next sweep."""
    from django.utils import timezone

    if ids is None:
        ids = pending(before=timezone.now(), limit=BATCH)
    sent = 0
    for pk in ids:
        try:
            sent += int(send(pk) == "sent")
        except Exception:
            logger.warning("Outbox: a send failed; the row stays pending", exc_info=True)
    return sent


def _breach_emails(ids: list[Any] | None) -> int:
    from oversight import selectors, services

    def send(pk: Any) -> str:
        return services.breach_email_send(actor=None, breach_id=int(pk))

    return _send_each(ids, selectors.breaches_awaiting_email, send)


def _webhooks(ids: list[Any] | None) -> int:
    from integrations.outbox import delivery_batches, enqueue_batches
    from integrations.selectors import deliveries_due

    batches = ids if ids is not None else delivery_batches(deliveries_due())
    return enqueue_batches([[int(pk) for pk in batch] for batch in batches if batch])


def _tasks(ids: list[Any] | None) -> int:
    from core.services.queue import queued_tasks_publish

    return queued_tasks_publish(ids=ids)


# What each outbox kind's note or sweep does (kinds named in `core.outbox.hand_over` calls).
DRAINS: dict[str, Callable[[list[Any] | None], int]] = {
    "event-email": _event_emails,
    "draft-link": _draft_links,
    "webhooks": _webhooks,
    "tasks": _tasks,
    "breach-email": _breach_emails,
}


# The drainers running in this process.
running: set[Drainer] = set()


class Drainer:
    """The listening thread (see the module's doc)."""

    def __init__(self, sweep_seconds: float | None = None) -> None:
        if sweep_seconds is None:
            sweep_seconds = float(settings.HMS_OUTBOX_SWEEP_SECONDS)
        self.sweep_seconds = sweep_seconds
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, name="hms-outbox", daemon=True)
        self.thread.start()
        running.add(self)

    def stop(self, timeout: float = 10.0) -> None:
        running.discard(self)
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(timeout)

    def run(self) -> None:
        from django.db import close_old_connections, connections

        try:
            while not self.stopping.is_set():
                try:
                    self._listen()
                except Exception:
                    logger.warning("Outbox drainer: database unreachable; retrying", exc_info=True)
                    close_old_connections()
                    self.stopping.wait(1.0)
        finally:
            connections.close_all()

    def _listen(self) -> None:
        import psycopg
        from django.db import close_old_connections, connection

        params = connection.get_connection_params()
        params.pop("cursor_factory", None)
        params.pop("context", None)
        with psycopg.connect(**params, autocommit=True) as listener:
            listener.execute(f"LISTEN {CHANNEL}")
            next_sweep = 0.0
            while not self.stopping.is_set():
                close_old_connections()
                if time.monotonic() >= next_sweep:
                    self.drain(dict.fromkeys(DRAINS))
                    next_sweep = time.monotonic() + self.sweep_seconds
                wait = max(0.05, min(1.0, next_sweep - time.monotonic()))
                notes = list(listener.notifies(timeout=wait, stop_after=1))
                if notes:
                    notes += list(listener.notifies(timeout=0.02, stop_after=500))
                todo: dict[str, list[Any] | None] = {}
                for notify in notes:
                    kind, ids = parse(notify.payload)
                    if kind not in DRAINS:
                        continue
                    if ids is None or todo.get(kind, []) is None:
                        todo[kind] = None
                    else:
                        todo.setdefault(kind, []).extend(ids)  # type: ignore[union-attr]
                if todo:
                    self.drain(todo)

    def drain(self, todo: dict[str, list[Any] | None]) -> None:
        """Send the named rows of each kind (None: sweep that outbox)."""
        from django.db import close_old_connections

        for kind, ids in todo.items():
            try:
                DRAINS[kind](ids)
            except Exception:
                logger.warning("Outbox drainer: %s not drained; next sweep", kind, exc_info=True)
                close_old_connections()


class OutboxDrainStep(bootsteps.StartStopStep):
    """Runs a `Drainer` in each worker process on PostgreSQL (`hms_portal.celery` adds it)."""

    def __init__(self, worker: Any, **kwargs: Any) -> None:
        super().__init__(worker, **kwargs)
        self.drainer: Drainer | None = None

    def start(self, worker: Any) -> None:
        from django.db import connection

        if connection.vendor != "postgresql" or not getattr(settings, "HMS_OUTBOX_DRAINER", True):
            return
        self.drainer = Drainer()
        self.drainer.start()

    def stop(self, worker: Any) -> None:
        if self.drainer is not None:
            self.drainer.stop()
            self.drainer = None
