"""Exchange rounds from draft to solved, or cancelled: one service per transition, each one
transaction with the acting user.

- Opening lets participants list an item and rank the others inside the ranking window.
- Freezing writes every item still in the round and its holder's ranking as canonical JSON by
  item number (`exchange.snapshot`) and records its SHA-256; an empty round, or one where
  nobody ranked anything, is refused and stays open.
- Solving reads only that snapshot: anyone holding it can recompute the same cycles.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from governance.models import Program
from ledger.models import Account

from ..models import (
    RUN_EXCHANGE_PERMISSION,
    ExchangeRanking,
    ExchangeRound,
    ExchangeRule,
    ExchangeState,
)
from .common import require, round_locked, round_save, round_step, state_refused
from .errors import (
    ERR_CURRENCY,
    ERR_EMPTY,
    ERR_MAX_CYCLE,
    ERR_NOBODY_RANKED,
    ERR_WINDOW_ORDER,
    refused,
)
from .solving import active_items, snapshot_solve, snapshot_take, solution_store

if TYPE_CHECKING:
    from django.contrib.auth.models import User

_TICK = timedelta(microseconds=1)  # the window closes after it opens, however soon


def round_validate_terms(
    *,
    opens_at: datetime,
    closes_at: datetime,
    max_cycle: int,
    currency: str,
    settlement_account: Account | None,
) -> None:
    """The window is ordered, a cycle has at least two members, the account is in the
    round's currency (the form calls this too)."""
    if closes_at <= opens_at:
        raise refused("closes_at", ERR_WINDOW_ORDER, "window")
    if max_cycle < 2:
        raise refused("max_cycle", ERR_MAX_CYCLE, "max_cycle")
    if settlement_account is not None and settlement_account.currency != currency:
        raise refused(
            "settlement_account",
            ERR_CURRENCY.format(account=settlement_account.currency, round=currency),
            "currency",
        )


@transaction.atomic
def round_create(
    *,
    actor: User,
    program: Program,
    title: str,
    opens_at: datetime,
    closes_at: datetime,
    description: str = "",
    item_kind: str = "home",
    rule: str = ExchangeRule.TTC,
    max_cycle: int = 3,
    seed: int = 0,
    currency: str = "USD",
    settlement_account: Account | None = None,
) -> ExchangeRound:
    """A draft round (exchange officers). The rule, cap and seed are fixed now, before anyone
    lists or ranks."""
    require(actor, RUN_EXCHANGE_PERMISSION, "create")
    round_validate_terms(
        opens_at=opens_at,
        closes_at=closes_at,
        max_cycle=max_cycle,
        currency=currency,
        settlement_account=settlement_account,
    )
    round_ = ExchangeRound(
        program=program,
        title=title,
        description=description,
        item_kind=item_kind,
        rule=rule,
        max_cycle=max_cycle,
        seed=seed,
        currency=currency,
        settlement_account=settlement_account,
        opens_at=opens_at,
        closes_at=closes_at,
        created_by=actor,
    )
    round_save(round_, actor=actor, reason="round created")
    return round_


@transaction.atomic
def round_open(*, actor: User, round_id: int) -> ExchangeRound:
    """Open the round: participants may list an item and, inside the window, rank."""
    require(actor, RUN_EXCHANGE_PERMISSION, "open")
    round_ = round_locked(round_id)
    round_step(round_, "open", "opened")
    round_save(round_, actor=actor, reason="opened")
    return round_


@transaction.atomic
def round_close_window(*, actor: User, round_id: int) -> ExchangeRound:
    """Close the ranking window now (an open round whose window has not yet closed)."""
    require(actor, RUN_EXCHANGE_PERMISSION, "close")
    round_ = round_locked(round_id)
    now = timezone.now()
    if round_.state != ExchangeState.OPEN or round_.closes_at <= now:
        raise state_refused(round_, "closed for ranking")
    round_.closes_at = max(now, round_.opens_at + _TICK)
    round_save(round_, actor=actor, reason="ranking window closed")
    return round_


def round_validate_solvable(round_: ExchangeRound, items: list[int]) -> None:
    """At least two items still in the round, and someone ranked one of them."""
    if len(items) < 2:
        raise refused("items", ERR_EMPTY.format(count=len(items)), "empty")
    if not ExchangeRanking.objects.filter(item_id__in=items, ranked_id__in=items).exists():
        raise refused("rankings", ERR_NOBODY_RANKED, "nobody_ranked")


@transaction.atomic
def round_freeze(*, actor: User, round_id: int) -> ExchangeRound:
    """Freeze the inputs: the items not withdrawn and their holders' rankings, as canonical
    JSON by item number; its SHA-256 is the round's input hash. Refused (the round stays
    open, nothing written) for an empty round or one where nobody ranked anything."""
    require(actor, RUN_EXCHANGE_PERMISSION, "freeze")
    round_ = round_locked(round_id)
    round_step(round_, "freeze", "frozen")
    items = active_items(round_)
    round_validate_solvable(round_, items)
    stored = snapshot_take(round_, items=items, reason="frozen")
    round_.input_sha256 = stored.sha256
    if round_.closes_at > timezone.now():  # freezing ends the window
        round_.closes_at = max(timezone.now(), round_.opens_at + _TICK)
    round_save(round_, actor=actor, reason=f"frozen {stored.sha256[:12]}")
    return round_


@transaction.atomic
def round_solve(*, actor: User, round_id: int) -> ExchangeRound:
    """Solve the frozen round from its snapshot alone: the rule's cycles, one assignment and
    explanation per participant. The officer who solves may not approve its cycles."""
    require(actor, RUN_EXCHANGE_PERMISSION, "solve")
    round_ = round_locked(round_id)
    round_step(round_, "solve", "solved")
    stored = round_.snapshots.filter(sha256=round_.input_sha256).latest("pk")
    solution = snapshot_solve(stored, round_.input_sha256)
    solution_store(round_, stored, solution, actor=actor)
    round_.solved_by = actor
    round_.solved_at = timezone.now()
    round_save(round_, actor=actor, reason=f"solved: {len(solution.cycles)} cycles")
    return round_


@transaction.atomic
def round_cancel(*, actor: User, round_id: int, reason: str = "") -> ExchangeRound:
    """Cancel a round before it goes for approval; snapshots and solves stay, for the record."""
    require(actor, RUN_EXCHANGE_PERMISSION, "cancel")
    round_ = round_locked(round_id)
    round_step(round_, "cancel", "cancelled")
    round_save(round_, actor=actor, reason=f"cancelled: {reason}" if reason else "cancelled")
    return round_
