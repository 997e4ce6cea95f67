"""Admin of allocation rounds: the add form, the round's page (its grants, the metrics of its
rule beside the others on the same snapshot, the chart of demand against grant) and, through
`RoundActions`, the transitions."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin import helpers
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _
from unfold.decorators import display

from core.admin import choice_text, format_money

from .. import rules, selectors, services
from ..forms import RoundForm
from ..models import AllocationGrant, AllocationRound, RoundState
from .round_actions import RoundActions

ROUND_STATE_LABELS = {
    RoundState.DRAFT: "info",
    RoundState.OPEN: "info",
    RoundState.FROZEN: "info",
    RoundState.COMPUTED: "warning",
    RoundState.UNDER_APPROVAL: "warning",
    RoundState.APPROVED: "success",
    RoundState.COMMITTED: "success",
    RoundState.CANCELLED: "danger",
}
GRANT_PREVIEW = 50


@admin.register(AllocationRound)
class AllocationRoundAdmin(RoundActions):
    """Rounds with their states, and the actions that move them (each a service call): open,
    freeze, compute (a Celery task for large rounds), send for approval, commit, cancel. The
    round's page previews the grants with their explanations, the metrics of this rule beside
    the others on the same snapshot, and a chart of demand against grant per claim."""

    form = RoundForm
    change_form_template = "admin/allocations/allocationround/change_form.html"
    list_display = (
        "name",
        "fund",
        "rule_label",
        "state_label",
        "budget",
        "granted",
        "created_at",
    )
    list_filter = ("state", "rule", "fund")
    search_fields = ("name", "=input_sha256")
    list_select_related = ("fund",)
    raw_id_fields = ("approval_case",)
    ordering = ("-created_at", "-pk")
    list_per_page = 50
    readonly_fields = (
        "name",
        "fund",
        "rule_label",
        "params",
        "tiebreak",
        "tiebreak_seed",
        "state_text",
        "budget",
        "granted",
        "claims_held",
        "input_sha256",
        "result_sha256",
        "progress",
        "approval_case",
        "public_page",
        "created_by",
        "created_at",
        "frozen_at",
        "computed_at",
        "committed_at",
    )

    # --- permissions ---

    def has_add_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("allocations.add_allocationround"))

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # rounds move only through the actions

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    # --- the add form ---

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ["fund", "name", "budget", "rule", "parameters", "tiebreak", "tiebreak_seed"]
        return list(self.readonly_fields)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.readonly_fields if obj is not None else ()

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        if obj is not None:  # the round's page: read-only fields, no form inputs
            kwargs["form"] = forms.ModelForm
        return super().get_form(request, obj, change, **kwargs)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        data = form.cleaned_data
        created = services.round_create(
            actor=request.user,  # type: ignore[arg-type]
            fund=data["fund"],
            name=data["name"],
            budget_minor=data["budget"],
            rule=data["rule"],
            params=data.get("params") or {},
            tiebreak=data["tiebreak"],
            tiebreak_seed=data.get("tiebreak_seed", ""),
        )
        obj.pk = created.pk

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        pass

    # --- columns ---

    @display(description=_("rule"), ordering="rule")
    def rule_label(self, obj: AllocationRound) -> str:
        return rules.LABELS.get(obj.rule, obj.rule)

    @display(description=_("state"), ordering="state", label=ROUND_STATE_LABELS)
    def state_label(self, obj: AllocationRound) -> tuple[str, str]:
        return obj.state, choice_text(obj, "state")

    @display(description=_("state"))
    def state_text(self, obj: AllocationRound) -> str:
        return choice_text(obj, "state")

    @display(description=_("budget"), ordering="budget_minor")
    def budget(self, obj: AllocationRound) -> str:
        return format_money(obj.budget_minor, obj.currency)

    @display(description=_("granted"), ordering="granted_minor")
    def granted(self, obj: AllocationRound) -> str:
        if obj.state in (RoundState.DRAFT, RoundState.OPEN, RoundState.FROZEN):
            return "—"
        return format_money(obj.granted_minor, obj.currency)

    @display(description=_("claims held"))
    def claims_held(self, obj: AllocationRound) -> str | SafeString:
        url = reverse("admin:allocations_claim_changelist") + f"?round__id__exact={obj.pk}"
        label = _("set their terms") if obj.state == RoundState.OPEN else _("see them")
        return format_html(
            '{} · <a class="underline" href="{}">{}</a>', obj.claims.count(), url, label
        )

    @display(description=_("computation progress"))
    def progress(self, obj: AllocationRound) -> str | SafeString:
        if not obj.progress_note:
            return "—"
        running = obj.state == RoundState.FROZEN and not obj.progress_note.startswith("refused")
        # While the task runs the page reloads itself every 3 seconds (no script needed).
        refresh = format_html('<meta http-equiv="refresh" content="3">') if running else ""
        return format_html(
            "{} / {} · {}{}", obj.progress_done, obj.progress_total, obj.progress_note, refresh
        )

    @display(description=_("public page"))
    def public_page(self, obj: AllocationRound) -> str | SafeString:
        if obj.state != RoundState.COMMITTED:
            return "—"
        url = reverse("allocations:round", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, url)

    # --- the round's page ---

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        extra = dict(extra_context or {})
        round_ = self.get_object(request, object_id)
        if round_ is not None:
            actions = self.get_actions(request)
            extra["round_actions"] = [
                (name, description) for name, (_f, _n, description) in actions.items()
            ]
            extra["action_checkbox_name"] = helpers.ACTION_CHECKBOX_NAME
            extra["metrics_table"] = selectors.metrics_table(round_)
            extra["chart"] = selectors.demand_chart(round_)
            extra["grant_preview"] = list(
                selectors.grants_of(round_).select_related(None)[:GRANT_PREVIEW]
            )
            extra["grant_count"] = AllocationGrant.objects.filter(round=round_).count()
            extra["grants_url"] = (
                reverse("admin:allocations_allocationgrant_changelist")
                + f"?round__id__exact={round_.pk}"
            )
            extra["currency"] = round_.currency
        return super().change_view(request, object_id, form_url, extra)
