"""Claims on a fund: granted in full when the ledger balance covers them, else they wait."""

from __future__ import annotations

import pytest

from allocations import services
from allocations.models import ClaimStatus
from ledger import services as ledger
from ledger.models import Account, OwnerKind


@pytest.fixture
def payee(actor):  # type: ignore[no-untyped-def]
    return ledger.payee_account_for(
        actor=actor, owner_kind=OwnerKind.CIVILIAN, owner_ref="42", name="Payee", currency="USD"
    )


def test_claim_is_granted_in_full_when_the_fund_covers_it(actor, rent_fund, payee):
    claim = services.claim_submit(
        actor=actor,
        fund=rent_fund,
        reference="HMS-2026-000001",
        amount_minor=250_000,
        currency="USD",
        payee_account=payee,
    )
    assert claim.status == ClaimStatus.GRANTED
    assert claim.granted_minor == 250_000
    fund_account = Account.objects.get(pk=rent_fund.account_id)
    assert fund_account.debits_pending == 250_000
    assert fund_account.available_minor == 750_000
    assert Account.objects.get(pk=payee.pk).credits_pending == 250_000


def test_claim_waits_when_the_fund_cannot_cover_it_and_is_granted_when_money_arrives(
    actor, rent_fund, payee
):
    big = services.claim_submit(
        actor=actor,
        fund=rent_fund,
        reference="HMS-2026-000002",
        amount_minor=1_500_000,
        currency="USD",
        payee_account=payee,
    )
    assert big.status == ClaimStatus.AWAITING_FUNDS
    assert big.obligation is None
    assert "$10,000.00 available" in big.explanation
    assert Account.objects.get(pk=rent_fund.account_id).debits_pending == 0

    services.fund_credit(actor=actor, fund=rent_fund, amount_minor=600_000, idempotency_key="topup")
    granted = services.claims_grant_waiting(actor=actor, fund=rent_fund)
    assert [c.pk for c in granted] == [big.pk]
    big.refresh_from_db()
    assert big.status == ClaimStatus.GRANTED
    assert Account.objects.get(pk=rent_fund.account_id).available_minor == 100_000


def test_paying_a_claim_posts_its_obligation_once(actor, rent_fund, payee):
    claim = services.claim_submit(
        actor=actor,
        fund=rent_fund,
        reference="HMS-2026-000003",
        amount_minor=100_000,
        currency="USD",
        payee_account=payee,
    )
    services.claim_pay(actor=actor, claim_id=claim.pk)
    payee.refresh_from_db()
    assert (payee.credits_pending, payee.credits_posted) == (0, 100_000)
    with pytest.raises(services.AllocationError, match="is paid; it cannot be paid"):
        services.claim_pay(actor=actor, claim_id=claim.pk)
    payee.refresh_from_db()
    assert payee.credits_posted == 100_000
