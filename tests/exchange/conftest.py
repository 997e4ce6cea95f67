"""Fixtures for exchange rounds: an open round in the housing program, participants who list
homes, and helpers that take a round through its states with the services."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from core import roles
from exchange import services as exchange
from exchange.models import ExchangeItem, ExchangeRound
from ledger import services as ledger
from ledger.models import AccountType, OwnerKind
from tests.conftest import _person


def state_of(round_: ExchangeRound) -> str:
    """The stored state (the FSM field is protected, so no refresh_from_db)."""
    return ExchangeRound.objects.values_list("state", flat=True).get(pk=round_.pk)


@pytest.fixture
def officer(finance_officer):  # type: ignore[no-untyped-def]
    """A finance officer: the role grants the exchange permissions."""
    return finance_officer


@pytest.fixture
def second_officer(db):  # type: ignore[no-untyped-def]
    return _person("felix", roles.FINANCE_OFFICER, staff=True)


def make_round(officer: Any, program: Any, **terms: Any) -> ExchangeRound:
    """An open round whose ranking window is open now."""
    now = timezone.now()
    round_ = exchange.round_create(
        actor=officer,
        program=program,
        title=terms.pop("title", "Spring home swap"),
        opens_at=terms.pop("opens_at", now - timedelta(hours=1)),
        closes_at=terms.pop("closes_at", now + timedelta(days=7)),
        **terms,
    )
    return exchange.round_open(actor=officer, round_id=round_.pk)


@pytest.fixture
def open_round(officer, housing):  # type: ignore[no-untyped-def]
    return make_round(officer, housing)


def join(round_: ExchangeRound, people: list[str], **extra: Any) -> list[ExchangeItem]:
    """Each named person (a new civilian) lists a home called after them."""
    items = []
    for name in people:
        person = _person(name, roles.CIVILIAN)
        items.append(
            exchange.item_list(
                actor=person,
                round_id=round_.pk,
                holder=person,
                title=f"Home {name.upper()}",
                description="Two bedrooms, second floor.",
                attributes={"bedrooms": 2},
                **extra,
            )
        )
    return items


def rank(items: list[ExchangeItem], wishes: dict[int, list[int]]) -> None:
    """`wishes[i]`: the positions in `items` participant i ranks, best first."""
    for i, wanted in wishes.items():
        exchange.rankings_set(
            actor=items[i].holder, item_id=items[i].pk, ranked_ids=[items[j].pk for j in wanted]
        )


@pytest.fixture
def four(open_round):  # type: ignore[no-untyped-def]
    """Four homes: a wants b's, b wants c's, c wants a's (a 3-cycle); d wants a's then c's."""
    items = join(open_round, ["ann", "ben", "cat", "dan"])
    rank(items, {0: [1], 1: [2], 2: [0], 3: [0, 2]})
    return items


def solved(round_: ExchangeRound, officer: Any) -> ExchangeRound:
    exchange.round_freeze(actor=officer, round_id=round_.pk)
    return exchange.round_solve(actor=officer, round_id=round_.pk)


def account(actor: Any, code: str, *, limited: bool = False, currency: str = "USD") -> Any:
    """A ledger account; `limited` ones may not pay more than they hold."""
    return ledger.account_open(
        actor=actor,
        code=code,
        name=code,
        type=AccountType.LIABILITY if limited else AccountType.ASSET,
        currency=currency,
        owner_kind=OwnerKind.CIVILIAN if limited else OwnerKind.BUREAU,
        debits_must_not_exceed_credits=limited,
    )
