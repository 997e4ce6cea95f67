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


def open_reservations(*, account_ids: list[int], outgoing: bool = False) -> QuerySet[Transfer]:
    """Pending transfers that are neither posted nor voided yet: to the accounts (money
    reserved for their holders), or with `outgoing` from them (money the holders asked to move
    that waits for approval)."""
    side = "debit_account_id__in" if outgoing else "credit_account_id__in"
    return (
        Transfer.objects.filter(
            kind=TransferKind.PENDING, resolutions__isnull=True, **{side: account_ids}
        )
        .select_related("debit_account", "credit_account")
        .order_by("sequence")
    )


def transfer_by_key(*, idempotency_key: str) -> Transfer | None:
    """The transfer written under `idempotency_key`, with both accounts, or None."""
    return (
        Transfer.objects.select_related("debit_account", "credit_account")
        .filter(idempotency_key=idempotency_key)
        .first()
    )


def transfer_is_resolved(*, pending_id: int) -> bool:
    """Whether a pending transfer was already posted or voided."""
    return Transfer.objects.filter(pending_id=pending_id).exists()


def payee_accounts(*, currency: str, owner_kinds: list[str]) -> QuerySet[Account]:
    """Open accounts of the given owner kinds in `currency`, by name (names and codes only:
    what a payee list may show)."""
    return (
        Account.objects.filter(owner_kind__in=owner_kinds, currency=currency, closed=False)
        .only("pk", "code", "name", "currency", "owner_kind")
        .order_by("name", "code")
    )


def account_by_code(*, code: str) -> Account | None:
    return Account.objects.filter(code=code).first()


def account_find(*, account_id: int) -> Account | None:
    """The account with this id, or None."""
    return Account.objects.filter(pk=account_id).first()
