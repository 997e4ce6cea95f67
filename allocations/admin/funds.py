"""Admin of funds."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from unfold.decorators import display

from core.admin import ReadOnlyHistoryModelAdmin, format_money

from ..models import Fund


@admin.register(Fund)
class FundAdmin(ReadOnlyHistoryModelAdmin):
    """Funds and what their ledger account can still pay out."""

    list_display = ("code", "name", "program", "currency", "available", "allocates_by_round")
    list_filter = ("program", "currency", "allocates_by_round")
    search_fields = ("^code", "name")
    list_select_related = ("program", "account")
    raw_id_fields = ("program", "account", "source_account")
    readonly_fields = ("available",)
    ordering = ("name",)
    list_per_page = 50

    @display(description=_("available"))
    def available(self, obj: Fund) -> str:
        return format_money(obj.account.available_minor, obj.currency)
