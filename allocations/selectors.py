"""Reads of allocations: what a fund can still grant, the round screens (the public pages, the
metrics side by side, the chart), what a commit granted, ballots and their voters' pseudonyms."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db.models import Count, Q, QuerySet, Sum
from django.http import Http404

from core.db import id_in
from core.money import format_money
from ledger import selectors as ledger

from . import conf, rules
from .models import (
    AllocationBallot,
    AllocationGrant,
    AllocationRound,
    Claim,
    ClaimStatus,
    Fund,
    RoundSnapshot,
    RoundState,
)
from .rules import snapshot as frozen

if TYPE_CHECKING:
    from django.contrib.auth.models import User

METRIC_ROWS: list[tuple[str, str, str]] = [
    # (key, label, kind): kind "money", "count", "share" (a fraction "p/q") or "index"
    ("granted", "Total granted", "money"),
    ("unspent", "Unspent", "money"),
    ("share_min", "Smallest share of demand met", "share"),
    ("share_median", "Median share of demand met", "share"),
    ("fully_met", "Claims met in full", "count"),
    ("gini_amount", "Gini on amounts (0 = equal)", "index"),
    ("jain_amount", "Jain's index on amounts (1 = equal)", "index"),
    ("gini_share", "Gini on shares met", "index"),
    ("jain_share", "Jain's index on shares met", "index"),
]


def fund_available_minor(*, fund: Fund) -> int:
    """What the fund can still grant, read from its ledger account."""
    return ledger.account_get(account_id=fund.account_id).available_minor


def rounds_committed() -> QuerySet[AllocationRound]:
    """Committed rounds, newest first (public)."""
    return (
        AllocationRound.objects.filter(state=RoundState.COMMITTED)
        .select_related("fund", "fund__program")
        .order_by("-committed_at", "-pk")
    )


def round_committed(round_id: int) -> AllocationRound:
    """A committed round, or 404: nothing else is public."""
    round_ = rounds_committed().filter(pk=round_id).first()
    if round_ is None:
        raise Http404("No such committed round.")
    return round_


def grants_of(round_: AllocationRound) -> QuerySet[AllocationGrant]:
    """The round's grants by line, without any link to who the claimant is."""
    return (
        AllocationGrant.objects.filter(round=round_)
        .order_by("line")
        .only("line", "asked_minor", "granted_minor", "code", "explanation")
    )


def round_recompute(*, round_: AllocationRound) -> rules.Result:
    """Recompute a frozen round from its stored snapshot (read-only: for checks and the
    public page's "recompute" figures)."""
    data = RoundSnapshot.objects.get(round=round_).data.encode("utf-8")
    loaded = frozen.load(data)
    return rules.allocate(loaded.table, loaded.spec, loaded.ballots)


@dataclass(frozen=True)
class Commitment:
    """What committing a round put into the ledger: the amount granted to the claims it paid
    (minor units, in the round's currency) and how many they are."""

    granted_minor: int
    grants: int


def round_commitment(round_: AllocationRound) -> Commitment:
    """The claims a committed round granted, with their total (one query). Claims with a zero
    grant, or no longer waiting for funds at the commit, left the round and are not counted."""
    totals = Claim.objects.filter(round=round_, obligation__isnull=False).aggregate(
        granted=Sum("granted_minor"), grants=Count("pk")
    )
    return Commitment(granted_minor=totals["granted"] or 0, grants=totals["grants"])


def _value(kind: str, raw: Any, currency: str) -> str:
    if raw is None:
        return "—"
    if kind == "money":
        return format_money(int(raw), currency)
    if kind == "share":
        return rules.percent(raw)
    return str(raw)


@dataclass(frozen=True)
class MetricsTable:
    headers: list[str]
    rows: list[tuple[str, list[str]]]
    errors: list[tuple[str, str]]


def metrics_table(round_: AllocationRound) -> MetricsTable | None:
    """The metrics of the round's result and, beside it, of every other applicable rule on the
    same snapshot (the round's own rule first)."""
    data = round_.metrics or {}
    by_rule: dict[str, Any] = data.get("rules") or {}
    if not by_rule:
        return None
    order = [round_.rule] + [r for r in rules.RULES if r in by_rule and r != round_.rule]
    usable = [r for r in order if r in by_rule and "error" not in by_rule[r]]
    headers = [
        f"{rules.LABELS[r]} (this round)" if r == round_.rule else rules.LABELS[r] for r in usable
    ]
    rows = [
        (label, [_value(kind, by_rule[r].get(key), round_.currency) for r in usable])
        for key, label, kind in METRIC_ROWS
    ]
    errors = [
        (rules.LABELS[r], by_rule[r]["error"]) for r in order if "error" in by_rule.get(r, {})
    ]
    return MetricsTable(headers, rows, errors)


@dataclass(frozen=True)
class Bar:
    x: float
    width: float
    demand_y: float
    demand_h: float
    grant_y: float
    grant_h: float
    title: str


