"""Service types and their questions: configuration superusers edit and staff read."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from unfold.admin import TabularInline
from unfold.decorators import display

from core.admin import HistoryModelAdmin, SuperuserConfigAdminMixin, format_money

from ..models import ServiceQuestion, ServiceType


class ServiceQuestionInline(TabularInline):
    """The extra questions civilians answer when they file for this service."""

    model = ServiceQuestion
    fields = (
        "position",
        "code",
        "label",
        "label_es",
        "kind",
        "choices",
        "choices_es",
        "required",
        "help_text",
        "help_text_es",
    )
    extra = 0
    can_delete = False  # answers already given name the question's code
    ordering = ("position", "id")


@admin.register(ServiceType)
class ServiceTypeAdmin(SuperuserConfigAdminMixin, HistoryModelAdmin):
    """Service types are configuration: superusers edit them, staff read them."""

    inlines = (ServiceQuestionInline,)

    list_display = ("name", "code", "program", "fund", "max_amount", "target_days", "active")
    list_filter = ("active", "program")
    search_fields = ("^code", "name")
    list_select_related = ("program", "fund")
    autocomplete_fields = ("program", "fund")
    ordering = ("name",)

    @display(description=_("largest amount"), ordering="max_amount_minor")
    def max_amount(self, obj: ServiceType) -> str:
        if obj.max_amount_minor is None:
            return "—"
        return format_money(obj.max_amount_minor, obj.currency)
