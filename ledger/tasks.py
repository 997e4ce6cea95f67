"""Celery tasks of the ledger, run by beat."""

from __future__ import annotations

import logging

from celery import shared_task
from django.contrib.auth import get_user_model
from django.utils import timezone

from core.audit import system_user

from . import selectors, services
from .verify import current_checkpoint, verify_ledger

logger = logging.getLogger(__name__)


@shared_task
def void_expired_pending() -> int:
    """Release the reservations of pending transfers past their expiry (as the system user).

    Idempotent: each void has a key derived from the pending transfer, so a second run, or two
    beats at once, void each reservation once. Returns how many it voided.
    """
    actor = system_user()
    voided = 0
    for pending_id in selectors.pending_expired_ids(now=timezone.now(), limit=1000):
        try:
            services.transfer_void_pending(
                actor=actor,
                idempotency_key=f"expiry-void-{pending_id}",
                pending_id=pending_id,
                memo="expired",
            )
        except services.LedgerError as refused:  # posted or voided meanwhile
            logger.info("Expired pending %s not voided: %s", pending_id, refused.messages[0])
        else:
            voided += 1
    return voided


@shared_task
def write_checkpoint() -> int | None:
    """Sign this hour's checkpoint of the chain head (as the system user), once per UTC hour.

    The ledger is verified first: a head that does not verify is never signed (signing it would
    vouch for the tampering), and the failure is logged as an error instead. Idempotent: a second
    run within the hour returns the hour's checkpoint. Returns the signed sequence number, or None.
    """
    existing = current_checkpoint()
    if existing is not None:
        return existing.sequence
    report = verify_ledger()
    if not report.ok:
        logger.error(
            "Ledger checkpoint not signed: verification found %d problem(s), first bad #%s: %s",
            report.problem_count,
            report.first_bad_sequence,
            report.problems[0] if report.problems else "",
        )
        return None
    return services.checkpoint_write(actor=system_user()).sequence


@shared_task(bind=True, max_retries=3, retry_backoff=True)
def generate_cycle_file(self: object, cycle_id: int, user_id: int | None = None) -> str | None:
    """Build and store a settled cycle's ACH file, updating its progress fields as it goes.

    Runs as the user who asked (`user_id`) or the system user. Idempotent: a stored file is left
    as it is. Returns the file's SHA-256, or None when the cycle cannot have a file (logged).
    """
    actor = get_user_model().objects.filter(pk=user_id).first() if user_id else None

    def progress(done: int, total: int, note: str) -> None:
        services.cycle_progress_set(cycle_id=cycle_id, done=done, total=total, note=note)

    progress(0, 0, "started")
    try:
        cycle = services.cycle_file_generate(
            actor=actor or system_user(),  # type: ignore[arg-type]
            cycle_id=cycle_id,
            progress=progress,
        )
    except services.ClearingError as refused:
        progress(0, 0, f"refused: {refused.messages[0]}")
        logger.warning("ACH file for cycle %s not generated: %s", cycle_id, refused.messages[0])
        return None
    progress(cycle.participant_count, cycle.participant_count, "done")
    return cycle.ach_sha256
