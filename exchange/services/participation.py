"""What participants do: list their item, rank the others inside the window, withdraw.

A withdrawal before commit is always possible. Before the freeze it only takes the item out.
After the freeze and before the solve, the snapshot is taken again without it. After the solve,
it breaks only the withdrawn participant's cycle: the other members of that cycle and everyone
who was not moving are solved again among themselves (a new snapshot and hash), while the other
cycles, and their approvals, stand. New cycles of a round already under approval go for
approval at once, with the officer who sent the round as their maker.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.core.files import File
from django.db import transaction
from django.db.models import Q
from django.utils import formats, timezone

from core.audit import record_history
from ledger.models import Account

from ..models import (
    LIVE_CYCLE_STATUSES,
    RUN_EXCHANGE_PERMISSION,
    SOLVED_STATES,
    CycleStatus,
    ExchangeAssignment,
    ExchangeItem,
    ExchangeRanking,
    ExchangeRound,
    ExchangeState,
)
from .approval import cases_open, round_settle_approval
from .common import round_locked, round_save, state_refused
from .errors import (
    ERR_ALREADY_LISTED,
    ERR_ALREADY_WITHDRAWN,
    ERR_COMMITTED_CYCLE,
    ERR_CURRENCY,
    ERR_DUPLICATE,
    ERR_MONEY_ACCOUNT,
    ERR_MONEY_BY_STAFF,
    ERR_NOT_HOLDER,
    ERR_OWN_ITEM,
    ERR_UNKNOWN,
    ERR_WINDOW,
    ERR_WITHDRAWN,
    refused,
)
from .solving import active_items, snapshot_solve, snapshot_take, solution_store

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def _officer(actor: User) -> bool:
    return bool(actor.is_active and actor.has_perm(RUN_EXCHANGE_PERMISSION))


def round_validate_window(round_: ExchangeRound) -> None:
    """Ranking is open: the round is open and now is inside its window."""
    now = timezone.now()
    if round_.state != ExchangeState.OPEN or not (round_.opens_at <= now < round_.closes_at):
        raise refused(
            "ranking",
            ERR_WINDOW.format(
                title=round_.title,
                opens=formats.localize(timezone.localtime(round_.opens_at)),
                closes=formats.localize(timezone.localtime(round_.closes_at)),
            ),
            "window",
        )


@transaction.atomic
def item_list(
    *,
    actor: User,
    round_id: int,
    holder: User,
    title: str,
    description: str = "",
    attributes: dict[str, Any] | None = None,
    photo: File | None = None,
    amount_minor: int = 0,
    account: Account | None = None,
) -> ExchangeItem:
    """List `holder`'s one item in an open round whose window has not closed. A participant
    lists their own; an exchange officer may list for anyone and set the money the item
    carries (what its holder pays on moving, negative if they receive) and the holder's
    ledger account."""
    round_ = round_locked(round_id)
    if actor.pk != holder.pk and not _officer(actor):
        raise refused("item", ERR_NOT_HOLDER.format(title=title), "forbidden")
    if round_.state != ExchangeState.OPEN or round_.closes_at <= timezone.now():
        raise state_refused(round_, "joined")
    if (amount_minor or account is not None) and not _officer(actor):
        raise refused("amount_minor", ERR_MONEY_BY_STAFF, "forbidden")
    if amount_minor and account is None:
        raise refused("account", ERR_MONEY_ACCOUNT, "account")
    if account is not None and account.currency != round_.currency:
        raise refused(
            "account",
            ERR_CURRENCY.format(account=account.currency, round=round_.currency),
            "currency",
        )
    if ExchangeItem.objects.filter(round=round_, holder=holder).exists():
        raise refused("item", ERR_ALREADY_LISTED, "listed")
    item = ExchangeItem(
        round=round_,
        holder=holder,
        kind=round_.item_kind,
        title=title,
        description=description,
        attributes=attributes or {},
        amount_minor=amount_minor,
        account=account,
    )
    if photo is not None:
        item.photo = photo  # type: ignore[assignment]
    item.full_clean()
    record_history(item, actor=actor, reason="listed")
    item.save()
    return item


def _item_locked(item_id: int) -> ExchangeItem:
    # Lock the item: its holder ranking and withdrawing at once act one after the other.
    return ExchangeItem.objects.select_for_update(of=("self",)).get(pk=item_id)


def rankings_validate(item: ExchangeItem, ranked_ids: Sequence[int]) -> dict[int, ExchangeItem]:
    """Each ranked item is another item of the round, still in it, ranked once. Returns the
    ranked items by number."""
    others = {i.pk: i for i in ExchangeItem.objects.filter(round_id=item.round_id)}
    seen: set[int] = set()
    for ranked in ranked_ids:
        if ranked == item.pk:
            raise refused(f"rank_{ranked}", ERR_OWN_ITEM, "own_item")
        if ranked not in others:
            raise refused(f"rank_{ranked}", ERR_UNKNOWN.format(item=ranked), "unknown_item")
        if ranked in seen:
            raise refused(
                f"rank_{ranked}", ERR_DUPLICATE.format(title=others[ranked].title), "duplicate"
            )
        if others[ranked].withdrawn_at is not None:
            raise refused(
                f"rank_{ranked}", ERR_WITHDRAWN.format(title=others[ranked].title), "withdrawn"
            )
        seen.add(ranked)
    return others


@transaction.atomic
def rankings_set(*, actor: User, item_id: int, ranked_ids: Sequence[int]) -> ExchangeItem:
    """Replace the ranking of `item`'s holder: `ranked_ids` best first, every item left out is
    unacceptable. Only the holder, only inside the window; the same ranking again writes
    nothing. Every change is a history row naming the holder."""
    round_ = round_locked(ExchangeItem.objects.values_list("round_id", flat=True).get(pk=item_id))
    item = _item_locked(item_id)
    if item.holder_id != actor.pk:
        raise refused("ranking", ERR_NOT_HOLDER.format(title=item.title), "forbidden")
    if item.withdrawn_at is not None:
        raise refused("ranking", ERR_WITHDRAWN.format(title=item.title), "withdrawn")
    round_validate_window(round_)
    rankings_validate(item, ranked_ids)
    existing = list(ExchangeRanking.objects.filter(item=item).order_by("position"))
    if [r.ranked_id for r in existing] == list(ranked_ids):
        return item
    for old in existing:
        record_history(old, actor=actor, reason="ranking replaced")
        old.delete()
    for position, ranked in enumerate(ranked_ids, start=1):
        line = ExchangeRanking(item=item, ranked_id=ranked, position=position)
        record_history(line, actor=actor, reason="ranked")
        line.save()
    return item


@transaction.atomic
def item_withdraw(*, actor: User, item_id: int) -> ExchangeItem:
    """Take an item out of its round before its swap is committed (its holder, or an exchange
    officer). See the module's docstring for what happens to the round."""
    round_ = round_locked(ExchangeItem.objects.values_list("round_id", flat=True).get(pk=item_id))
    item = _item_locked(item_id)
    if item.holder_id != actor.pk and not _officer(actor):
        raise refused("item", ERR_NOT_HOLDER.format(title=item.title), "forbidden")
    if item.withdrawn_at is not None:
        raise refused("item", ERR_ALREADY_WITHDRAWN.format(title=item.title), "withdrawn")
    if round_.state in (ExchangeState.COMMITTED, ExchangeState.CANCELLED):
        raise state_refused(round_, "left")
    current = (
        ExchangeAssignment.objects.select_related("cycle").filter(item=item, current=True).first()
    )
    if current is not None and current.cycle and current.cycle.status == CycleStatus.COMMITTED:
        raise refused("item", ERR_COMMITTED_CYCLE.format(title=item.title), "committed")
    item.withdrawn_at = timezone.now()
    record_history(item, actor=actor, reason="withdrawn")
    item.save()
    if round_.state == ExchangeState.FROZEN:
        _refreeze(round_, actor=actor, item=item)
    elif round_.state in SOLVED_STATES:
        _resolve_rest(round_, actor=actor, item=item, current=current)
    return item


