"""The bureau's calendar (public holidays), service-level targets and breaches of them."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from service_requests.models import ServiceRequest, ServiceType

from .clocks import Clock


class Holiday(models.Model):
    """A public holiday: no working time on that day. Editable in the admin; the US federal
    holidays are seeded from the `holidays` package (`manage.py seed_holidays`)."""

    date = models.DateField(_("date"), unique=True)
    name = models.CharField(_("name"), max_length=120)

    history = HistoricalRecords()

    class Meta:
        ordering = ["date"]
        verbose_name = _("public holiday")
        verbose_name_plural = _("public holidays")

    def __str__(self) -> str:
        return f"{self.date:%Y-%m-%d} {self.name}"


class ServiceLevelTarget(models.Model):
    """A service type's targets in working hours. The resolution target is the service
    type's `target_days`, in working days; a service type without a row uses the defaults of
    `oversight.conf`."""

    service_type = models.OneToOneField(
        ServiceType,
        on_delete=models.PROTECT,
        related_name="service_level",
        verbose_name=_("service"),
    )
    first_response_hours = models.PositiveIntegerField(_("first response (working hours)"))
    decision_hours = models.PositiveIntegerField(_("decision (working hours)"))

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("service-level target")
        verbose_name_plural = _("service-level targets")
        constraints = [
            models.CheckConstraint(
                condition=Q(first_response_hours__gt=0) & Q(decision_hours__gt=0),
                name="oversight_target_hours_positive",
            ),
        ]

    def __str__(self) -> str:
        return str(self.service_type)


class NotifyState(models.TextChoices):
    PENDING = "pending", _("Email to send")
    SENT = "sent", _("Email sent")


class Breach(models.Model):
    """A request's service-level clock that ran past its target: marked once (a unique key
    on the request and the clock), then emailed to its assignee and the program's supervisors
    through the outbox. Never changed but for the email's state, never deleted."""

    request = models.ForeignKey(
        ServiceRequest, on_delete=models.PROTECT, related_name="+", verbose_name=_("request")
    )
    clock = models.CharField(
        _("clock"), max_length=20, choices=[(c.value, c.value.replace("_", " ")) for c in Clock]
    )
    due_at = models.DateTimeField(_("was due"))
    detected_at = models.DateTimeField(_("detected"), db_index=True)
    notify = models.CharField(
        max_length=8, choices=NotifyState.choices, default=NotifyState.PENDING, db_index=True
    )
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-detected_at", "-id"]
        verbose_name = _("service-level breach")
        verbose_name_plural = _("service-level breaches")
        permissions = [("view_outcomes", "View the bureau's outcome figures")]
        constraints = [
            models.UniqueConstraint(fields=["request", "clock"], name="oversight_breach_once"),
        ]

    def __str__(self) -> str:
        return f"{self.request_id}: {self.clock}"
