"""Admin for funds, claims and allocation rounds. Nothing here changes state itself: every
action calls `allocations.services` or `allocations.rounds`.

The "grant waiting claims" action on funds moves requests on too, so it lives with the requests
(`service_requests.admin` re-registers `FundAdmin` with it): allocations knows nothing of
requests.
"""

from __future__ import annotations

import functools
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _
from unfold.decorators import display

from core.admin import (
    HistoryModelAdmin,
    ReadOnlyHistoryModelAdmin,
    ReadOnlyModelAdmin,
    format_money,
)

from . import conf, rounds, rules, selectors
from .forms import ClaimTermsForm, RoundForm
from .models import (
    COMMIT_ROUND_PERMISSION,
    RUN_ROUND_PERMISSION,
    AllocationBallot,
    AllocationGrant,
    AllocationRound,
    Claim,
    ClaimStatus,
    Fund,
    RoundSnapshot,
    RoundState,
)

CLAIM_STATUS_LABELS = {
    ClaimStatus.AWAITING_FUNDS: "warning",
    ClaimStatus.GRANTED: "info",
    ClaimStatus.PAID: "success",
    ClaimStatus.CANCELLED: "danger",
}
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

    @display(description=_("available"))
    def available(self, obj: Fund) -> str:
        return format_money(obj.account.available_minor, obj.currency)


@admin.register(Claim)
class ClaimAdmin(HistoryModelAdmin):
    """Claims on funds. Finance officers set a claim's terms in its round (weight, priority
    class, guaranteed minimum, cap, eligibility and reason) while it waits for funds and its
    round is open, through `rounds.claim_set_terms`; everything else is read-only."""

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
            rounds.claim_set_terms(
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
        return obj.status, obj.get_status_display()

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
        rounds.claim_validate_editable(claim=claim)
    except ValidationError:
        return False
    return True


@admin.register(AllocationRound)
class AllocationRoundAdmin(HistoryModelAdmin):
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
    actions = (
        "open_rounds",
        "freeze_rounds",
        "compute_rounds",
        "send_rounds_for_approval",
        "commit_rounds",
        "cancel_rounds",
    )
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

    def has_run_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm(RUN_ROUND_PERMISSION))

    def has_commit_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm(COMMIT_ROUND_PERMISSION))

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
        created = rounds.round_create(
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
        return obj.state, obj.get_state_display()

    @display(description=_("state"))
    def state_text(self, obj: AllocationRound) -> str:
        return str(obj.get_state_display())

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

    # --- actions ---

    def _each(
        self,
        request: HttpRequest,
        queryset: QuerySet[AllocationRound],
        service: Any,
        done: str,
    ) -> None:
        for round_ in queryset:
            try:
                service(actor=request.user, round_id=round_.pk)
            except ValidationError as refused:
                self.message_user(request, refused.messages[0], messages.ERROR)
            else:
                self.message_user(request, done.format(name=round_.name), messages.SUCCESS)

    @admin.action(description=_("Open (gather waiting claims)"), permissions=["run"])
    def open_rounds(self, request: HttpRequest, queryset: QuerySet[AllocationRound]) -> None:
        self._each(request, queryset, rounds.round_open, "“{name}” is open: claims gathered.")

    @admin.action(description=_("Freeze the inputs"), permissions=["run"])
    def freeze_rounds(self, request: HttpRequest, queryset: QuerySet[AllocationRound]) -> None:
        self._each(request, queryset, rounds.round_freeze, "“{name}” is frozen.")

    @admin.action(description=_("Compute the grants"), permissions=["run"])
    def compute_rounds(self, request: HttpRequest, queryset: QuerySet[AllocationRound]) -> None:
        from .tasks import compute_round

        threshold = int(conf.get("ASYNC_CLAIMS"))
        for round_ in queryset:
            if round_.state == RoundState.FROZEN and round_.claims.count() > threshold:
                rounds.round_progress_set(round_.pk, 0, 0, "queued")
                transaction.on_commit(
                    functools.partial(compute_round.delay, round_.pk, request.user.pk)
                )
                self.message_user(
                    request,
                    f"“{round_.name}” is being computed; its page shows the progress.",
                    messages.SUCCESS,
                )
                continue
            self._each(
                request,
                AllocationRound.objects.filter(pk=round_.pk),
                rounds.round_compute,
                "“{name}” is computed.",
            )

    @admin.action(description=_("Send for approval"), permissions=["run"])
    def send_rounds_for_approval(
        self, request: HttpRequest, queryset: QuerySet[AllocationRound]
    ) -> None:
        self._each(
            request,
            queryset,
            rounds.round_send_for_approval,
            "“{name}” was sent for approval.",
        )

    @admin.action(description=_("Commit into the ledger"), permissions=["commit"])
    def commit_rounds(self, request: HttpRequest, queryset: QuerySet[AllocationRound]) -> None:
        self._each(
            request,
            queryset,
            rounds.round_commit,
            "“{name}” is committed: its obligations are in the ledger.",
        )

    @admin.action(description=_("Cancel"), permissions=["run"])
    def cancel_rounds(self, request: HttpRequest, queryset: QuerySet[AllocationRound]) -> None:
        self._each(request, queryset, rounds.round_cancel, "“{name}” was cancelled.")


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
