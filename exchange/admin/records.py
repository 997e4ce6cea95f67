"""Read-only admin of what exchange rounds hold and write: items, cycles, assignments with
their explanations, snapshots."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from unfold.decorators import display

from core.admin import ReadOnlyHistoryModelAdmin, ReadOnlyModelAdmin, format_money

from ..explain import explanation
from ..models import ExchangeAssignment, ExchangeCycle, ExchangeItem, ExchangeSnapshot


@admin.register(ExchangeItem)
class ExchangeItemAdmin(ReadOnlyHistoryModelAdmin):
    """The items listed in rounds (read-only: listed and withdrawn by their holders)."""

    list_display = ("pk", "title", "round", "holder", "kind", "money", "withdrawn_at")
    list_filter = ("round", "kind")
    search_fields = ("title", "holder__username", "holder__email")
    list_select_related = ("round", "holder")
    raw_id_fields = ("round", "holder", "account")

    @display(description=_("paid on moving"), ordering="amount_minor")
    def money(self, obj: ExchangeItem) -> str:
        return format_money(obj.amount_minor, obj.round.currency) if obj.amount_minor else "—"


@admin.register(ExchangeCycle)
class ExchangeCycleAdmin(ReadOnlyHistoryModelAdmin):
    """Cycles found by solves, their approval cases and commits."""

    list_display = ("number", "round", "size", "formed_in", "status", "approval_case")
    list_filter = ("status", "round")
    search_fields = ("=round__title",)
    list_select_related = ("round", "approval_case")
    raw_id_fields = ("round", "snapshot", "approval_case")


@admin.register(ExchangeAssignment)
class ExchangeAssignmentAdmin(ReadOnlyHistoryModelAdmin):
    """What each participant receives, and why."""

    list_display = ("item", "receives", "cycle", "current", "why")
    list_filter = ("current", "round")
    search_fields = ("item__title",)
    list_select_related = ("item", "receives", "cycle")
    raw_id_fields = ("round", "snapshot", "item", "receives", "cycle")

    @display(description=_("explanation"))
    def why(self, obj: ExchangeAssignment) -> str:
        titles = {obj.item_id: obj.item.title}
        if obj.receives is not None:
            titles[obj.receives.pk] = obj.receives.title
        return explanation(obj.facts, titles)


@admin.register(ExchangeSnapshot)
class ExchangeSnapshotAdmin(ReadOnlyModelAdmin):
    """Frozen inputs: each snapshot's hash, size and why it was taken."""

    list_display = ("round", "sha256", "participants", "reason", "created_at")
    search_fields = ("=sha256",)
    list_select_related = ("round",)
    raw_id_fields = ("round",)
