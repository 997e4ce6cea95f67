"""What the allocation services share: the permission check, and a round's lock, state step and
history write."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING

from django_fsm import can_proceed
from simple_history.utils import bulk_update_with_history

from core.audit import record_history
from core.money import format_money

from ..models import AllocationRound, Claim
from .errors import ERR_FORBIDDEN, ERR_STATE, RoundError

if TYPE_CHECKING:
    from django.contrib.auth.models import User

GRANT_BATCH = 2_000


def require(actor: User, permission: str, action: str) -> None:
    """Refuse unless `actor` is active and holds `permission`."""
    if not actor.is_active or not actor.has_perm(permission):
        raise RoundError(ERR_FORBIDDEN.format(action=action), code="forbidden")


def state_refused(round_: AllocationRound, action: str) -> RoundError:
    """The refusal of `action` on a round in a state that does not allow it."""
    return RoundError(
        ERR_STATE.format(name=round_.name, state=round_.get_state_display().lower(), action=action),
        code="state",
    )


def round_locked(round_id: int) -> AllocationRound:
    """The round (with its fund), locked for the caller's transaction."""
    # Lock the round: two officers acting on it at once act one after the other, and the
    # second finds the state the first left.
    return (
        AllocationRound.objects.select_for_update(of=("self",))
        .select_related("fund")
        .get(pk=round_id)
    )


def round_step(round_: AllocationRound, transition: str, action: str) -> None:
    """Take the round's `transition`, or refuse naming the state it is in."""
    method = getattr(round_, transition)
    if not can_proceed(method):
        raise state_refused(round_, action)
    method()


def round_save(round_: AllocationRound, *, actor: User, reason: str) -> None:
    """Validate and save the round with a history row naming `actor`."""
    round_.full_clean(exclude=["state"])  # the protected FSM field refuses re-assignment
    record_history(round_, actor=actor, reason=reason[:100])
    round_.save()


def round_money(round_: AllocationRound) -> Callable[[int], str]:
    """Amounts in the round's currency, for messages."""
    return partial(format_money, currency=round_.currency)


def claims_release(claims: Iterable[Claim], *, actor: User, reason: str) -> None:
    """Let a round's claims go (they wait for another round)."""
    released = []
    for claim in claims:
        claim.round = None
        released.append(claim)
    if released:
        bulk_update_with_history(
            released,
            Claim,
            ["round"],
            batch_size=GRANT_BATCH,
            default_user=actor,
            default_change_reason=reason[:100],
        )
