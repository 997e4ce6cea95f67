"""Admin for the books: accounts, transfers, postings and checkpoints, all read-only.

Money moves only through `ledger.services`; transfers and postings are append-only rows, and an
account's totals are caches kept by the services. The admin shows them, never edits them.
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from unfold.admin import TabularInline
from unfold.decorators import display

from core.admin import (
    ReadOnlyAdminMixin,
    ReadOnlyHistoryModelAdmin,
    ReadOnlyModelAdmin,
    format_money,
)

from ..models import Account, LedgerCheckpoint, Posting, Transfer


@admin.register(Account)
class AccountAdmin(ReadOnlyHistoryModelAdmin):
    """Ledger accounts with their balances."""

    list_display = (
        "code",
        "name",
        "type",
        "owner_kind",
        "currency",
        "posted_balance",
        "available",
        "pending_in",
        "closed",
    )
    list_filter = ("type", "owner_kind", "currency", "closed")
    search_fields = ("^code", "name", "=owner_ref")
    list_select_related = ()
    ordering = ("code",)
    list_per_page = 50
    readonly_fields = ("posted_balance", "available", "pending_in", "pending_out")

    @display(description=_("posted balance"))
    def posted_balance(self, obj: Account) -> str:
        return format_money(obj.posted_balance_minor, obj.currency)

    @display(description=_("available"))
    def available(self, obj: Account) -> str:
        return format_money(obj.available_minor, obj.currency)

    @display(description=_("pending in"))
    def pending_in(self, obj: Account) -> str:
        return format_money(obj.pending_in_minor, obj.currency)

    @display(description=_("pending out"))
    def pending_out(self, obj: Account) -> str:
        return format_money(obj.debits_pending, obj.currency)


class PostingInline(ReadOnlyAdminMixin, TabularInline):
    """The legs of a transfer."""

    model = Posting
    fields = ("account", "side", "phase", "amount", "currency")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Posting]:
        return super().get_queryset(request).select_related("account")

    @display(description=_("amount"))
    def amount(self, obj: Posting) -> str:
        return format_money(obj.amount_minor, obj.currency)


@admin.register(Transfer)
class TransferAdmin(ReadOnlyModelAdmin):
    """Transfers: immutable, chained by hash."""

    list_display = (
        "sequence",
        "kind",
        "debit_account",
        "credit_account",
        "amount",
        "reference",
        "created_by",
        "created_at",
    )
    list_filter = ("kind", "currency")
    search_fields = ("=sequence", "=reference", "=idempotency_key")
    list_select_related = ("debit_account", "credit_account", "created_by")
    raw_id_fields = ("pending", "debit_account", "credit_account", "created_by")
    ordering = ("-sequence",)
    inlines = (PostingInline,)
    list_per_page = 50
    show_full_result_count = False

    @display(description=_("amount"), ordering="amount_minor")
    def amount(self, obj: Transfer) -> str:
        return format_money(obj.amount_minor, obj.currency)


@admin.register(Posting)
class PostingAdmin(ReadOnlyModelAdmin):
    """Postings: one leg of a transfer on one account."""

    list_display = ("id", "transfer", "account", "side", "phase", "amount")
    list_filter = ("side", "phase", "currency")
    search_fields = ("=transfer__sequence", "^account__code")
    list_select_related = ("transfer", "account")
    raw_id_fields = ("transfer", "account")
    ordering = ("-transfer_id", "-id")
    list_per_page = 50
    show_full_result_count = False

    @display(description=_("amount"), ordering="amount_minor")
    def amount(self, obj: Posting) -> str:
        return format_money(obj.amount_minor, obj.currency)


@admin.register(LedgerCheckpoint)
class LedgerCheckpointAdmin(ReadOnlyModelAdmin):
    """The signed daily checkpoints of the chain's head: read-only, as the ledger itself."""

    list_display = ("day", "sequence", "hash", "key_id", "created_at", "created_by")
    list_filter = ("key_id",)
    search_fields = ("=hash", "=sequence")
    list_select_related = ("created_by",)
    ordering = ("-day",)
