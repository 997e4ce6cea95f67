"""Admin for programs (with their object permissions), approval cases and decisions.

Programs are configuration: superusers edit them and grant review and decide authority on them
through guardian's object-permissions pages. Cases and decisions are read-only here; they change
only through `governance.services` (the workflow screens).
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from guardian.admin import ReinforcedGuardedModelAdminMixin
from unfold.admin import TabularInline
from unfold.decorators import display

from hms_portal.admin import (
    HistoryModelAdmin,
    ReadOnlyAdminMixin,
    ReadOnlyHistoryModelAdmin,
    ReadOnlyModelAdmin,
    SuperuserConfigAdminMixin,
    format_money,
)

from .models import ApprovalCase, CaseStatus, Decision, Program

CASE_STATUS_LABELS = {
    CaseStatus.OPEN: "warning",
    CaseStatus.APPROVED: "success",
    CaseStatus.REJECTED: "danger",
}


@admin.register(Program)
class ProgramAdmin(ReinforcedGuardedModelAdminMixin, SuperuserConfigAdminMixin, HistoryModelAdmin):
    """Programs; superusers manage who reviews and decides for each (object permissions)."""

    list_display = ("code", "name", "active")
    list_filter = ("active",)
    search_fields = ("code", "name")
    list_select_related = ()
    ordering = ("name",)


class DecisionInline(ReadOnlyAdminMixin, TabularInline):
    """The decisions on a case, oldest first."""

    model = Decision
    fields = ("decided_by", "outcome", "reason", "decided_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Decision]:
        return super().get_queryset(request).select_related("decided_by")


@admin.register(ApprovalCase)
class ApprovalCaseAdmin(ReadOnlyHistoryModelAdmin):
    """Approval cases, read-only: supervisors decide in the workflow screens."""

    list_display = (
        "id",
        "subject_label",
        "program",
        "status_label",
        "amount",
        "maker",
        "recommender",
        "opened_at",
        "decided_at",
    )
    list_filter = ("status", "program", "subject_kind")
    search_fields = ("=id", "subject_label")
    list_select_related = ("program", "maker", "recommender")
    raw_id_fields = ("program", "maker", "recommender")
    ordering = ("-opened_at", "-id")
    inlines = (DecisionInline,)
    list_per_page = 50
    show_full_result_count = False

    @display(description=_("status"), ordering="status", label=CASE_STATUS_LABELS)
    def status_label(self, obj: ApprovalCase) -> tuple[str, str]:
        return obj.status, obj.get_status_display()

    @display(description=_("amount"), ordering="amount_minor")
    def amount(self, obj: ApprovalCase) -> str:
        return format_money(obj.amount_minor, obj.currency)


@admin.register(Decision)
class DecisionAdmin(ReadOnlyModelAdmin):
    """Decisions: append-only, shown and never changed."""

    list_display = ("id", "case", "decided_by", "outcome", "decided_at")
    list_filter = ("outcome",)
    search_fields = ("=case__id", "case__subject_label", "decided_by__username")
    list_select_related = ("case", "decided_by")
    raw_id_fields = ("case", "decided_by")
    ordering = ("-decided_at", "-id")
    list_per_page = 50
