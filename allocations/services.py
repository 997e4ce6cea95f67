"""Every change in allocations: opening and funding funds, granting and paying claims.

For now a claim is granted in full when the fund's available balance covers it and otherwise
waits; allocation rounds with real rules replace that in their own issue.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction

from core.audit import record_history
from core.money import format_money
from governance.models import Program
from ledger import services as ledger
from ledger.models import Account, AccountType, OwnerKind

from .models import Claim, ClaimStatus, Fund

if TYPE_CHECKING:
    from django.contrib.auth.models import User

ERR_CLAIM_STATE = "Claim {reference} is {status}; it cannot be {action}."
ERR_CURRENCY = "The claim is in {claim}, the fund in {fund}."


class AllocationError(ValidationError):
    """A refused allocation operation; nothing was written."""


@transaction.atomic
def fund_open(
    *, actor: User, program: Program, code: str, name: str, currency: str = "USD"
) -> Fund:
    """Open a fund with its ledger account (never overdrawn) and its appropriation account."""
    existing = Fund.objects.filter(code=code).first()
    if existing is not None:
        return existing
    account = ledger.account_open(
        actor=actor,
        code=f"FUND-{code}".upper(),
        name=f"{name} (fund)",
        type=AccountType.LIABILITY,
        currency=currency,
        owner_kind=OwnerKind.FUND,
        owner_ref=code,
        debits_must_not_exceed_credits=True,
    )
    source = ledger.account_open(
        actor=actor,
        code=f"APPROP-{code}".upper(),
        name=f"{name} (appropriation)",
        type=AccountType.EQUITY,
        currency=currency,
        owner_kind=OwnerKind.BUREAU,
    )
    fund = Fund(
        program=program,
        code=code,
        name=name,
        currency=currency,
        account=account,
        source_account=source,
    )
    fund.full_clean()
    record_history(fund, actor=actor, reason="fund opened")
    fund.save()
    return fund


@transaction.atomic
def fund_credit(
    *, actor: User, fund: Fund, amount_minor: int, idempotency_key: str, memo: str = ""
) -> None:
    """Put appropriated money into the fund (a posted transfer from its appropriation account)."""
    ledger.transfer_create(
        actor=actor,
        idempotency_key=idempotency_key,
        debit_account_id=fund.source_account_id,
        credit_account_id=fund.account_id,
        amount_minor=amount_minor,
        currency=fund.currency,
        reference=f"fund:{fund.code}",
        memo=memo or "appropriation",
    )


def fund_available_minor(*, fund: Fund) -> int:
    """What the fund can still grant, read from its ledger account."""
    return Account.objects.get(pk=fund.account_id).available_minor


def _try_grant(*, actor: User, claim: Claim) -> None:
    """Grant `claim` in full if the fund covers it, else leave it waiting with the reason.

    The ledger decides under its own locks: the fund's account may not be overdrawn, so a
    refused obligation means the balance did not cover the claim at that moment.
    """
    try:
        with transaction.atomic():
            transfer = ledger.transfer_create(
                actor=actor,
                idempotency_key=f"claim-{claim.pk}-obligation",
                debit_account_id=claim.fund.account_id,
                credit_account_id=claim.payee_account_id,
                amount_minor=claim.amount_minor,
                currency=claim.currency,
                pending=True,
                reference=claim.reference,
                memo=f"obligation for {claim.reference}",
            )
    except ledger.LedgerError as refused:
        if refused.code != "exceeds_credits":
            raise
        available = fund_available_minor(fund=claim.fund)
        claim.explanation = (
            f"The fund had {format_money(available, claim.currency)} available; the claim asks "
            f"{format_money(claim.amount_minor, claim.currency)}, so it waits for funds."
        )
        return
    claim.obligation = transfer
    claim.granted_minor = claim.amount_minor
    claim.status = ClaimStatus.GRANTED
    claim.explanation = (
        f"Granted in full: {format_money(claim.amount_minor, claim.currency)} asked and available "
        "in the fund."
    )


@transaction.atomic
def claim_submit(
    *,
    actor: User,
    fund: Fund,
    reference: str,
    amount_minor: int,
    currency: str,
    payee_account: Account,
) -> Claim:
    """Make a claim on `fund` and grant it in full at once if the fund's balance covers it."""
    if currency != fund.currency:
        raise AllocationError(
            ERR_CURRENCY.format(claim=currency, fund=fund.currency), code="currency"
        )
    claim = Claim(
        fund=fund,
        reference=reference,
        amount_minor=amount_minor,
        currency=currency,
        payee_account=payee_account,
        created_by=actor,
    )
    claim.full_clean()
    record_history(claim, actor=actor, reason="claim submitted")
    claim.save()
    if fund.allocates_by_round:
        # The fund divides its money in allocation rounds: the claim waits for the next one.
        claim.explanation = (
            "The fund divides its money in allocation rounds: this claim waits for the next round."
        )
        record_history(claim, actor=actor, reason="waits for a round")
        claim.save(update_fields=["explanation"])
        return claim
    _try_grant(actor=actor, claim=claim)
    record_history(claim, actor=actor, reason=claim.status)
    claim.save()
    return claim


@transaction.atomic
def claims_grant_waiting(*, actor: User, fund: Fund) -> list[Claim]:
    """Grant waiting claims on `fund` oldest first while the balance covers them; returns those
    granted. A claim too large for what is left does not block smaller ones behind it. Claims
    held by an allocation round are left to the round."""
    granted = []
    # Lock the waiting claims: two finance officers granting at once grant each claim once.
    waiting = Claim.objects.select_for_update(of=("self",)).filter(
        fund=fund, status=ClaimStatus.AWAITING_FUNDS, round__isnull=True
    )
    for claim in waiting.select_related("fund").order_by("created_at", "pk"):
        _try_grant(actor=actor, claim=claim)
        record_history(claim, actor=actor, reason=claim.status)
        claim.save()
        if claim.status == ClaimStatus.GRANTED:
            granted.append(claim)
    return granted


@transaction.atomic
def claim_pay(*, actor: User, claim_id: int) -> Claim:
    """Post the claim's obligation: the money is now owed to the payee on the ledger."""
    # Lock the claim: a second click on "fulfil" waits, then finds it paid.
    claim = Claim.objects.select_for_update(of=("self",)).select_related("fund").get(pk=claim_id)
    if claim.status != ClaimStatus.GRANTED or claim.obligation_id is None:
        raise AllocationError(
            ERR_CLAIM_STATE.format(
                reference=claim.reference, status=claim.get_status_display().lower(), action="paid"
            ),
            code="state",
        )
    claim.payment = ledger.transfer_post_pending(
        actor=actor,
        idempotency_key=f"claim-{claim.pk}-payment",
        pending_id=claim.obligation_id,
        memo=f"payment for {claim.reference}",
    )
    claim.status = ClaimStatus.PAID
    record_history(claim, actor=actor, reason="paid")
    claim.save()
    return claim
