"""The demo bureau's clearing: bank details for its participants and one settled cycle."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from ..models import (
    PARTICIPANT_KINDS,
    Account,
    BankAccountType,
    ClearingCycle,
    CycleStatus,
    HolderKind,
    OwnerKind,
)
from .bank_accounts import bank_account_save
from .cycles import cycle_close, cycle_open
from .settlement import cycle_file_generate, cycle_settle

if TYPE_CHECKING:
    from django.contrib.auth.models import User

_DEMO_BANKS = ["011000015", "026009593", "121000358", "111000025", "031000053", "061000104"]


@transaction.atomic
def demo_cycle_settle(*, actor: User) -> ClearingCycle | None:
    """Give the demo's participants bank details, then close and settle one cycle over every
    transfer so far, with its file (for `seed_demo`), all or nothing. Safe to run twice: a
    settled cycle exists already, so it returns None."""
    if ClearingCycle.objects.filter(status=CycleStatus.SETTLED).exists():
        return None
    participants = Account.objects.filter(owner_kind__in=PARTICIPANT_KINDS, currency="USD")
    for n, account in enumerate(participants.select_related("bank_account").order_by("code")):
        if hasattr(account, "bank_account"):
            continue
        bank_account_save(
            actor=actor,
            account_id=account.pk,
            holder_name=account.name,
            holder_kind=(
                HolderKind.INDIVIDUAL
                if account.owner_kind == OwnerKind.CIVILIAN
                else HolderKind.ORGANISATION
            ),
            routing_number=_DEMO_BANKS[n % len(_DEMO_BANKS)],
            account_number=f"{4_000_123_000 + 7919 * (n + 1)}",
            account_type=BankAccountType.SAVINGS if n % 3 == 2 else BankAccountType.CHECKING,
        )
    end = timezone.now().replace(microsecond=0)
    cycle = cycle_open(actor=actor, window_start=datetime(2000, 1, 1, tzinfo=UTC), window_end=end)
    cycle_close(actor=actor, cycle_id=cycle.pk)
    cycle_settle(actor=actor, cycle_id=cycle.pk)
    return cycle_file_generate(actor=actor, cycle_id=cycle.pk)
