"""The staff's main screen: civilians' requests, service types, and the funds' request actions.

Nothing here changes a request by itself: every action calls one service per selected request
and reports, per request, what the service refused. The change page is read-only for everyone
(state changes only through services); its object tools post the same actions.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.db.models.fields.related import RelatedField
from django.http import HttpRequest, HttpResponse
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from unfold.admin import TabularInline
from unfold.decorators import display

from allocations.admin import FundAdmin
from allocations.models import GRANT_CLAIMS_PERMISSION, Fund
from core.admin import (
    EstimatedCountPaginator,
    HistoryModelAdmin,
    ReadOnlyAdminMixin,
    ReadOnlyModelAdmin,
    SuperuserConfigAdminMixin,
    format_money,
)
from ledger import selectors as ledger_selectors

from . import services
from .models import (
    RequestEvent,
    SatisfactionResponse,
    ServiceQuestion,
    ServiceRequest,
    ServiceType,
    Status,
)
from .selectors import requests_for_staff

if TYPE_CHECKING:
    from collections.abc import Callable

    from django.contrib.auth.models import User

STATUS_LABELS = {
    Status.SUBMITTED: "info",
    Status.IN_REVIEW: "primary",
    Status.INFO_REQUESTED: "warning",
    Status.PENDING_APPROVAL: "warning",
    Status.APPROVED: "success",
    Status.AWAITING_FUNDS: "warning",
    Status.FUNDED: "success",
    Status.FULFILLED: "success",
    Status.REJECTED: "danger",
    Status.WITHDRAWN: "info",
}

# A whole tracking number, or a prefix of one: searched on the unique index, case-folded.
TRACKING_PREFIX_RE = re.compile(r"^HMS-[0-9]{0,4}(-[0-9]*)?$", re.IGNORECASE)
TRACKING_FULL_RE = re.compile(r"^HMS-[0-9]{4}-[0-9]{6,}$")


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


class StaffAssigneeFilter(admin.RelatedFieldListFilter):
    """Filter by assignee, offering active staff only (and "unassigned")."""

    def field_choices(  # type: ignore[override]
        self, field: RelatedField, request: HttpRequest, model_admin: admin.ModelAdmin
    ) -> list[tuple[Any, str]]:
        ordering = self.field_admin_ordering(field, request, model_admin) or ("username",)
        choices = field.get_choices(
            include_blank=False,
            limit_choices_to={"is_staff": True, "is_active": True},
            ordering=ordering,
        )
        return [(value, str(label)) for value, label in choices]


class AgeFilter(admin.SimpleListFilter):
    """How long ago the request was submitted."""

    title = _("age")
    parameter_name = "age"
    # value: (younger bound in days, older bound in days); None is open-ended.
    RANGES: dict[str, tuple[int | None, int | None]] = {
        "under-2d": (None, 2),
        "2-7d": (2, 7),
        "1-4w": (7, 28),
        "over-4w": (28, None),
    }

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, Any]]:
        return [
            ("under-2d", _("Under 2 days")),
            ("2-7d", _("2 to 7 days")),
            ("1-4w", _("1 to 4 weeks")),
            ("over-4w", _("Older than 4 weeks")),
        ]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[ServiceRequest]
    ) -> QuerySet[ServiceRequest]:
        value = self.value()
        if value not in self.RANGES:
            return queryset
        newest, oldest = self.RANGES[value]
        now = timezone.now()
        if newest is not None:
            queryset = queryset.filter(submitted_at__lte=now - timedelta(days=newest))
        if oldest is not None:
            queryset = queryset.filter(submitted_at__gt=now - timedelta(days=oldest))
        return queryset


class RequestEventInline(ReadOnlyAdminMixin, TabularInline):
    """The request's timeline, public and internal steps alike."""

    model = RequestEvent
    fields = ("created_at", "kind", "message", "public", "actor", "notify")
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name = _("timeline event")
    verbose_name_plural = _("timeline")

    def get_queryset(self, request: HttpRequest) -> QuerySet[RequestEvent]:
        return super().get_queryset(request).select_related("actor")


class AskInfoForm(forms.Form):
    """The question the civilian is emailed."""

    message = forms.CharField(
        label=_("Message to the civilian"),
        widget=forms.Textarea(attrs={"rows": 6}),
        max_length=5000,
        strip=True,
    )


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