def _refreeze(round_: ExchangeRound, *, actor: User, item: ExchangeItem) -> None:
    stored = snapshot_take(
        round_,
        items=active_items(round_),
        reason=f"item {item.pk} withdrawn before the solve",
        previous=round_.input_sha256,
    )
    round_.input_sha256 = stored.sha256
    round_save(round_, actor=actor, reason=f"re-frozen {stored.sha256[:12]}")


def _resolve_rest(
    round_: ExchangeRound,
    *,
    actor: User,
    item: ExchangeItem,
    current: ExchangeAssignment | None,
) -> None:
    broken = current.cycle if current is not None else None
    if broken is not None and broken.status in LIVE_CYCLE_STATUSES:
        broken.status = CycleStatus.BROKEN
        record_history(broken, actor=actor, reason=f"item {item.pk} withdrawn")
        broken.save()
    if current is not None:
        current.current = False
        record_history(current, actor=actor, reason="withdrawn")
        current.save()
    pool = sorted(
        ExchangeAssignment.objects.filter(
            Q(cycle__isnull=True) | Q(cycle__status=CycleStatus.BROKEN),
            round=round_,
            current=True,
            item__withdrawn_at__isnull=True,
        ).values_list("item_id", flat=True)
    )
    stored = snapshot_take(
        round_,
        items=pool,
        reason=f"re-solved after item {item.pk} was withdrawn",
        previous=round_.input_sha256,
    )
    round_.input_sha256 = stored.sha256
    cycles = solution_store(round_, stored, snapshot_solve(stored, stored.sha256), actor=actor)
    round_save(round_, actor=actor, reason=f"re-solved {stored.sha256[:12]}")
    if round_.state == ExchangeState.APPROVED and cycles:
        round_.reopen_approval()
        round_save(round_, actor=actor, reason="new cycles to approve")
    if round_.state == ExchangeState.UNDER_APPROVAL:
        cases_open(round_, cycles, actor=actor)
        round_settle_approval(round_, actor=actor)
