"""Fixtures for allocation rounds: a fund that allocates by round, waiting claims on it, and a
finance officer holding the round permissions (as the role migration grants them)."""

from __future__ import annotations

import pytest

from allocations import services as allocations
from allocations.models import AllocationRound, Fund, RoundState
from governance import services as governance
from ledger import services as ledger
from ledger.models import OwnerKind


@pytest.fixture
def officer(finance_officer):  # type: ignore[no-untyped-def]
    """The finance officer: the role grants the round permissions."""
    return finance_officer


@pytest.fixture
def round_fund(rent_fund):  # type: ignore[no-untyped-def]
    """The rent fund (10,000.00 USD), dividing its money in allocations."""
    Fund.objects.filter(pk=rent_fund.pk).update(allocates_by_round=True)
    rent_fund.refresh_from_db()
    return rent_fund


def make_claims(actor, fund, amounts, *, prefix="HMS-2026-9"):  # type: ignore[no-untyped-def]
    """Waiting claims on `fund` for `amounts` (minor units), one payee each."""
    claims = []
    for n, amount in enumerate(amounts, start=1):
        payee = ledger.payee_account_for(
            actor=actor,
            owner_kind=OwnerKind.CIVILIAN,
            owner_ref=f"{prefix}{n}",
            name=f"Payee {n}",
            currency=fund.currency,
        )
        claims.append(
            allocations.claim_submit(
                actor=actor,
                fund=fund,
                reference=f"{prefix}{n:05d}",
                amount_minor=amount,
                currency=fund.currency,
                payee_account=payee,
            )
        )
    return claims


@pytest.fixture
def waiting_claims(actor, round_fund):  # type: ignore[no-untyped-def]
    """Three claims asking 6,000.00, 3,000.00 and 2,000.00: more than the fund holds."""
    return make_claims(actor, round_fund, [600_000, 300_000, 200_000])


def state_of(round_: AllocationRound) -> str:
    """The stored state (the FSM field is protected, so no refresh_from_db)."""
    return AllocationRound.objects.values_list("state", flat=True).get(pk=round_.pk)


def computed_round(officer, fund, *, rule="max_min", budget=900_000, **kwargs):  # type: ignore[no-untyped-def]
    round_ = allocations.round_create(
        actor=officer,
        fund=fund,
        name="Spring rent relief",
        budget_minor=budget,
        rule=rule,
        **kwargs,
    )
    allocations.round_open(actor=officer, round_id=round_.pk)
    allocations.round_freeze(actor=officer, round_id=round_.pk)
    return allocations.round_compute(actor=officer, round_id=round_.pk)


def approved_round(officer, supervisor, fund, **kwargs):  # type: ignore[no-untyped-def]
    round_ = computed_round(officer, fund, **kwargs)
    round_ = allocations.round_send_for_approval(actor=officer, round_id=round_.pk)
    governance.case_decide(
        actor=supervisor,
        case_id=round_.approval_case_id,
        outcome="approve",
        reason="The rule and budget match the program's plan.",
    )
    assert state_of(round_) == RoundState.APPROVED
    return round_


def open_voting_round(officer, fund, *, budget=700_000):  # type: ignore[no-untyped-def]
    """An open participatory round (method of equal shares) on `fund`."""
    round_ = allocations.round_create(
        actor=officer,
        fund=fund,
        name="Neighbourhood projects",
        budget_minor=budget,
        rule="equal_shares",
    )
    return allocations.round_open(actor=officer, round_id=round_.pk)
