"""Opening accounts (the one ledger change that goes through the ORM: it is rare, and the
account row is under history)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction

from core.audit import record_history

from ..models import Account, AccountType
from .errors import check_text

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def account_open(
    *,
    actor: User,
    code: str,
    name: str,
    type: str,
    currency: str,
    owner_kind: str,
    owner_ref: str = "",
    debits_must_not_exceed_credits: bool = False,
    credits_must_not_exceed_debits: bool = False,
) -> Account:
    """Open an account, or return the open one with the same code (safe to call twice).
    Text that cannot be stored (a lone surrogate, a NUL) is refused as `invalid_text`."""
    check_text(code=code, name=name, currency=currency, owner_ref=owner_ref)
    with transaction.atomic():
        existing = Account.objects.filter(code=code).first()
        if existing is not None:
            return existing
        account = Account(
            code=code,
            name=name,
            type=type,
            currency=currency,
            owner_kind=owner_kind,
            owner_ref=owner_ref,
            debits_must_not_exceed_credits=debits_must_not_exceed_credits,
            credits_must_not_exceed_debits=credits_must_not_exceed_debits,
        )
        account.full_clean()
        record_history(account, actor=actor, reason="account opened")
        account.save()
        return account


def payee_account_for(
    *, actor: User, owner_kind: str, owner_ref: str, name: str, currency: str
) -> Account:
    """The liability account the bureau owes a participant on (one per owner and currency)."""
    return account_open(
        actor=actor,
        code=f"PAYEE-{owner_kind.upper()}-{owner_ref}-{currency}",
        name=name,
        type=AccountType.LIABILITY,
        currency=currency,
        owner_kind=owner_kind,
        owner_ref=owner_ref,
    )
