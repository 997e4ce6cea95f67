"""Admin of funds."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from unfold.decorators import display

from core.admin import ReadOnlyHistoryModelAdmin, format_money

from .. import services
from ..models import GRANT_CLAIMS_PERMISSION, Fund


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
    actions = ("grant_waiting_claims",)

    @display(description=_("available"))
    def available(self, obj: Fund) -> str:
        return format_money(obj.account.available_minor, obj.currency)

    def has_grant_claims_permission(self, request: HttpRequest) -> bool:
        """Granting waiting claims obligates money: finance officers only."""
        return bool(request.user.has_perm(GRANT_CLAIMS_PERMISSION))

    @admin.action(description=_("Grant waiting claims"), permissions=["grant_claims"])
    def grant_waiting_claims(self, request: HttpRequest, queryset: QuerySet[Fund]) -> None:
        """Pay out each fund's waiting claims in turn; their requests move to funded."""
        for fund in queryset:
            try:
                granted = services.fund_grant_waiting(
                    actor=request.user,  # type: ignore[arg-type]
                    fund_id=fund.pk,
                )
            except ValidationError as error:
                self.message_user(request, error.messages[0], level=messages.ERROR)
                continue
            self.message_user(
                request,
                ngettext(
                    "%(fund)s: %(count)d waiting request funded.",
                    "%(fund)s: %(count)d waiting requests funded.",
                    len(granted),
                )
                % {"fund": fund, "count": len(granted)},
                level=messages.SUCCESS,
            )
