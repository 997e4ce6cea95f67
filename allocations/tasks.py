"""Celery tasks of allocations: computing a large round, with progress for the officer."""

from __future__ import annotations

import logging

from celery import shared_task
from django.contrib.auth import get_user_model
from django.db import OperationalError

from . import services

logger = logging.getLogger(__name__)


@shared_task(
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_backoff_max=300,
    max_retries=5,
)
def compute_round(round_id: int, actor_id: int) -> str:
    """Compute a frozen round as the finance officer who asked for it, reporting progress on
    the round (`progress_done/total/note`, shown on its admin page). Idempotent: a round
    already computed is left as it is. A refusal (say, floors above the budget) is recorded as
    the progress note and not retried."""
    actor = get_user_model().objects.get(pk=actor_id)

    def progress(done: int, total: int, note: str) -> None:
        services.round_progress_set(round_id=round_id, done=done, total=total, note=note)

    try:
        round_ = services.round_compute(actor=actor, round_id=round_id, progress=progress)
    except services.RoundError as refused:
        message = refused.messages[0]
        logger.warning("Round %s not computed: %s", round_id, message)
        services.round_progress_set(round_id=round_id, done=0, total=0, note=f"refused: {message}")
        return "refused"
    return str(round_.state)
