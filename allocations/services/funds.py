"""Funds: opening one with its ledger accounts, and putting appropriated money into it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied
from django.db import transaction

from core.audit import record_history
from governance.models import Program
from ledger import services as ledger
from ledger.models import AccountType, OwnerKind

from ..models import Fund

if TYPE_CHECKING:
    from django.contrib.auth.models import User

ERR_OFFICERS_ADMIN_ONLY = "Only an administrator may name a fund's finance officers."


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


@transaction.atomic
def fund_officers_set(*, actor: User, fund_id: int, officer_ids: list[int]) -> Fund:
    """Name the fund's finance officers (administrators). Separation of duties then keeps
    each of them from deciding the approval cases of the fund's allocation rounds; the change
    is in the fund's history with `actor`."""
    if not (actor.is_active and actor.is_superuser):
        raise PermissionDenied(ERR_OFFICERS_ADMIN_ONLY)
    # Lock the fund: two administrators naming officers at once save one after the other.
    fund = Fund.objects.select_for_update().get(pk=fund_id)
    record_history(fund, actor=actor, reason="finance officers named")
    fund.officers.set(officer_ids)
    fund.save()
    return fund