@admin.register(ServiceRequest)
class ServiceRequestAdmin(HistoryModelAdmin):
    """Civilians' requests, scoped to the programs the staff member works for.

    Every field is read-only; reviewers (`change_servicerequest`) move requests on with the
    actions, which call one service per request. Auditors and finance only read.
    """

    list_display = (
        "tracking_number",
        "service_type",
        "contact_name",
        "status_label",
        "amount",
        "assignee",
        "submitted_at",
    )
    list_filter = (
        "status",
        "service_type",
        ("assignee", StaffAssigneeFilter),
        AgeFilter,
    )
    search_fields = ("^tracking_number", "contact_name", "contact_email")
    search_help_text = _("A tracking number (or its start, e.g. HMS-2025-00), a name or an email.")
    list_select_related = ("service_type", "assignee")
    raw_id_fields = ("service_type", "requester", "assignee", "recommended_by")
    ordering = ("-submitted_at", "-id")
    list_per_page = 50
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    inlines = (RequestEventInline,)
    actions = (
        "assign_to_me",
        "start_review",
        "ask_for_information",
        "recommend",
        "mark_fulfilled",
    )
    readonly_fields = ("amount", "funding", "documents", "answers_given")
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "tracking_number",
                    "service_type",
                    "status",
                    "amount",
                    "assignee",
                    "recommended_by",
                    "submitted_at",
                    "updated_at",
                )
            },
        ),
        (
            _("Civilian"),
            {"fields": ("requester", "contact_name", "contact_email", "contact_phone")},
        ),
        (_("Request"), {"fields": ("description", "answers_given", "documents")}),
        (_("Approval and funding"), {"fields": ("approval_case", "funding")}),
    )

    # -- scope and permissions ------------------------------------------------------------------

    def get_queryset(self, request: HttpRequest) -> QuerySet[ServiceRequest]:
        """Only the requests of the programs this staff member works for."""
        return requests_for_staff(user=request.user).select_related(*self.list_select_related)

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Civilians file requests; staff never create them here."""
        return False

    def has_delete_permission(
        self, request: HttpRequest, obj: ServiceRequest | None = None
    ) -> bool:
        """Requests are never deleted."""
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: ServiceRequest | None = None
    ) -> bool:
        """Model-level change permission enables the actions; a single request's page is
        always read-only, since a request changes only through the services."""
        if obj is not None:
            return False
        return super().has_change_permission(request)

    def get_readonly_fields(
        self, request: HttpRequest, obj: ServiceRequest | None = None
    ) -> tuple[str, ...]:
        """Every field is read-only (the page is view-only anyway; this keeps it so)."""
        model_fields = tuple(
            f.name for f in self.model._meta.concrete_fields if f.name not in ("id",)
        )
        return (*model_fields, *self.readonly_fields)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[ServiceRequest], search_term: str
    ) -> tuple[QuerySet[ServiceRequest], bool]:
        """A tracking number (or prefix) is looked up on its unique index, exactly as stored
        (upper case); anything else searches names and emails."""
        term = search_term.strip()
        if TRACKING_PREFIX_RE.match(term):
            term = term.upper()
            if TRACKING_FULL_RE.match(term):
                return queryset.filter(tracking_number=term), False
            return queryset.filter(tracking_number__startswith=term), False
        return super().get_search_results(request, queryset, search_term)

    # -- display --------------------------------------------------------------------------------

    @display(description=_("status"), ordering="status", label=STATUS_LABELS)
    def status_label(self, obj: ServiceRequest) -> tuple[str, str]:
        return obj.status, obj.get_status_display()

    @display(description=_("amount"), ordering="amount_minor", empty_value="—")
    def amount(self, obj: ServiceRequest) -> str | None:
        if obj.amount_minor is None:
            return None
        return format_money(obj.amount_minor, obj.currency)

    @display(description=_("answers to the service's questions"))
    def answers_given(self, obj: ServiceRequest) -> str:
        """Each extra question as it was asked, and the civilian's answer."""
        answers = [a for a in obj.answers or [] if isinstance(a, dict)]
        if not answers:
            return "—"
        return format_html_join(
            mark_safe("<br>"),
            "<strong>{}</strong>: {}",
            (
                (
                    a.get("question", a.get("code", "")),
                    ", ".join(map(str, a["answer"]))
                    if isinstance(a.get("answer"), list)
                    else a.get("answer", ""),
                )
                for a in answers
            ),
        )

    @display(description=_("documents"))
    def documents(self, obj: ServiceRequest) -> str:
        """The civilian's documents, each a download (served by the portal to staff who may
        see the request)."""
        attachments = list(obj.attachments.all())
        if not attachments:
            return "—"
        return format_html_join(
            mark_safe("<br>"),
            '<a href="{}">{}</a> ({}, {})',
            (
                (
                    reverse("service_requests:attachment", args=[obj.tracking_number, a.pk]),
                    a.name,
                    a.content_type,
                    filesizeformat(a.size),
                )
                for a in attachments
            ),
        )

    @display(description=_("claim and ledger transfers"))
    def funding(self, obj: ServiceRequest) -> str:
        """The request's claim on its fund and the ledger transfers carrying its number."""
        claim = obj.claim
        if claim is None:
            return "—"
        transfers = ledger_selectors.transfers_for_reference(reference=obj.tracking_number)
        rows = format_html_join(
            "",
            "<tr><td>#{}</td><td>{}</td><td>{} → {}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    t.sequence,
                    t.get_kind_display(),
                    t.debit_account.code,
                    t.credit_account.code,
                    format_money(t.amount_minor, t.currency),
                    timezone.localtime(t.created_at).strftime("%Y-%m-%d %H:%M"),
                )
                for t in transfers
            ),
        )
        return format_html(
            "<p>{}: {} · {} {} · {} {}</p><table>{}</table>",
            _("Claim"),
            claim.get_status_display(),
            _("asked"),
            format_money(claim.amount_minor, claim.currency),
            _("granted"),
            format_money(claim.granted_minor, claim.currency),
            rows,
        )

    # -- actions --------------------------------------------------------------------------------

    def _apply(
        self,
        request: HttpRequest,
        queryset: QuerySet[ServiceRequest],
        step: Callable[[User, int], object],
        done_singular: str,
        done_plural: str,
    ) -> None:
        """Call `step` once per selected request; report refusals one by one, then the count."""
        done = 0
        for pk in queryset.values_list("pk", flat=True):
            try:
                step(request.user, pk)  # type: ignore[arg-type]
            except ValidationError as error:
                self.message_user(request, error.messages[0], level=messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(
                request,
                ngettext(done_singular, done_plural, done) % {"count": done},
                level=messages.SUCCESS,
            )

    @admin.action(description=_("Assign to me"), permissions=["change"])
    def assign_to_me(self, request: HttpRequest, queryset: QuerySet[ServiceRequest]) -> None:
        self._apply(
            request,
            queryset,
            lambda user, pk: services.request_assign(actor=user, request_id=pk, assignee=user),
            "%(count)d request assigned to you.",
            "%(count)d requests assigned to you.",
        )

    @admin.action(description=_("Start review"), permissions=["change"])
    def start_review(self, request: HttpRequest, queryset: QuerySet[ServiceRequest]) -> None:
        self._apply(
            request,
            queryset,
            lambda user, pk: services.request_start_review(actor=user, request_id=pk),
            "Review started on %(count)d request.",
            "Review started on %(count)d requests.",
        )

    @admin.action(description=_("Ask the civilian for information"), permissions=["change"])
    def ask_for_information(
        self, request: HttpRequest, queryset: QuerySet[ServiceRequest]
    ) -> HttpResponse | None:
        """An intermediate page asks for the message; `apply` sends it to each request."""
        form = AskInfoForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            message = form.cleaned_data["message"]
            self._apply(
                request,
                queryset,
                lambda user, pk: services.request_ask_info(
                    actor=user, request_id=pk, message=message
                ),
                "Information asked on %(count)d request.",
                "Information asked on %(count)d requests.",
            )
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": _("Ask the civilian for information"),
            "opts": self.model._meta,
            "queryset": queryset,
            "form": form,
            "action_name": "ask_for_information",
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "select_across": request.POST.get("select_across", "0"),
            "media": self.media,
        }
        return TemplateResponse(
            request, "admin/service_requests/servicerequest/ask_info.html", context
        )

    @admin.action(description=_("Recommend for approval"), permissions=["change"])
    def recommend(self, request: HttpRequest, queryset: QuerySet[ServiceRequest]) -> None:
        self._apply(
            request,
            queryset,
            lambda user, pk: services.request_recommend(actor=user, request_id=pk, note=""),
            "%(count)d request sent for approval.",
            "%(count)d requests sent for approval.",
        )

    @admin.action(description=_("Mark fulfilled"), permissions=["change"])
    def mark_fulfilled(self, request: HttpRequest, queryset: QuerySet[ServiceRequest]) -> None:
        self._apply(
            request,
            queryset,
            lambda user, pk: services.request_fulfil(actor=user, request_id=pk),
            "%(count)d request marked fulfilled.",
            "%(count)d requests marked fulfilled.",
        )

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: ServiceRequest | None = None,
    ) -> HttpResponse:
        """Offer the actions as object tools on the request's page (to those who may act)."""
        if obj is not None and self.has_change_permission(request):
            actions = self.get_actions(request)
            context["request_actions"] = [
                (name, description)
                for name, (_func, _name, description) in actions.items()
                if name != "ask_for_information"
            ]
            context["ask_info_allowed"] = "ask_for_information" in actions
            context["action_checkbox_name"] = helpers.ACTION_CHECKBOX_NAME
        return super().render_change_form(request, context, add, change, form_url, obj)


admin.site.unregister(Fund)


@admin.register(Fund)
class FundWithRequestsAdmin(FundAdmin):
    """The read-only fund admin plus the action that pays out waiting requests in turn."""

    actions = ("grant_waiting_claims",)

    def has_grant_claims_permission(self, request: HttpRequest) -> bool:
        """Granting waiting claims obligates money: finance officers only."""
        return bool(request.user.has_perm(GRANT_CLAIMS_PERMISSION))

    @admin.action(description=_("Grant waiting claims"), permissions=["grant_claims"])
    def grant_waiting_claims(self, request: HttpRequest, queryset: QuerySet[Fund]) -> None:
        for fund in queryset:
            try:
                moved = services.requests_fund_waiting(
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
                    len(moved),
                )
                % {"fund": fund, "count": len(moved)},
                level=messages.SUCCESS,
            )
