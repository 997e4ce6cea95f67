"""Read-only queries of a participant's money: their own accounts and the rules of approval."""

from __future__ import annotations

from typing import TYPE_CHECKING

from governance.models import Program
from ledger import conf as ledger_conf
from ledger import selectors as ledger_selectors
from ledger.models import Account, OwnerKind

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def participant_accounts(*, user: User) -> list[Account]:
    """The accounts the portfolio shows as the user's own."""
    return list(
        ledger_selectors.accounts_owned_by(owner_kind=OwnerKind.CIVILIAN, owner_ref=str(user.pk))
    )


def approval_threshold() -> int:
    """The largest transfer a participant makes without a second person's approval."""
    return int(ledger_conf.get("PARTICIPANT_APPROVAL_ABOVE_MINOR"))


def approval_program() -> Program | None:
    """The program whose policy approves participants' transfers above the threshold (None:
    such transfers are refused)."""
    code = ledger_conf.get("PARTICIPANT_APPROVAL_PROGRAM")
    if not code:
        return None
    return Program.objects.filter(code=code, active=True).first()
