"""Signed checkpoints of the chain's head (HMAC-SHA256 with `HMS_LEDGER_CHECKPOINT_KEY`), at
most one per UTC hour, so history rewritten after a checkpoint is detectable even when the
rewriter recomputed every hash after the change (`ledger.verify` checks them)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from ..chain import GENESIS_HASH
from ..models import LedgerCheckpoint, LedgerHead, Transfer
from ..verify import key_id, sign, utc_day, utc_hour
from .errors import ERR_HEAD_NOT_LAST, CheckpointError

if TYPE_CHECKING:
    from django.contrib.auth.models import User


@transaction.atomic
def checkpoint_write(*, actor: User) -> LedgerCheckpoint:
    """Sign the chain's head now, once per UTC hour: a second call within the hour returns the
    hour's checkpoint. Refuses (CheckpointError) when the head does not name the last transfer."""
    # Lock the head as every ledger writer does: no transfer is appended while the head is read
    # and signed, so the signed (sequence, hash) is the last transfer's; two concurrent callers
    # queue here, and the second finds the first one's checkpoint of the hour.
    head, _ = LedgerHead.objects.select_for_update().get_or_create(id=1)
    now = timezone.now()
    existing = LedgerCheckpoint.objects.filter(hour=utc_hour(now)).first()
    if existing is not None:
        return existing
    last = Transfer.objects.order_by("-sequence").values("sequence", "hash").first()
    last_sequence, last_hash = (last["sequence"], last["hash"]) if last else (0, GENESIS_HASH)
    if (head.sequence, head.hash) != (last_sequence, last_hash):
        raise CheckpointError(
            ERR_HEAD_NOT_LAST.format(head=head.sequence, last=last_sequence),
            code="head_not_last",
        )
    checkpoint = LedgerCheckpoint(
        sequence=head.sequence,
        hash=head.hash,
        created_at=now,
        day=utc_day(now),
        hour=utc_hour(now),
        key_id=key_id(),
        signature=sign(head.sequence, head.hash, now),
        created_by=actor,
    )
    checkpoint.save()
    return checkpoint
