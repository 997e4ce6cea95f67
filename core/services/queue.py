"""The queued tasks (`core.models.QueuedTask`): written and stamped here only.

`task_enqueue` keeps a task in the caller's transaction; `queued_tasks_publish` hands waiting
rows to Celery. The request that enqueues never talks to the broker: with a worker on
PostgreSQL the drainer (`hms_portal.outbox`) publishes on the transaction's NOTIFY and sweeps
for the rest; with tasks in-process the task runs once the transaction commits.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from celery import current_app
from django.db import transaction
from django.utils import timezone

from core.models import QueuedTask
from core.outbox import hand_over

logger = logging.getLogger(__name__)

# The outbox kind named to the worker's drainer.
OUTBOX_TASKS = "tasks"
BATCH = 500

ERR_UNKNOWN_TASK = "No Celery task is named {name}."


def task_enqueue(*, name: str, args: Sequence[Any] = ()) -> QueuedTask:
    """Keep the task `name(*args)` with the current transaction and have it published once
    that commits (dropped with it on a rollback). `args` must be JSON (ids, not instances);
    the task must be idempotent. Any service may call it."""
    if name not in current_app.tasks:
        raise LookupError(ERR_UNKNOWN_TASK.format(name=name))
    listed = json.loads(json.dumps(list(args)))  # refuses what the broker could not carry
    row = QueuedTask.objects.create(name=name, args=listed)
    pk = row.pk
    hand_over(OUTBOX_TASKS, [pk], lambda: queued_tasks_publish(ids=[pk]))
    return row


def queued_tasks_publish(*, ids: Sequence[Any] | None = None) -> int:
    """Publish the waiting rows `ids` (None: the oldest waiting ones) and stamp each. A second
    drainer skips a row another one holds; a failed publish (the broker away) leaves the row
    waiting with its error and stops the batch, for the next sweep. Returns how many went."""
    if ids is None:
        ids = list(
            QueuedTask.objects.filter(published_at__isnull=True)
            .order_by("created_at", "pk")
            .values_list("pk", flat=True)[:BATCH]
        )
    published = 0
    for pk in ids:
        outcome = _publish_one(int(pk))
        if outcome is None:
            break
        published += outcome
    return published


def _publish_one(pk: int) -> int | None:
    """1 when row `pk` was published now, 0 when it was not waiting, None when it failed."""
    with transaction.atomic():
        # The row's lock makes one drainer its publisher; the others skip it.
        row = (
            QueuedTask.objects.select_for_update(skip_locked=True)
            .filter(pk=pk, published_at__isnull=True)
            .first()
        )
        if row is None:
            return 0
        row.attempts += 1
        try:
            task = current_app.tasks.get(row.name)
            if task is None:
                raise LookupError(ERR_UNKNOWN_TASK.format(name=row.name))
            # A task run in-process that fails rolls back its own work, not the row's stamp.
            with transaction.atomic():
                task.apply_async(args=row.args)
        except Exception as error:
            row.last_error = f"{type(error).__name__}: {error}"[:500]
            row.save(update_fields=["attempts", "last_error"])
            logger.warning("Queued task %s (%s) not published: %s", pk, row.name, row.last_error)
            return None
        row.published_at = timezone.now()
        row.last_error = ""
        row.save(update_fields=["attempts", "published_at", "last_error"])
    return 1
