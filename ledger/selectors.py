"""Read-only queries on the ledger."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from .models import Account, Transfer, TransferKind


def account_get(*, account_id: int) -> Account:
    return Account.objects.get(pk=account_id)


def transfers_for_reference(*, reference: str) -> QuerySet[Transfer]:
    """Every transfer carrying `reference`, oldest first, with both accounts."""
    return Transfer.objects.filter(reference=reference).select_related(
        "debit_account", "credit_account"
    )


def accounts_owned_by(*, owner_kind: str, owner_ref: str) -> QuerySet[Account]:
    """A participant's accounts, by the owner reference the owning app gave them."""
    return Account.objects.filter(owner_kind=owner_kind, owner_ref=owner_ref).order_by("code")


def transfers_touching(*, account_ids: list[int], limit: int = 20) -> list[Transfer]:
    """The latest transfers debiting or crediting any of the accounts, newest first."""
    if not account_ids:
        return []
    return list(
        Transfer.objects.filter(
            Q(debit_account_id__in=account_ids) | Q(credit_account_id__in=account_ids)
        )
        .select_related("debit_account", "credit_account")
        .order_by("-sequence")[:limit]
    )


def open_reservations(*, account_ids: list[int]) -> QuerySet[Transfer]:
    """Pending transfers to the accounts that are neither posted nor voided yet."""
    return (
        Transfer.objects.filter(
            kind=TransferKind.PENDING, credit_account_id__in=account_ids, resolutions__isnull=True
        )
        .select_related("debit_account", "credit_account")
        .order_by("sequence")
    )
