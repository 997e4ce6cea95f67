"""The request list's filters: by assignee (active staff only) and by age."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.db.models.fields.related import RelatedField
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..models import ServiceRequest


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
