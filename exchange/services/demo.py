"""The demo bureau's exchange rounds (`seed_demo`): one open home swap the demo civilians can
join and rank, and one solved market-stall swap whose results page is public. Written through
the services, so history and snapshots are true. Safe to run twice."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from core.services.accounts import account_ensure
from governance.models import Program

from ..models import ExchangeRound
from .participation import item_list, rankings_set
from .rounds import round_create, round_freeze, round_open, round_solve

if TYPE_CHECKING:
    from django.contrib.auth.models import User

OPEN_TITLE = "Home swap: Eastside public housing"
SOLVED_TITLE = "Market stall swap: Saturday market"

HOMES = [
    ("tenant-amara", "Amara", "2-bedroom flat, Elm Court, 4th floor (lift)"),
    ("tenant-bruno", "Bruno", "3-bedroom house, Birch Row, garden"),
    ("tenant-chen", "Chen", "1-bedroom flat, Cedar Tower, ground floor"),
    ("tenant-dana", "Dana", "2-bedroom flat, Oak Lane, near the school"),
]
STALLS = [
    ("stall-eko", "Eko", "Stall 4, corner by the fountain"),
    ("stall-farah", "Farah", "Stall 11, covered row"),
    ("stall-gil", "Gil", "Stall 17, by the car park"),
    ("stall-hana", "Hana", "Stall 22, shaded end"),
    ("stall-ivo", "Ivo", "Stall 30, entrance"),
]


def _people(actor: User, rows: list[tuple[str, str, str]], domain: str) -> list[User]:
    return [
        account_ensure(
            actor=actor, username=username, email=f"{username}@{domain}", first_name=first
        )[0]
        for username, first, _title in rows
    ]


def _round(
    actor: User, program: Program, title: str, kind: str, rule: str, days: int
) -> ExchangeRound:
    now = timezone.now()
    round_ = round_create(
        actor=actor,
        program=program,
        title=title,
        description="Swap with other holders: you only ever move to something you ranked.",
        item_kind=kind,
        rule=rule,
        max_cycle=3,
        opens_at=now - timedelta(days=1),
        closes_at=now + timedelta(days=days),
    )
    return round_open(actor=actor, round_id=round_.pk)


def _list(actor: User, round_: ExchangeRound, people: list[User], rows: list) -> list[int]:
    return [
        item_list(
            actor=actor, round_id=round_.pk, holder=person, title=row[2], description=row[2]
        ).pk
        for person, row in zip(people, rows, strict=True)
    ]


@transaction.atomic
def demo_rounds_seed(
    *, actor: User, housing: Program, business: Program, domain: str
) -> list[ExchangeRound]:
    """Seed the two demo rounds unless they exist (`actor`: an exchange officer)."""
    if ExchangeRound.objects.filter(title__in=[OPEN_TITLE, SOLVED_TITLE]).exists():
        return []
    homes = _round(actor, housing, OPEN_TITLE, "home", "ttc", days=14)
    tenants = _people(actor, HOMES, domain)
    ids = _list(actor, homes, tenants, HOMES)
    # Amara wants Bruno's house, Bruno Chen's flat, Chen Amara's: a three-way swap waiting.
    for i, wanted in {0: [1, 3], 1: [2], 2: [0]}.items():
        rankings_set(actor=tenants[i], item_id=ids[i], ranked_ids=[ids[j] for j in wanted])
    stalls = _round(actor, business, SOLVED_TITLE, "stall", "best_swaps", days=7)
    holders = _people(actor, STALLS, domain)
    ids = _list(actor, stalls, holders, STALLS)
    wishes = {0: [1, 2], 1: [2, 0], 2: [0], 3: [4], 4: [3, 0]}
    for i, wanted in wishes.items():
        rankings_set(actor=holders[i], item_id=ids[i], ranked_ids=[ids[j] for j in wanted])
    round_freeze(actor=actor, round_id=stalls.pk)
    round_solve(actor=actor, round_id=stalls.pk)
    return [homes, stalls]
