"""Claims on funds: making one, granting waiting ones while the fund covers them, paying one,
and the terms a round reads for a claim (weight, priority class, guaranteed minimum, cap,
eligibility).

Outside allocation rounds a claim is granted in full when the fund's available balance covers
it and otherwise waits; a fund that allocates by round leaves its claims to the next round.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from django.db import transaction

from core import events
from core.audit import record_history
from core.money import format_money
from ledger import services as ledger
from ledger.models import Account

from ..models import (
    GRANT_CLAIMS_PERMISSION,
    RUN_ROUND_PERMISSION,
    Claim,
    ClaimStatus,
    Fund,
    RoundState,
)
from ..selectors import fund_available_minor
from .common import require
from .errors import AllocationError, RoundError

if TYPE_CHECKING:
    from django.contrib.auth.models import User

ERR_CLAIM_STATE = "Claim {reference} is {status}; it cannot be {action}."
ERR_NO_GRANT = "Only finance officers may grant a fund's waiting claims."
ERR_CURRENCY = "The claim is in {claim}, the fund in {fund}."
ERR_TERMS_STATE = "Claim {reference} is frozen in round “{round}”: its terms can no longer change."
ERR_TERMS_STATUS = "Claim {reference} is {status}: its terms no longer matter to any round."
ERR_WEIGHT = "The weight is a whole number of at least 1."
ERR_PRIORITY = "The priority class is a whole number, 0 or more (lower classes are served first)."
ERR_FLOOR = "The guaranteed minimum must be between 0 and the {asked} asked."
ERR_CAP = (
    "The cap must be more than 0, at least the guaranteed minimum ({floor}) and at most the "
    "{asked} asked."
)
ERR_REASON_REQUIRED = "Give the reason the claim is not eligible (it is published with the round)."
ERR_REASON_ELIGIBLE = "Leave the reason empty for an eligible claim."
ERR_REASON_LONG = "Keep the reason under {limit} characters."


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
    held by an allocation round are left to the round. The granted claims are announced
    (`core.events.CLAIMS_GRANTED`), so the app that owns what is behind them acts on them in
    this transaction."""
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
    if granted:
        events.announce(events.CLAIMS_GRANTED, claim_ids=[c.pk for c in granted], actor=actor)
    return granted


@transaction.atomic
def fund_grant_waiting(*, actor: User, fund_id: int) -> list[Claim]:
    """`claims_grant_waiting` for a finance officer's click: granting obligates the fund's
    money, so only holders of `allocations.grant_claims` may. Returns the claims granted."""
    if not actor.is_active or not actor.has_perm(GRANT_CLAIMS_PERMISSION):
        raise AllocationError(ERR_NO_GRANT, code="forbidden")
    # Lock the fund: two officers granting at once take their turns.
    fund = Fund.objects.select_for_update().get(pk=fund_id)
    return claims_grant_waiting(actor=actor, fund=fund)


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


def claim_validate_editable(*, claim: Claim) -> None:
    """A claim's terms change only while it waits for funds and its round (if any) is open."""
    if claim.status != ClaimStatus.AWAITING_FUNDS:
        raise RoundError(
            ERR_TERMS_STATUS.format(
                reference=claim.reference, status=claim.get_status_display().lower()
            ),
            code="state",
        )
    if claim.round is not None and claim.round.state != RoundState.OPEN:
        raise RoundError(
            ERR_TERMS_STATE.format(reference=claim.reference, round=claim.round.name),
            code="state",
        )


def claim_validate_terms(
    *,
    claim: Claim,
    weight: int,
    priority: int,
    floor_minor: int,
    cap_minor: int | None,
    eligible: bool,
    exclusion_reason: str,
) -> None:
    """The terms a round may read for `claim`: weight at least 1, priority class 0 or more,
    0 ≤ floor ≤ cap ≤ amount asked, and a (public) reason exactly when the claim is excluded.
    Refusals are keyed by field, so the admin form shows each beside its input."""
    money = partial(format_money, currency=claim.currency)
    errors: dict[str, str] = {}
    if weight < 1:
        errors["weight"] = ERR_WEIGHT
    if priority < 0:
        errors["priority"] = ERR_PRIORITY
    if not 0 <= floor_minor <= claim.amount_minor:
        errors["floor_minor"] = ERR_FLOOR.format(asked=money(claim.amount_minor))
    if cap_minor is not None and not (
        cap_minor > 0 and floor_minor <= cap_minor <= claim.amount_minor
    ):
        errors["cap_minor"] = ERR_CAP.format(
            floor=money(floor_minor), asked=money(claim.amount_minor)
        )
    limit = Claim._meta.get_field("exclusion_reason").max_length or 200
    if not eligible and not exclusion_reason:
        errors["exclusion_reason"] = ERR_REASON_REQUIRED
    elif eligible and exclusion_reason:
        errors["exclusion_reason"] = ERR_REASON_ELIGIBLE
    elif len(exclusion_reason) > limit:
        errors["exclusion_reason"] = ERR_REASON_LONG.format(limit=limit)
    if errors:
        raise RoundError(errors)


@transaction.atomic
def claim_set_terms(
    *,
    actor: User,
    claim_id: int,
    weight: int | None = None,
    priority: int | None = None,
    floor_minor: int | None = None,
    cap_minor: int | bool | None = False,
    eligible: bool | None = None,
    exclusion_reason: str | None = None,
) -> Claim:
    """Set the terms a round reads for a claim (finance officers), while it waits for funds and
    until its round freezes. `cap_minor=None` removes the cap; leaving it out keeps it."""
    require(actor, RUN_ROUND_PERMISSION, "set claim terms for")
    # Lock the claim: two officers editing it at once save one after the other, and a round
    # freezing meanwhile either reads the first's terms or refuses the second's.
    claim = Claim.objects.select_for_update(of=("self",)).select_related("round").get(pk=claim_id)
    claim_validate_editable(claim=claim)
    if weight is not None:
        claim.weight = weight
    if priority is not None:
        claim.priority = priority
    if floor_minor is not None:
        claim.floor_minor = floor_minor
    if cap_minor is not False:
        claim.cap_minor = cap_minor  # type: ignore[assignment]
    if eligible is not None:
        claim.eligible = eligible
    if exclusion_reason is not None:
        claim.exclusion_reason = exclusion_reason.strip()
    if eligible and exclusion_reason is None:
        claim.exclusion_reason = ""
    claim_validate_terms(
        claim=claim,
        weight=claim.weight,
        priority=claim.priority,
        floor_minor=claim.floor_minor,
        cap_minor=claim.cap_minor,
        eligible=claim.eligible,
        exclusion_reason=claim.exclusion_reason,
    )
    claim.full_clean()
    record_history(claim, actor=actor, reason="terms set")
    claim.save()
    return claim
