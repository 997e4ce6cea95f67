"""What the exchange services share: the permission check, the round's lock, state step and
history write."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django_fsm import can_proceed

from core.audit import record_history

from ..models import ExchangeRound
from .errors import ERR_FORBIDDEN, ERR_STATE, ExchangeError, refused

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def require(actor: User, permission: str, action: str) -> None:
    """Refuse unless `actor` is active and holds `permission`."""
    if not actor.is_active or not actor.has_perm(permission):
        raise refused("round", ERR_FORBIDDEN.format(action=action), "forbidden")


def state_refused(round_: ExchangeRound, action: str) -> ExchangeError:
    return refused(
        "round",
        ERR_STATE.format(
            title=round_.title, state=round_.get_state_display().lower(), action=action
        ),
        "state",
    )


def round_locked(round_id: int) -> ExchangeRound:
    """The round, locked for the caller's transaction."""
    # Lock the round: two officers (or an officer and a withdrawing participant) acting on it
    # at once act one after the other, and the second finds the state the first left.
    return ExchangeRound.objects.select_for_update(of=("self",)).get(pk=round_id)


def round_step(round_: ExchangeRound, transition: str, action: str) -> None:
    """Take the round's `transition`, or refuse naming the state it is in."""
    method = getattr(round_, transition)
    if not can_proceed(method):
        raise state_refused(round_, action)
    method()


def round_save(round_: ExchangeRound, *, actor: User, reason: str) -> None:
    """Validate and save the round with a history row naming `actor`."""
    round_.full_clean(exclude=["state"])  # the protected FSM field refuses re-assignment
    record_history(round_, actor=actor, reason=reason[:100])
    round_.save()
