"""Reads for the exchange pages and admin: a participant's own view of a round, and the
public results (counts and cycles by item number, nothing about people)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db.models import Q, QuerySet
from django.http import Http404

from .explain import explanation
from .models import (
    SOLVED_STATES,
    CycleStatus,
    ExchangeAssignment,
    ExchangeCycle,
    ExchangeItem,
    ExchangeRanking,
    ExchangeRound,
    ExchangeSnapshot,
    ExchangeState,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import User

VISIBLE_TO_PARTICIPANTS = (
    ExchangeState.OPEN,
    ExchangeState.FROZEN,
    *SOLVED_STATES,
)


def rounds_for_participants() -> QuerySet[ExchangeRound]:
    """Rounds a signed-in person may join or follow (open and after)."""
    return ExchangeRound.objects.filter(state__in=VISIBLE_TO_PARTICIPANTS).order_by("-opens_at")


def round_for_participant(round_id: int) -> ExchangeRound:
    """The round behind `/exchange/<id>/` (404 for drafts and cancelled rounds)."""
    round_ = rounds_for_participants().filter(pk=round_id).first()
    if round_ is None:
        raise Http404("No such exchange round.")
    return round_


def round_published(round_id: int) -> ExchangeRound:
    """A round whose results are public: solved and after (404 otherwise)."""
    round_ = ExchangeRound.objects.filter(pk=round_id, state__in=SOLVED_STATES).first()
    if round_ is None:
        raise Http404("No such exchange round.")
    return round_


def item_of(round_: ExchangeRound, user: User) -> ExchangeItem | None:
    """The user's item in the round, if they listed one."""
    if not user.is_authenticated:
        return None
    return ExchangeItem.objects.filter(round=round_, holder=user).first()


def items_to_rank(round_: ExchangeRound, own: ExchangeItem) -> list[ExchangeItem]:
    """The other items still in the round, by number."""
    return list(
        ExchangeItem.objects.filter(round=round_, withdrawn_at__isnull=True)
        .exclude(pk=own.pk)
        .order_by("pk")
    )


def photo_for(*, user: User, round_id: int, item_id: int) -> ExchangeItem | None:
    """The item, if it has a photo and `user` holds an item in its round or may view items."""
    item = ExchangeItem.objects.filter(pk=item_id, round_id=round_id).exclude(photo="").first()
    if item is None:
        return None
    if user.has_perm("exchange.view_exchangeitem"):
        return item
    joined = ExchangeItem.objects.filter(round_id=round_id, holder_id=user.pk).exists()
    return item if joined else None


def ranking_of(item: ExchangeItem) -> dict[int, int]:
    """The holder's ranking: position by ranked item number."""
    return dict(ExchangeRanking.objects.filter(item=item).values_list("ranked_id", "position"))


def titles_of(round_: ExchangeRound) -> dict[int, str]:
    return dict(ExchangeItem.objects.filter(round=round_).values_list("pk", "title"))


def outcome_of(item: ExchangeItem) -> tuple[ExchangeAssignment | None, str]:
    """The item's current assignment and its explanation in the active language."""
    assignment = (
        ExchangeAssignment.objects.select_related("cycle", "receives")
        .filter(item=item, current=True)
        .first()
    )
    if assignment is None:
        return None, ""
    return assignment, explanation(assignment.facts, titles_of(item.round))


@dataclass(frozen=True)
class Results:
    participants: int
    withdrawn: int
    movers: int
    cycles: list[ExchangeCycle]
    by_length: list[tuple[int, int]]
    snapshots: list[ExchangeSnapshot]


def results_of(round_: ExchangeRound) -> Results:
    """The public figures: participants, movers, the live and committed cycles by length
    (broken and declined ones left out), the snapshots with their hashes."""
    cycles = list(
        ExchangeCycle.objects.filter(round=round_)
        .filter(~Q(status__in=[CycleStatus.BROKEN, CycleStatus.DECLINED]))
        .order_by("number")
    )
    items = ExchangeItem.objects.filter(round=round_)
    return Results(
        participants=items.count(),
        withdrawn=items.filter(withdrawn_at__isnull=False).count(),
        movers=sum(c.size for c in cycles),
        cycles=cycles,
        by_length=sorted(Counter(c.size for c in cycles).items()),
        snapshots=list(ExchangeSnapshot.objects.filter(round=round_).order_by("pk")),
    )


def snapshot_in_force(round_: ExchangeRound) -> ExchangeSnapshot:
    return ExchangeSnapshot.objects.filter(round=round_, sha256=round_.input_sha256).latest("pk")
