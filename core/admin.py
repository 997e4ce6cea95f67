"""Shared building blocks of the staff admin (django-unfold).

Every app's `admin.py` builds on these: history admins that show the past and never rewrite it,
read-only admins for append-only and derived data, the money display and a paginator that does
not count a million rows to draw one page. This module imports no app of ours, so any app may
use it without breaking the dependency direction.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import EmptyResultSet
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin
from unfold.admin import ModelAdmin

# Amounts in admin columns ("$1,234.50"), a dash when there is none.
from core.choices import choice_text
from core.models import QueuedTask, SecurityEvent
from core.money import display_money as format_money

ESTIMATE_THRESHOLD = 10_000

__all__ = [
    "EstimatedCountPaginator",
    "HistoryModelAdmin",
    "QueuedTaskAdmin",
    "ReadOnlyAdminMixin",
    "ReadOnlyHistoryModelAdmin",
    "ReadOnlyModelAdmin",
    "SecurityEventAdmin",
    "SuperuserConfigAdminMixin",
    "choice_text",
    "format_money",
]


class EstimatedCountPaginator(Paginator):
    """A paginator whose count on PostgreSQL comes from the planner when the list is large.

    Counting a large table exactly reads every row; the changelist only needs the count to draw
    its page links. Unfiltered, the count is the table's `pg_class.reltuples` (kept by ANALYZE
    and autovacuum); filtered, it is the planner's row estimate for the query. Either is used
    only above `ESTIMATE_THRESHOLD`: small lists (and every list on SQLite) are counted exactly,
    so the figures staff see for a narrow search are exact.
    """

    threshold = ESTIMATE_THRESHOLD

    @cached_property
    def count(self) -> int:
        """The exact count for small or non-PostgreSQL lists, else the planner's estimate."""
        object_list = self.object_list
        if not isinstance(object_list, QuerySet):
            return super().count
        connection = connections[object_list.db]
        if connection.vendor != "postgresql":
            return super().count
        estimate = (
            self._table_estimate(object_list)
            if not object_list.query.where
            else self._plan_estimate(object_list)
        )
        if estimate is None or estimate < self.threshold:
            return super().count
        return estimate

    @staticmethod
    def _table_estimate(queryset: QuerySet[Any]) -> int | None:
        """The table's row estimate, or None when it was never analysed."""
        with connections[queryset.db].cursor() as cursor:
            cursor.execute(
                "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                [queryset.model._meta.db_table],
            )
            row = cursor.fetchone()
        if row is None or row[0] is None or row[0] < 0:
            return None
        return int(row[0])

    @staticmethod
    def _plan_estimate(queryset: QuerySet[Any]) -> int | None:
        """The planner's estimate of the rows the (unsliced) query returns."""
        try:
            sql, params = queryset.order_by().values("pk").query.sql_with_params()
        except EmptyResultSet:  # e.g. `pk__in=[]`: Django knows the answer without asking
            return 0
        with connections[queryset.db].cursor() as cursor:
            cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
            row = cursor.fetchone()
        if row is None:
            return None
        plan = row[0] if not isinstance(row[0], str) else json.loads(row[0])
        return int(plan[0]["Plan"]["Plan Rows"])


class HistoryModelAdmin(SimpleHistoryAdmin, ModelAdmin):
    """An unfold admin with django-simple-history's history pages, which only ever read.

    The revert form is shown read-only and a POST to it is refused (405): simple-history would
    otherwise save the old version, bypassing the services. The history pages are scoped by
    `get_queryset`, so nobody reads the past of an object they may not see today.
    """

    def revert_disabled(self, request: HttpRequest, obj: Model | None = None) -> bool:
        """Never offer a revert button."""
        return True

    def has_change_history_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        """History is never changed through the admin."""
        return False

    def _ensure_visible(self, request: HttpRequest, object_id: str) -> None:
        """404 unless the object is in the user's scoped queryset."""
        if self.get_object(request, unquote(object_id)) is None:
            raise Http404(_("No such object."))

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """The object's history, for objects the user may see."""
        self._ensure_visible(request, object_id)
        return super().history_view(request, object_id, extra_context)

    def history_form_view(
        self,
        request: HttpRequest,
        object_id: str,
        version_id: str,
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        """One past version, read-only; a POST (a revert) is refused and saves nothing."""
        if request.method not in ("GET", "HEAD"):
            return HttpResponseNotAllowed(["GET", "HEAD"])
        self._ensure_visible(request, object_id)
        return super().history_form_view(request, object_id, version_id, extra_context)


class ReadOnlyAdminMixin:
    """Shown, never added, changed or deleted through the admin (state changes go through
    services; ledger rows and decisions are append-only)."""

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


class ReadOnlyHistoryModelAdmin(ReadOnlyAdminMixin, HistoryModelAdmin):
    """A read-only admin with (read-only) history pages."""


class ReadOnlyModelAdmin(ReadOnlyAdminMixin, ModelAdmin):
    """A read-only admin for models without history (append-only rows)."""


class SuperuserConfigAdminMixin:
    """Configuration: superusers add and change it, staff with view permission read it, and
    nobody deletes it (rows are protected by the requests and funds that point at them)."""

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(SecurityEvent)
class SecurityEventAdmin(ReadOnlyModelAdmin):
    """The security log: read by auditors (view permission) and administrators; nobody adds,
    changes or deletes a row."""

    list_display = ("at", "kind", "user", "login", "ip_address", "user_agent")
    list_filter = ("kind", "at")
    search_fields = ("user__username", "user__email", "login", "ip_address")
    list_select_related = ("user",)
    raw_id_fields = ("user",)
    date_hierarchy = "at"
    ordering = ("-at", "-pk")
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    list_per_page = 100


class WaitingFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("waiting", _("Waiting for the broker")), ("published", _("Published"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "waiting":
            return queryset.filter(published_at__isnull=True)
        if self.value() == "published":
            return queryset.filter(published_at__isnull=False)
        return queryset


@admin.register(QueuedTask)
class QueuedTaskAdmin(ReadOnlyModelAdmin):
    """Tasks kept with their transactions until a drainer published them (`core.services.
    queue`): what waits while the broker is away, and the broker's last error. Read-only."""

    list_display = ("created_at", "name", "published_at", "attempts", "last_error")
    list_filter = (WaitingFilter, "name")
    search_fields = ("name",)
    ordering = ("-created_at", "-pk")
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    list_per_page = 100
