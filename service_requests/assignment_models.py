"""Who reviews requests: each service's assignment rule, the reviewers' terms and loads, their
absences and declared conflicts of interest (`service_requests.services.assignment`)."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords


class AssignmentMethod(models.TextChoices):
    MANUAL = "manual", _("Manual")
    ROUND_ROBIN = "round_robin", _("Round robin")
    LEAST_LOADED = "least_loaded", _("Least loaded")


class AssignmentRule(models.Model):
    """How new requests for one service type (within its program) find a reviewer.

    `effort` weighs each open request of the type in a reviewer's load (a home visit may count
    3, a form check 1). `require_language`: only reviewers who speak the request's language.
    `last_assignee` is round robin's place in the turn order. A type without a rule is manual.
    """

    service_type = models.OneToOneField(
        "service_requests.ServiceType",
        on_delete=models.PROTECT,
        related_name="assignment_rule",
        verbose_name=_("service"),
    )
    method = models.CharField(
        _("method"),
        max_length=16,
        choices=AssignmentMethod.choices,
        default=AssignmentMethod.LEAST_LOADED,
    )
    effort = models.PositiveSmallIntegerField(
        _("effort per request"),
        default=1,
        validators=[MinValueValidator(1)],
        help_text=_("How much one open request of this service weighs in a reviewer's load."),
    )
    require_language = models.BooleanField(
        _("reviewer must speak the request's language"), default=False
    )
    last_assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )

    history = HistoricalRecords(excluded_fields=["last_assignee"])

    class Meta:
        verbose_name = _("assignment rule")
        verbose_name_plural = _("assignment rules")
        constraints = [
            models.CheckConstraint(
                condition=Q(effort__gte=1), name="service_requests_assignmentrule_effort_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.service_type}: {self.get_method_display()}"


DEFAULT_CAP = 40


class ReviewerProfile(models.Model):
    """A reviewer's working terms: the most open requests they carry, the languages they
    speak, their supervisor; and their current load, kept by the request services in the
    same transaction as every change of assignee or status (`open_cases`: requests in review
    statuses assigned to them; `open_effort`: the same weighted by each service's effort)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="reviewer_profile",
        verbose_name=_("reviewer"),
    )
    cap = models.PositiveIntegerField(
        _("most open requests"),
        default=DEFAULT_CAP,
        help_text=_("No new request is assigned to them once they carry this many."),
    )
    languages = models.CharField(
        _("languages"),
        max_length=60,
        default="en",
        help_text=_("Language codes they work in, separated by commas (e.g. en,es)."),
    )
    supervisor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="team_profiles",
        verbose_name=_("supervisor"),
    )
    open_cases = models.PositiveIntegerField(_("open requests"), default=0, editable=False)
    open_effort = models.PositiveIntegerField(_("open effort"), default=0, editable=False)

    history = HistoricalRecords(excluded_fields=["open_cases", "open_effort"])

    class Meta:
        verbose_name = _("reviewer profile")
        verbose_name_plural = _("reviewer profiles")

    def __str__(self) -> str:
        return str(self.user)

    def speaks(self, language: str) -> bool:
        return language in {code.strip() for code in self.languages.split(",")}


class Absence(models.Model):
    """A period a staff member is away (both days included): no request is assigned to them,
    and their open requests go back to be reassigned when it is entered."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="absences",
        verbose_name=_("staff member"),
    )
    starts_on = models.DateField(_("first day away"))
    ends_on = models.DateField(_("last day away"))
    note = models.CharField(_("note"), max_length=200, blank=True)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", editable=False
    )
    cancelled = models.BooleanField(_("cancelled"), default=False)

    history = HistoricalRecords()

    class Meta:
        ordering = ["user", "starts_on"]
        verbose_name = _("absence")
        verbose_name_plural = _("absences")
        indexes = [models.Index(fields=["user", "ends_on"], name="sr_absence_user_end_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__gte=models.F("starts_on")),
                name="service_requests_absence_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user}: {self.starts_on} to {self.ends_on}"


class ConflictFlag(models.Model):
    """A reviewer's declared conflict of interest with a person (a relative, a neighbour, a
    landlord): requests that person files are never assigned to the reviewer."""

    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="conflict_flags",
        verbose_name=_("reviewer"),
    )
    person = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("person"),
    )
    reason = models.CharField(_("reason"), max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("conflict of interest")
        verbose_name_plural = _("conflicts of interest")
        constraints = [
            models.UniqueConstraint(
                fields=["reviewer", "person"], name="service_requests_conflict_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reviewer} / {self.person}"
