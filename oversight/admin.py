"""Staff screens of oversight: the public holidays (editable), the service-level targets and
the breaches (read-only: marked by the beat task)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from core.admin import HistoryModelAdmin, ReadOnlyModelAdmin

from . import services
from .models import Breach, Holiday, ServiceLevelTarget


@admin.register(Holiday)
class HolidayAdmin(HistoryModelAdmin):
    list_display = ["date", "name"]
    search_fields = ["name"]
    date_hierarchy = "date"

    def save_model(self, request: HttpRequest, obj: Holiday, form: Any, change: bool) -> None:
        services.holiday_save(actor=request.user, holiday=obj)  # type: ignore[arg-type]

    def delete_model(self, request: HttpRequest, obj: Holiday) -> None:
        services.holiday_delete(actor=request.user, holiday_id=obj.pk)  # type: ignore[arg-type]

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for pk in queryset.values_list("pk", flat=True):
            services.holiday_delete(actor=request.user, holiday_id=pk)  # type: ignore[arg-type]


@admin.register(ServiceLevelTarget)
class ServiceLevelTargetAdmin(HistoryModelAdmin):
    list_display = ["service_type", "first_response_hours", "decision_hours"]
    list_select_related = ["service_type"]
    search_fields = ["service_type__name", "service_type__code"]
    autocomplete_fields = ["service_type"]

    def save_model(
        self, request: HttpRequest, obj: ServiceLevelTarget, form: Any, change: bool
    ) -> None:
        services.target_save(actor=request.user, target=obj)  # type: ignore[arg-type]


@admin.register(Breach)
class BreachAdmin(ReadOnlyModelAdmin):
    list_display = ["request", "clock", "due_at", "detected_at", "notify"]
    list_filter = ["clock", "notify"]
    list_select_related = ["request"]
    search_fields = ["request__tracking_number"]
    raw_id_fields = ["request"]
