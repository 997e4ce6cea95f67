"""Admin of what rounds write and voters cast: grants, frozen snapshots, ballots (read-only)."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from unfold.decorators import display

from core.admin import ReadOnlyHistoryModelAdmin, ReadOnlyModelAdmin, format_money

from .. import rules
from ..models import AllocationBallot, AllocationGrant, RoundSnapshot


@admin.register(AllocationGrant)
class AllocationGrantAdmin(ReadOnlyModelAdmin):
    """Every grant of every round with its explanation (read-only: written by computing)."""

    list_display = ("line", "round", "claim", "asked", "granted_amount", "code_label", "explained")
    list_filter = ("round",)
    search_fields = ("=claim__reference",)
    list_select_related = ("round", "claim")
    raw_id_fields = ("round", "claim")
    ordering = ("round", "line")
    list_per_page = 100
    show_full_result_count = False

    @display(description=_("asked"), ordering="asked_minor")
    def asked(self, obj: AllocationGrant) -> str:
        return format_money(obj.asked_minor, obj.round.currency)

    @display(description=_("granted"), ordering="granted_minor")
    def granted_amount(self, obj: AllocationGrant) -> str:
        return format_money(obj.granted_minor, obj.round.currency)

    @display(description=_("why"))
    def code_label(self, obj: AllocationGrant) -> str:
        return rules.Code(obj.code).name.replace("_", " ").lower()

    @display(description=_("explanation"))
    def explained(self, obj: AllocationGrant) -> str:
        return obj.explanation


@admin.register(RoundSnapshot)
class RoundSnapshotAdmin(ReadOnlyModelAdmin):
    """Frozen inputs (the canonical JSON is downloadable from the round's public page once it
    is committed; here its hash and size)."""

    list_display = ("round", "sha256", "claims", "created_at")
    search_fields = ("=sha256",)
    list_select_related = ("round",)
    raw_id_fields = ("round",)
    fields = ("round", "sha256", "claims", "created_at", "size")
    readonly_fields = fields

    @display(description=_("size"))
    def size(self, obj: RoundSnapshot) -> str:
        return f"{len(obj.data.encode('utf-8')):,} bytes"


@admin.register(AllocationBallot)
class AllocationBallotAdmin(ReadOnlyHistoryModelAdmin):
    """Approval ballots of participatory rounds (pseudonymous), with each version cast."""

    list_display = ("round", "voter_ref", "approved_count", "cast_at")
    list_filter = ("round",)
    list_select_related = ("round",)
    raw_id_fields = ("round",)
    search_fields = ("=voter_ref",)

    @display(description=_("approvals"))
    def approved_count(self, obj: AllocationBallot) -> int:
        return len(obj.approvals or [])
