"""Approval ballots in participatory rounds (equal shares, greedy by votes).

A voter approves any number of the round's projects (its claims). One ballot per voter per
round, kept under a pseudonym (`voter_ref`, a keyed hash of the account for voters who sign in),
replaceable while the round is open and fixed once it freezes (the snapshot then holds the
ballots, anonymous). Each cast and each change is a history row naming who acted.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from core.audit import record_history

from ..models import RUN_ROUND_PERMISSION, AllocationBallot, AllocationRound, RoundState
from ..selectors import ballot_claims, voter_ref_for
from .common import require, round_locked, state_refused
from .errors import RoundError

if TYPE_CHECKING:
    from django.contrib.auth.models import User

ERR_NO_BALLOTS_RULE = "Ballots are cast only in participatory rounds (equal shares, approvals)."
ERR_VOTER = "A ballot needs a voter reference."
# What a voter may read is translated (lazily: in the language of whoever is served).
ERR_BALLOT_EMPTY = _("Choose at least one project.")
ERR_BALLOT_CLOSED = _(
    "Voting in “{name}” has closed: the ballots were frozen. Nothing was changed."
)
ERR_BALLOT_PROJECT = _(
    "One of the projects you chose is no longer in this round. Reload the page and choose again."
)
ERR_VOTER_INACTIVE = _("Sign in to vote.")


@transaction.atomic
def ballot_cast(
    *, actor: User, round_id: int, voter_ref: str, claim_ids: Iterable[int]
) -> AllocationBallot:
    """Record (or replace) a voter's approval ballot in an open participatory round. The
    caller authenticates the voter; `voter_ref` is a pseudonym (never an email or a name)."""
    require(actor, RUN_ROUND_PERMISSION, "record ballots in")
    round_ = round_locked(round_id)
    if not round_.uses_ballots:
        raise RoundError(ERR_NO_BALLOTS_RULE, code="rule")
    if round_.state != RoundState.OPEN:
        raise state_refused(round_, "voted in")
    if not voter_ref.strip():
        raise RoundError(ERR_VOTER, code="voter")
    return _ballot_write(round_, voter_ref.strip(), claim_ids, actor=actor)


def _ballot_open(round_: AllocationRound) -> None:
    if not round_.uses_ballots:
        raise RoundError(ERR_NO_BALLOTS_RULE, code="rule")
    if round_.state in (RoundState.DRAFT, RoundState.CANCELLED):
        raise state_refused(round_, "voted in")
    if round_.state != RoundState.OPEN:
        raise RoundError(ERR_BALLOT_CLOSED.format(name=round_.name), code="closed")


def _ballot_write(
    round_: AllocationRound, voter_ref: str, claim_ids: Iterable[int], *, actor: User
) -> AllocationBallot:
    """Write (or replace) the voter's ballot, with a history row naming `actor`. The caller
    holds the round's lock, so one voter's two submissions at once write one after the other."""
    approved = sorted({int(c) for c in claim_ids})
    held = set(ballot_claims(round_).filter(pk__in=approved).values_list("pk", flat=True))
    if held != set(approved):
        raise RoundError(ERR_BALLOT_PROJECT, code="ballot")
    ballot = AllocationBallot.objects.filter(round=round_, voter_ref=voter_ref).first()
    if ballot is None:
        ballot = AllocationBallot(round=round_, voter_ref=voter_ref, approvals=approved)
        reason = "ballot cast"
    elif ballot.approvals == approved:
        return ballot  # the same choices again (a second click): nothing to record
    else:
        ballot.approvals = approved
        reason = "ballot changed"
    record_history(ballot, actor=actor, reason=reason)
    ballot.save()
    return ballot


@transaction.atomic
def ballot_cast_own(*, actor: User, round_id: int, claim_ids: Iterable[int]) -> AllocationBallot:
    """A signed-in civilian or staff member casts (or changes) their own approval ballot in an
    open participatory round: one ballot per voter per round, changeable until the round
    freezes, each version kept in the ballot's history."""
    if not actor.is_active or not actor.is_authenticated:
        raise RoundError(ERR_VOTER_INACTIVE, code="forbidden")
    round_ = round_locked(round_id)
    _ballot_open(round_)
    approved = list(claim_ids)
    if not approved:
        raise RoundError(ERR_BALLOT_EMPTY, code="empty")
    return _ballot_write(round_, voter_ref_for(actor), approved, actor=actor)
