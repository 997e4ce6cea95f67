"""Approval policies: versions, their scope and amount band, and their ordered steps."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from .programs import Program


class PolicyStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    ACTIVE = "active", _("Active")
    RETIRED = "retired", _("Retired")


class ApprovalPolicy(models.Model):
    """One version of an approval policy: who must approve a kind of case, in which order.

    Scope: a program, a subject kind (blank: every kind), a scope key such as a service type's
    code (blank: every key) and an amount band (inclusive; a case without an amount counts as
    0). A draft may be edited; an active version is immutable (`governance.services` refuses
    any change, the admin shows it read-only): a change is a new draft version with the same
    `code`, and activating it retires the one before. Cases keep the version they opened under.
    """

    code = models.SlugField(_("code"), max_length=50)
    version = models.PositiveIntegerField(_("version"), default=1)
    name = models.CharField(_("name"), max_length=200)
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="policies")
    subject_kind = models.CharField(
        _("subject kind"), max_length=40, blank=True, help_text=_("Blank: every kind of subject.")
    )
    scope_key = models.CharField(
        _("scope key"),
        max_length=100,
        blank=True,
        help_text=_("E.g. a service type's code. Blank: every case of the subject kind."),
    )
    amount_min_minor = models.BigIntegerField(_("from amount (minor units)"), null=True, blank=True)
    amount_max_minor = models.BigIntegerField(_("to amount (minor units)"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=PolicyStatus.choices, default=PolicyStatus.DRAFT
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    activated_at = models.DateTimeField(_("activated"), null=True, blank=True)
    retired_at = models.DateTimeField(_("retired"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("approval policy")
        verbose_name_plural = _("approval policies")
        ordering = ["program__name", "code", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["code", "version"], name="governance_policy_code_version_unique"
            ),
            models.UniqueConstraint(
                fields=["code"],
                condition=Q(status="active"),
                name="governance_policy_one_active_version",
            ),
            models.CheckConstraint(
                condition=Q(amount_min_minor__isnull=True) | Q(amount_min_minor__gte=0),
                name="governance_policy_amount_min_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(amount_min_minor__isnull=True)
                | Q(amount_max_minor__isnull=True)
                | Q(amount_max_minor__gte=models.F("amount_min_minor")),
                name="governance_policy_amount_band_ordered",
            ),
        ]
        indexes = [
            models.Index(fields=["program", "status"], name="governance_policy_match_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} (v{self.version})"

    def covers_amount(self, amount_minor: int | None) -> bool:
        amount = amount_minor or 0
        if self.amount_min_minor is not None and amount < self.amount_min_minor:
            return False
        return self.amount_max_minor is None or amount <= self.amount_max_minor


class ApproverKind(models.TextChoices):
    PROGRAM = "program", _("The program's deciders (decide permission on the program)")
    GROUP = "group", _("Members of a named group")


class StepMode(models.TextChoices):
    ONE = "one", _("One approver")
    ANY = "any", _("Any one of the set")
    ALL = "all", _("All of the set")
    QUORUM = "quorum", _("A quorum (k of n)")


class PolicyStep(models.Model):
    """One ordered step of a policy version: who decides, how many must approve, when.

    - who: the program's deciders (`decide_program` on the case's program) or a named group;
    - mode: `one` and `any` complete on one approval; `all` needs an approval from every member
      of the set as it stood when the step opened (at least one); `quorum` needs `quorum` (k)
      approvals out of the set of `quorum_of` (n). One return or reject ends the case;
    - `threshold_minor`: the step applies only to cases above this amount;
    - `sla_hours`: the step's time limit; overdue, it escalates to `escalate_to` (whose members
      may then decide it) and both are told;
    - whether approve, return and reject need a reason.
    """

    policy = models.ForeignKey(ApprovalPolicy, on_delete=models.CASCADE, related_name="steps")
    order = models.PositiveSmallIntegerField(_("order"))
    name = models.CharField(_("name"), max_length=100)
    approver_kind = models.CharField(
        _("who decides"), max_length=10, choices=ApproverKind.choices, default=ApproverKind.PROGRAM
    )
    group = models.ForeignKey(
        Group,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("group"),
    )
    mode = models.CharField(_("mode"), max_length=10, choices=StepMode.choices, default="one")
    quorum = models.PositiveSmallIntegerField(_("quorum (k)"), null=True, blank=True)
    quorum_of = models.PositiveSmallIntegerField(_("of (n)"), null=True, blank=True)
    threshold_minor = models.BigIntegerField(
        _("applies above (minor units)"),
        null=True,
        blank=True,
        help_text=_("Blank: the step applies to every amount."),
    )
    sla_hours = models.PositiveIntegerField(_("time limit (hours)"), null=True, blank=True)
    escalate_to = models.ForeignKey(
        Group,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("escalate to"),
    )
    reason_on_approve = models.BooleanField(_("reason required to approve"), default=False)
    reason_on_return = models.BooleanField(_("reason required to return"), default=True)
    reason_on_reject = models.BooleanField(_("reason required to reject"), default=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("policy step")
        ordering = ["policy", "order"]
        constraints = [
            models.UniqueConstraint(
                fields=["policy", "order"], name="governance_policystep_order_unique"
            ),
            models.CheckConstraint(
                condition=(Q(approver_kind="group") & Q(group__isnull=False))
                | (~Q(approver_kind="group") & Q(group__isnull=True)),
                name="governance_policystep_group_iff_group_kind",
            ),
            # Both numbers named outright for a quorum: with one of them NULL the comparisons
            # are NULL, and a CHECK that is NULL passes.
            models.CheckConstraint(
                condition=(
                    Q(mode="quorum", quorum__isnull=False, quorum_of__isnull=False)
                    & Q(quorum__gte=1)
                    & Q(quorum_of__gte=models.F("quorum"))
                )
                | (~Q(mode="quorum") & Q(quorum__isnull=True) & Q(quorum_of__isnull=True)),
                name="governance_policystep_quorum_iff_quorum_mode",
            ),
            models.CheckConstraint(
                condition=Q(threshold_minor__isnull=True) | Q(threshold_minor__gte=0),
                name="governance_policystep_threshold_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order}. {self.name}"

    def applies_to(self, amount_minor: int | None) -> bool:
        return self.threshold_minor is None or (amount_minor or 0) > self.threshold_minor

    @property
    def who(self) -> str:
        if self.approver_kind == ApproverKind.GROUP and self.group is not None:
            return str(_("group “%(group)s”") % {"group": self.group.name})
        return str(_("the program's deciders"))

    @property
    def mode_label(self) -> str:
        if self.mode == StepMode.QUORUM:
            return str(_("%(k)s of %(n)s") % {"k": self.quorum, "n": self.quorum_of})
        return str(self.get_mode_display())
