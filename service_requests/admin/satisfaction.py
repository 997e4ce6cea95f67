"""Civilians' ratings of closed requests, for staff reporting."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from unfold.decorators import display

from core.admin import ReadOnlyModelAdmin

from ..models import SatisfactionResponse
from ..selectors import requests_for_staff


@admin.register(SatisfactionResponse)
class SatisfactionResponseAdmin(ReadOnlyModelAdmin):
    """Civilians' ratings of closed requests (staff reporting), scoped like the requests:
    each staff member sees the answers on the requests they may see. Never changed."""

    list_display = ("request", "service_type", "score", "short_comment", "language", "created_at")
    list_filter = ("score", "service_type", "language", "created_at")
    search_fields = ("^request__tracking_number", "comment")
    list_select_related = ("request", "service_type")
    raw_id_fields = ("request", "service_type", "respondent")
    ordering = ("-created_at", "-id")
    date_hierarchy = "created_at"

    def get_queryset(self, request: HttpRequest) -> QuerySet[SatisfactionResponse]:
        visible = requests_for_staff(user=request.user).values("pk")
        return super().get_queryset(request).filter(request__in=visible)

    @display(description=_("comment"))
    def short_comment(self, obj: SatisfactionResponse) -> str:
        return obj.comment if len(obj.comment) <= 80 else obj.comment[:79] + "…"