def demand_chart(round_: AllocationRound, *, height: float = 160.0) -> list[Bar]:
    """Demand against grant per claim, claims sorted by demand (an even sample of a large
    round), as bars scaled to the largest demand."""
    grants = AllocationGrant.objects.filter(round=round_)
    total = grants.count()
    if total == 0:
        return []
    points = min(total, int(conf.get("CHART_POINTS")))
    ordered = grants.order_by("asked_minor", "line").values_list(
        "line", "asked_minor", "granted_minor"
    )
    if points == total:
        sample = list(ordered)
    else:
        picks = {round(i * (total - 1) / (points - 1)) for i in range(points)}
        sample = [row for i, row in enumerate(ordered.iterator(chunk_size=5_000)) if i in picks]
    top = max(asked for _, asked, _ in sample) or 1
    width = 100.0 / len(sample)
    bars = []
    for i, (line, asked, granted) in enumerate(sample):
        demand_h = height * asked / top
        grant_h = height * granted / top
        bars.append(
            Bar(
                x=i * width,
                width=max(width * 0.8, 0.05),
                demand_y=height - demand_h,
                demand_h=demand_h,
                grant_y=height - grant_h,
                grant_h=grant_h,
                title=(
                    f"Line {line}: asked {format_money(asked, round_.currency)}, granted "
                    f"{format_money(granted, round_.currency)}"
                ),
            )
        )
    return bars


@dataclass(frozen=True)
class GrantedClaim:
    """What a claim asked and was granted (minor units), for the app that owns its subject."""

    claim_id: int
    asked_minor: int
    granted_minor: int
    currency: str
    explanation: str

    @property
    def partial(self) -> bool:
        return 0 < self.granted_minor < self.asked_minor


def claims_granted(*, claim_ids: Iterable[int]) -> dict[int, GrantedClaim]:
    """The granted amounts of `claim_ids` (one query), by claim id."""
    rows = Claim.objects.filter(id_in(Claim, "id", claim_ids), granted_minor__gt=0).values_list(
        "pk", "amount_minor", "granted_minor", "currency", "explanation"
    )
    return {row[0]: GrantedClaim(*row) for row in rows}


def rounds_open_for_votes() -> QuerySet[AllocationRound]:
    """Participatory rounds taking ballots now (public), newest first."""
    return (
        AllocationRound.objects.filter(state=RoundState.OPEN, rule__in=sorted(rules.BALLOT_RULES))
        .select_related("fund")
        .order_by("-created_at", "-pk")
    )


def round_for_voting(round_id: int) -> AllocationRound:
    """A participatory round that is open for votes or was (its voters may look back at their
    ballot), or 404."""
    round_ = (
        AllocationRound.objects.filter(pk=round_id, rule__in=sorted(rules.BALLOT_RULES))
        .exclude(state__in=[RoundState.DRAFT, RoundState.CANCELLED])
        .select_related("fund")
        .first()
    )
    if round_ is None:
        raise Http404("No such participatory round.")
    return round_


@dataclass(frozen=True)
class Project:
    claim_id: int
    reference: str
    cost: str


def ballot_claims(round_: AllocationRound) -> QuerySet[Claim]:
    """The claims a voter may approve: the round's eligible claims still waiting for funds."""
    return Claim.objects.filter(round=round_, status=ClaimStatus.AWAITING_FUNDS, eligible=True)


def projects_of(round_: AllocationRound) -> list[Project]:
    """The projects on the ballot (`ballot_claims`), in claim order, with their cost (one
    query)."""
    rows = ballot_claims(round_).order_by("pk").values_list("pk", "reference", "amount_minor")
    return [Project(pk, ref, format_money(cost, round_.currency)) for pk, ref, cost in rows]


def voter_ref_for(user: User) -> str:
    """The voter's pseudonym in every round: a keyed hash of the account (never its email or
    name), so the published ballots cannot be traced to a person without the portal's key."""
    key = settings.SECRET_KEY.encode("utf-8")
    return hmac.new(key, f"allocations-voter:{user.pk}".encode(), hashlib.sha256).hexdigest()


def ballot_of(round_: AllocationRound, voter_ref: str) -> AllocationBallot | None:
    """The voter's ballot in the round, if they cast one."""
    return AllocationBallot.objects.filter(round=round_, voter_ref=voter_ref).first()


def round_cases_of_fund_officer(user_id: int) -> Q:
    """The approval cases (a filter on governance's `ApprovalCase`) of the rounds of the funds
    `user_id` is a finance officer of: separation of duties keeps them from deciding these."""
    rounds = AllocationRound.objects.filter(fund__officers=user_id, approval_case__isnull=False)
    return Q(pk__in=rounds.values("approval_case_id"))


@dataclass(frozen=True)
class FundBalance:
    """A fund's budget chain as its ledger account holds it (minor units): credited, obligated
    (reserved for granted claims, not yet paid), spent (paid out) and available (credited less
    obligated and spent: `ledger.models.Account.available_minor`)."""

    code: str
    program_id: int
    currency: str
    budget_minor: int
    obligated_minor: int
    spent_minor: int
    available_minor: int


def fund_balances(*, program_ids: Iterable[int] | None = None) -> list[FundBalance]:
    """Every fund's balances (of `program_ids` only when given), by code, in one query."""
    funds = Fund.objects.select_related("account").order_by("code")
    if program_ids is not None:
        funds = funds.filter(program_id__in=list(program_ids))
    return [
        FundBalance(
            code=fund.code,
            program_id=fund.program_id,
            currency=fund.currency,
            budget_minor=fund.account.credits_posted,
            obligated_minor=fund.account.debits_pending,
            spent_minor=fund.account.debits_posted,
            available_minor=fund.account.available_minor,
        )
        for fund in funds
    ]
