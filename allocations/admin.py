"""Admin for funds and claims, read-only: money moves only through `allocations.services`.

The "grant waiting claims" action on funds moves requests on too, so it lives with the requests
(`service_requests.admin` extends `FundAdmin`): allocations knows nothing of requests.
"""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from unfold.decorators import display

from hms_portal.admin import ReadOnlyHistoryModelAdmin, format_money

from .models import Claim, ClaimStatus, Fund

CLAIM_STATUS_LABELS = {
    ClaimStatus.AWAITING_FUNDS: "warning",
    ClaimStatus.GRANTED: "info",
    ClaimStatus.PAID: "success",
    ClaimStatus.CANCELLED: "danger",
}


@admin.register(Fund)
class FundAdmin(ReadOnlyHistoryModelAdmin):
    """Funds and what their ledger account can still pay out."""

    list_display = ("code", "name", "program", "currency", "available", "account")
    list_filter = ("program", "currency")
    search_fields = ("^code", "name")
    list_select_related = ("program", "account")
    raw_id_fields = ("program", "account", "source_account")
    readonly_fields = ("available",)
    ordering = ("name",)
    list_per_page = 50

    @display(description=_("available"))
    def available(self, obj: Fund) -> str:
        return format_money(obj.account.available_minor, obj.currency)


@admin.register(Claim)
class ClaimAdmin(ReadOnlyHistoryModelAdmin):
    """Claims on funds, read-only."""

    list_display = ("reference", "fund", "status_label", "asked", "granted", "created_at")
    list_filter = ("status", "fund")
    search_fields = ("=reference",)
    list_select_related = ("fund",)
    raw_id_fields = ("fund", "payee_account", "obligation", "payment", "created_by")
    readonly_fields = ("asked", "granted")
    ordering = ("-created_at", "-id")
    list_per_page = 50
    show_full_result_count = False

    @display(description=_("status"), ordering="status", label=CLAIM_STATUS_LABELS)
    def status_label(self, obj: Claim) -> tuple[str, str]:
        return obj.status, obj.get_status_display()

    @display(description=_("asked"), ordering="amount_minor")
    def asked(self, obj: Claim) -> str:
        return format_money(obj.amount_minor, obj.currency)

    @display(description=_("granted"), ordering="granted_minor")
    def granted(self, obj: Claim) -> str:
        return format_money(obj.granted_minor, obj.currency)
