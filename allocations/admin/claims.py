"""Admin of claims: finance officers set the terms a round reads for a waiting claim."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.translation import gettext_lazy as _
from unfold.decorators import display

from core.admin import HistoryModelAdmin, choice_text, format_money

from .. import services
from ..forms import ClaimTermsForm
from ..models import RUN_ROUND_PERMISSION, Claim, ClaimStatus

CLAIM_STATUS_LABELS = {
    ClaimStatus.AWAITING_FUNDS: "warning",
    ClaimStatus.GRANTED: "info",
    ClaimStatus.PAID: "success",
    ClaimStatus.CANCELLED: "danger",
}


@admin.register(Claim)
class ClaimAdmin(HistoryModelAdmin):
    """Claims on funds. Finance officers set a claim's terms in its round (weight, priority
    class, guaranteed minimum, cap, eligibility and reason) while it waits for funds and its
    round is open, through `services.claim_set_terms`; everything else is read-only."""

    form = ClaimTermsForm
    summary_fields = ("reference", "fund", "status_label", "asked", "granted", "round")
    list_display = (*summary_fields, "weight", "priority", "eligible", "created_at")
    list_filter = ("status", "fund", "eligible")
    search_fields = ("=reference",)
    list_select_related = ("fund", "round")
    raw_id_fields = ("fund", "payee_account", "obligation", "payment", "created_by", "round")
    info_fields = (*summary_fields, "explanation", "created_at")
    term_fields = ("weight", "priority", "floor", "cap", "eligible", "exclusion_reason")
    ordering = ("-created_at", "-id")
    list_per_page = 50
    show_full_result_count = False

    # --- permissions: the terms of a waiting claim in an open round (or in none) ---

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if not request.user.has_perm(RUN_ROUND_PERMISSION):
            return False
        return obj is None or _terms_editable(obj)

    # --- the form ---

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is not None and self.has_change_permission(request, obj):
            return [*self.info_fields, *self.term_fields]
        return [
            *self.info_fields,
            "weight",
            "priority",
            "floor_text",
            "cap_text",
            "eligible",
            "exclusion_reason",
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is not None and self.has_change_permission(request, obj):
            return self.info_fields
        return self.get_fields(request, obj)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        data = form.cleaned_data
        try:
            services.claim_set_terms(
                actor=request.user,  # type: ignore[arg-type]
                claim_id=obj.pk,
                weight=data["weight"],
                priority=data["priority"],
                floor_minor=data.get("floor") or 0,
                cap_minor=data.get("cap"),
                eligible=bool(data.get("eligible")),
                exclusion_reason=(data.get("exclusion_reason") or "").strip(),
            )
        except ValidationError as refused:
            # The round froze between the form's check and the save: nothing was written.
            request._claim_terms_refused = refused.messages[0]  # type: ignore[attr-defined]

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        pass

    def response_change(self, request: HttpRequest, obj: Any) -> HttpResponse:
        refused = getattr(request, "_claim_terms_refused", None)
        if refused:
            self.message_user(request, refused, messages.ERROR)
            return HttpResponseRedirect(request.path)
        return super().response_change(request, obj)

    # --- columns ---

    @display(description=_("status"), ordering="status", label=CLAIM_STATUS_LABELS)
    def status_label(self, obj: Claim) -> tuple[str, str]:
        return obj.status, choice_text(obj, "status")

    @display(description=_("asked"), ordering="amount_minor")
    def asked(self, obj: Claim) -> str:
        return format_money(obj.amount_minor, obj.currency)

    @display(description=_("granted"), ordering="granted_minor")
    def granted(self, obj: Claim) -> str:
        return format_money(obj.granted_minor, obj.currency)

    @display(description=_("guaranteed minimum"))
    def floor_text(self, obj: Claim) -> str:
        return format_money(obj.floor_minor, obj.currency)

    @display(description=_("cap"))
    def cap_text(self, obj: Claim) -> str:
        return "—" if obj.cap_minor is None else format_money(obj.cap_minor, obj.currency)


def _terms_editable(claim: Claim) -> bool:
    try:
        services.claim_validate_editable(claim=claim)
    except ValidationError:
        return False
    return True
