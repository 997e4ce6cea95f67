"""Programs (the scope of authority), approval cases and their append-only decisions.

Governance knows nothing of what it approves: a subject (a request, later an allocation round or
a settlement) holds a foreign key to its case, and the case keeps the subject's kind, label and
amount for the supervisors' inbox. Final decisions reach the subject's app through
`governance.registry`.
"""

from __future__ import annotations

from typing import NoReturn

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase
from simple_history.models import HistoricalRecords

REVIEW_PERMISSION = "governance.review_program"
DECIDE_PERMISSION = "governance.decide_program"


class Program(models.Model):
    """An organisational program: the scope in which staff review and supervisors decide.

    Authority is an object permission on the program (django-guardian): `review_program` for
    reviewers, `decide_program` for supervisors.
    """

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    active = models.BooleanField(_("active"), default=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        permissions = [
            ("review_program", "Review requests of the program"),
            ("decide_program", "Decide approval cases of the program"),
        ]

    def __str__(self) -> str:
        return self.name


class ProgramUserObjectPermission(UserObjectPermissionBase):
    """Direct foreign-key object permissions: indexed joins instead of generic ones."""

    content_object = models.ForeignKey(Program, on_delete=models.CASCADE)


class ProgramGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Program, on_delete=models.CASCADE)


class CaseStatus(models.TextChoices):
    OPEN = "open", _("Awaiting decision")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")


class ApprovalCase(models.Model):
    """A subject put before the program's supervisors for one decision.

    `maker` submitted the subject and `recommender` recommended it: neither may decide.
    """

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="cases")
    subject_kind = models.CharField(_("subject kind"), max_length=40)
    subject_label = models.CharField(_("subject"), max_length=200)
    summary = models.TextField(_("summary"), blank=True)
    amount_minor = models.BigIntegerField(_("amount (minor units)"), null=True, blank=True)
    currency = models.CharField(_("currency"), max_length=3, blank=True)
    maker = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="cases_made",
        verbose_name=_("submitted by"),
    )
    recommender = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="cases_recommended",
        null=True,
        blank=True,
        verbose_name=_("recommended by"),
    )
    status = models.CharField(
        _("status"), max_length=16, choices=CaseStatus.choices, default=CaseStatus.OPEN
    )
    opened_at = models.DateTimeField(_("opened"), auto_now_add=True)
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["opened_at", "pk"]
        indexes = [models.Index(fields=["status", "program"], name="governance_case_inbox_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount_minor__isnull=True) | Q(amount_minor__gte=0),
                name="governance_case_amount_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(status=CaseStatus.OPEN, decided_at__isnull=True)
                | (~Q(status=CaseStatus.OPEN) & Q(decided_at__isnull=False)),
                name="governance_case_decided_at_when_closed",
            ),
        ]

    def __str__(self) -> str:
        return f"Case {self.pk}: {self.subject_label}"


class Outcome(models.TextChoices):
    APPROVE = "approve", _("Approve")
    REJECT = "reject", _("Reject")


class Decision(models.Model):
    """One supervisor's decision on a case: written once, never changed or deleted."""

    case = models.ForeignKey(ApprovalCase, on_delete=models.PROTECT, related_name="decisions")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="decisions"
    )
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices)
    reason = models.TextField(_("reason"))
    decided_at = models.DateTimeField(_("decided"), auto_now_add=True)

    class Meta:
        ordering = ["decided_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["case", "decided_by"], name="governance_decision_once_per_person"
            ),
            models.CheckConstraint(
                condition=~Q(reason=""), name="governance_decision_reason_required"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_outcome_display()} by {self.decided_by} on case {self.case_id}"

    def save(self, *args: object, **kwargs: object) -> None:
        if not self._state.adding:
            raise ValueError("Decisions are append-only.")
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def delete(self, *args: object, **kwargs: object) -> NoReturn:
        raise ValueError("Decisions are append-only.")
