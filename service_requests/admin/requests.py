"""Civilians' requests, scoped to the programs the staff member works for."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from unfold.admin import TabularInline

from core.admin import EstimatedCountPaginator, ReadOnlyAdminMixin

from ..models import RequestEvent, ServiceRequest
from ..selectors import requests_for_staff
from .actions import RequestActionsAdmin
from .display import RequestDisplayMixin
from .filters import AgeFilter, StaffAssigneeFilter
from .labels import TRACKING_FULL_RE, TRACKING_PREFIX_RE
from .queues import QueueViewsAdmin


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


@admin.register(ServiceRequest)
class ServiceRequestAdmin(QueueViewsAdmin, RequestDisplayMixin, RequestActionsAdmin):
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
        (
            _("Approval and funding"),
            {"fields": ("recommendation_note", "approval_case", "funding")},
        ),
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
