"""Approval cases, their progress through the policy's steps, their append-only decisions and
timeline."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from .base import AppendOnlyMixin, display_name
from .policies import ApprovalPolicy, PolicyStep
from .programs import Program


class CaseStatus(models.TextChoices):
    OPEN = "open", _("Awaiting decision")
    BLOCKED = "blocked", _("Blocked: no applicable policy")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    RETURNED = "returned", _("Returned to review")
    RECALLED = "recalled", _("Recalled by the submitter")


OPEN_CASE_STATUSES = (CaseStatus.OPEN, CaseStatus.BLOCKED)


class ApprovalCase(models.Model):
    """A subject put before the program's deciders, under one policy version.

    `maker` submitted the subject and `recommender` recommended it: neither may decide.
    `current_step` and `due_at` mirror the open step for the inbox.
    """

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="cases")
    subject_kind = models.CharField(_("subject kind"), max_length=40)
    subject_label = models.CharField(_("subject"), max_length=200)
    scope_key = models.CharField(_("scope key"), max_length=100, blank=True)
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
    policy = models.ForeignKey(
        ApprovalPolicy,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="cases",
        verbose_name=_("policy version"),
    )
    current_step = models.ForeignKey(
        "CaseStep",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("current step"),
    )
    due_at = models.DateTimeField(_("due"), null=True, blank=True)
    blocked_reason = models.TextField(_("why it is blocked"), blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=CaseStatus.choices, default=CaseStatus.OPEN
    )
    opened_at = models.DateTimeField(_("opened"), auto_now_add=True)
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["opened_at", "pk"]
        indexes = [
            models.Index(fields=["status", "program"], name="governance_case_inbox_idx"),
            models.Index(
                fields=["program", "due_at", "id"],
                condition=Q(status="open"),
                name="governance_case_open_due_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount_minor__isnull=True) | Q(amount_minor__gte=0),
                name="governance_case_amount_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["open", "blocked"], decided_at__isnull=True)
                | (~Q(status__in=["open", "blocked"]) & Q(decided_at__isnull=False)),
                name="governance_case_decided_at_when_closed",
            ),
        ]

    def __str__(self) -> str:
        return f"Case {self.pk}: {self.subject_label}"

    @property
    def kind_label(self) -> str:
        return self.subject_kind.replace("_", " ")


class CaseStepStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for earlier steps")
    OPEN = "open", _("Awaiting decision")
    APPROVED = "approved", _("Approved")
    SKIPPED = "skipped", _("Does not apply")
    CLOSED = "closed", _("Ended (case returned, rejected or recalled)")


class CaseStep(models.Model):
    """A case's progress through one step of its policy version."""

    case = models.ForeignKey(ApprovalCase, on_delete=models.PROTECT, related_name="steps")
    step = models.ForeignKey(PolicyStep, on_delete=models.PROTECT, related_name="case_steps")
    order = models.PositiveSmallIntegerField(_("order"))
    status = models.CharField(
        _("status"), max_length=10, choices=CaseStepStatus.choices, default="pending"
    )
    required_approvals = models.PositiveSmallIntegerField(_("approvals required"), default=1)
    approvals = models.PositiveSmallIntegerField(_("approvals"), default=0)
    opened_at = models.DateTimeField(_("opened"), null=True, blank=True)
    due_at = models.DateTimeField(_("due"), null=True, blank=True)
    warn_at = models.DateTimeField(_("warn from"), null=True, blank=True)
    warned_at = models.DateTimeField(_("warned"), null=True, blank=True)
    escalated_at = models.DateTimeField(_("escalated"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["case", "order"]
        constraints = [
            models.UniqueConstraint(fields=["case", "order"], name="governance_casestep_unique"),
            models.CheckConstraint(
                condition=Q(required_approvals__gte=1), name="governance_casestep_required_min"
            ),
        ]
        indexes = [
            models.Index(
                fields=["warn_at"],
                condition=Q(status="open", warned_at__isnull=True),
                name="governance_casestep_warn_idx",
            ),
            models.Index(
                fields=["due_at"],
                condition=Q(status="open", escalated_at__isnull=True),
                name="governance_casestep_due_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"Case {self.case_id}, step {self.order}"


class Outcome(models.TextChoices):
    APPROVE = "approve", _("Approve")
    RETURN = "return", _("Return to review")
    REJECT = "reject", _("Reject")
    RECALL = "recall", _("Recall")


DECIDER_OUTCOMES = (Outcome.APPROVE, Outcome.RETURN, Outcome.REJECT)


class Decision(AppendOnlyMixin):
    """One decision on a case: written once, never changed or deleted.

    A decider's approve, return or reject at one step (`case_step`), or the maker's recall.
    Under delegation `decided_by` is the delegate and `on_behalf_of` the delegator.
    """

    case = models.ForeignKey(ApprovalCase, on_delete=models.PROTECT, related_name="decisions")
    case_step = models.ForeignKey(
        CaseStep, on_delete=models.PROTECT, null=True, blank=True, related_name="decisions"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="decisions"
    )
    on_behalf_of = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="decisions_by_delegates",
        verbose_name=_("on behalf of"),
    )
    delegation = models.ForeignKey(
        "Delegation",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="decisions",
    )
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices)
    reason = models.TextField(_("reason"), blank=True)
    decided_at = models.DateTimeField(_("decided"), auto_now_add=True)

    class Meta:
        ordering = ["decided_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["case", "decided_by"], name="governance_decision_once_per_person"
            ),
            models.UniqueConstraint(
                fields=["case", "on_behalf_of"],
                condition=Q(on_behalf_of__isnull=False),
                name="governance_decision_once_per_principal",
            ),
            models.CheckConstraint(
                condition=Q(delegation__isnull=True) | Q(on_behalf_of__isnull=False),
                name="governance_decision_delegation_names_delegator",
            ),
            models.CheckConstraint(
                condition=Q(on_behalf_of__isnull=True) | ~Q(on_behalf_of=models.F("decided_by")),
                name="governance_decision_not_on_own_behalf",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_outcome_display()} by {self.decided_by_label} on case {self.case_id}"

    @property
    def decided_by_label(self) -> str:
        """ "A" or "A on behalf of B"."""
        who = display_name(self.decided_by)
        if self.on_behalf_of_id is None:
            return who
        return str(
            _("%(delegate)s on behalf of %(delegator)s")
            % {"delegate": who, "delegator": display_name(self.on_behalf_of)}
        )


class CaseEventKind(models.TextChoices):
    OPENED = "opened", _("Opened")
    BLOCKED = "blocked", _("Blocked")
    UNBLOCKED = "unblocked", _("Policy applied")
    STEP_OPENED = "step_opened", _("Step opened")
    STEP_SKIPPED = "step_skipped", _("Step does not apply")
    DECISION = "decision", _("Decision")
    STEP_APPROVED = "step_approved", _("Step approved")
    WARNED = "warned", _("Deadline warning")
    ESCALATED = "escalated", _("Escalated")
    CLOSED = "closed", _("Closed")


class CaseEvent(AppendOnlyMixin):
    """One entry of a case's timeline: append-only."""

    case = models.ForeignKey(ApprovalCase, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(_("what"), max_length=20, choices=CaseEventKind.choices)
    case_step = models.ForeignKey(
        CaseStep, on_delete=models.PROTECT, null=True, blank=True, related_name="events"
    )
    decision = models.OneToOneField(
        Decision, on_delete=models.PROTECT, null=True, blank=True, related_name="event"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    message = models.TextField(_("message"), blank=True)
    created_at = models.DateTimeField(_("when"), auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"Case {self.case_id}: {self.get_kind_display()}"
