"""Participants' bank details: the account each one settles to by ACH."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction

from core.audit import record_history

from ..ach import routing_number_is_valid
from ..clearing_errors import ClearingError
from ..models import ERR_ROUTING_NUMBER, Account, BankAccount, BankAccountType

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def bank_account_validate_routing(routing_number: str) -> None:
    """Refuse a routing number without 9 digits and a right ABA check digit (forms call this)."""
    if not routing_number_is_valid(routing_number):
        raise ClearingError(
            ERR_ROUTING_NUMBER.format(value=routing_number), code="routing_check_digit"
        )


@transaction.atomic
def bank_account_save(
    *,
    actor: User,
    account_id: int,
    holder_name: str,
    holder_kind: str,
    routing_number: str,
    account_number: str = "",
    account_type: str = BankAccountType.CHECKING,
    identification: str = "",
) -> BankAccount:
    """Set the bank account a participant settles to (finance officers, via the admin).

    On a change, a blank `account_number` keeps the stored one (the form never shows it).
    The routing number's check digit is verified here and in the model's `clean()`.
    """
    bank_account_validate_routing(routing_number)
    # Lock the row so two editors do not interleave their changes (last one wins, whole).
    bank = BankAccount.objects.select_for_update().filter(account_id=account_id).first()
    if bank is None:
        bank = BankAccount(account=Account.objects.get(pk=account_id))
        reason = "bank account added"
    else:
        reason = "bank account changed"
    bank.holder_name = holder_name
    bank.holder_kind = holder_kind
    bank.routing_number = routing_number
    if account_number or bank.pk is None:
        bank.account_number = account_number
    bank.account_type = account_type
    bank.identification = identification
    bank.full_clean()
    record_history(bank, actor=actor, reason=reason)
    bank.save()
    return bank
