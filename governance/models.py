"""Programs (the scope of authority), approval policies, approval cases and their append-only
decisions, delegations of authority.

Governance knows nothing of what it approves: a subject (a request, an allocation round, a
settlement) holds a foreign key to its case, and the case keeps the subject's kind, label, scope
key and amount for the supervisors' inbox. Final outcomes reach the subject's app through
`governance.registry`.

A case opens under the active policy version that matches its program, subject kind, scope key
and amount, and keeps that version to the end (`ApprovalCase.policy`); its progress through the
policy's steps is one `CaseStep` row per step. Everything that happens to a case is a `CaseEvent`
(its timeline); decisions are `Decision` rows, written once.
"""

from __future__ import annotations

from typing import NoReturn

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase
from simple_history.models import HistoricalRecords

REVIEW_PERMISSION = "governance.review_program"
DECIDE_PERMISSION = "governance.decide_program"
# Held by a delegate while one of their delegations on the program is active (never by anyone
# else): the decision check also reads the delegation itself, so the permission alone decides
# nothing.
DELEGATED_PERMISSION = "governance.decide_program_delegated"


class AppendOnlyMixin(models.Model):
    """Rows written once: `save()` on an existing row and `delete()` raise."""

    class Meta:
        abstract = True

    def save(self, *args: object, **kwargs: object) -> None:
        if not self._state.adding:
            raise ValueError(f"{type(self).__name__} rows are append-only.")
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def delete(self, *args: object, **kwargs: object) -> NoReturn:
        raise ValueError(f"{type(self).__name__} rows are append-only.")


class Program(models.Model):
    """An organisational program: the scope in which staff review and supervisors decide.

    Authority is an object permission on the program (django-guardian): `review_program` for
    reviewers, `decide_program` for supervisors, `decide_program_delegated` for the delegates of
    an active delegation.
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
            ("decide_program_delegated", "Decide approval cases of the program under delegation"),
        ]

    def __str__(self) -> str:
        return self.name


class ProgramUserObjectPermission(UserObjectPermissionBase):
    """Direct foreign-key object permissions: indexed joins instead of generic ones.

    Recorded in history (grant = created, removal = deleted), so the authority anyone held on
    any past date can be rebuilt for an auditor.
    """

    content_object = models.ForeignKey(Program, on_delete=models.CASCADE)

    history = HistoricalRecords()


class ProgramGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Program, on_delete=models.CASCADE)

    history = HistoricalRecords()


# --- Approval policies ---------------------------------------------------------------------


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
            models.CheckConstraint(
                condition=(
                    Q(mode="quorum") & Q(quorum__gte=1) & Q(quorum_of__gte=models.F("quorum"))
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


# --- Cases ---------------------------------------------------------------------------------


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
        who = _display_name(self.decided_by)
        if self.on_behalf_of_id is None:
            return who
        return str(
            _("%(delegate)s on behalf of %(delegator)s")
            % {"delegate": who, "delegator": _display_name(self.on_behalf_of)}
        )


def _display_name(user: object) -> str:
    if user is None:
        return "—"
    full = user.get_full_name()  # type: ignore[attr-defined]
    return str(full or user.get_username())  # type: ignore[attr-defined]


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


# --- Delegation of authority ---------------------------------------------------------------


class Delegation(models.Model):
    """A supervisor's authority lent to another staff member for a while, within a scope.

    Scope: the program, a subject kind and scope key (blank: any), a step order (blank: any
    step), and an amount ceiling. Only a holder of the program's own `decide_program` may
    delegate, so a delegate cannot re-delegate. While active (inside `[starts_at, ends_at)` and
    not revoked) the delegate holds `decide_program_delegated` on the program (granted and
    removed one by one, in history); the decision check reads this row again at decision time.
    On PostgreSQL an exclusion constraint refuses two unrevoked delegations of one delegator
    whose scope is the same and whose windows overlap (migration 0003).
    """

    delegator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="delegations_given",
        verbose_name=_("delegator"),
    )
    delegate = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="delegations_received",
        verbose_name=_("delegate"),
    )
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="delegations")
    subject_kind = models.CharField(_("subject kind"), max_length=40, blank=True)
    scope_key = models.CharField(_("scope key"), max_length=100, blank=True)
    step_order = models.PositiveSmallIntegerField(_("step"), null=True, blank=True)
    ceiling_minor = models.BigIntegerField(_("amount ceiling (minor units)"))
    currency = models.CharField(_("currency"), max_length=3, default="USD")
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))
    reason = models.TextField(_("reason"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    revoke_reason = models.TextField(_("why revoked"), blank=True)
    permission_granted = models.BooleanField(_("permission granted"), default=False)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-starts_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")),
                name="governance_delegation_window_ordered",
            ),
            models.CheckConstraint(
                condition=~Q(delegate=models.F("delegator")),
                name="governance_delegation_not_to_self",
            ),
            models.CheckConstraint(
                condition=Q(ceiling_minor__gte=0), name="governance_delegation_ceiling_not_negative"
            ),
            models.CheckConstraint(
                condition=~Q(reason=""), name="governance_delegation_reason_required"
            ),
        ]
        indexes = [
            models.Index(fields=["delegate", "ends_at"], name="governance_delegation_to_idx"),
            models.Index(
                fields=["ends_at"],
                condition=Q(permission_granted=True),
                name="gov_delegation_granted_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.delegator} → {self.delegate} on {self.program_id}"

    def is_active_at(self, moment: object) -> bool:
        return (
            self.revoked_at is None
            and self.starts_at <= moment  # type: ignore[operator]
            and moment < self.ends_at  # type: ignore[operator]
        )

    def covers(self, case: ApprovalCase, step_order: int | None) -> bool:
        """The case falls inside the delegation's scope (the ceiling is checked apart)."""
        return (
            self.program_id == case.program_id
            and self.subject_kind in ("", case.subject_kind)
            and self.scope_key in ("", case.scope_key)
            and (self.step_order is None or self.step_order == step_order)
        )

    def within_ceiling(self, case: ApprovalCase) -> bool:
        if case.amount_minor is None:
            return True
        if case.currency and self.currency != case.currency:
            return False
        return case.amount_minor <= self.ceiling_minor


# --- Group membership history ----------------------------------------------------------------


class MembershipAction(models.TextChoices):
    ADDED = "added", _("Added")
    REMOVED = "removed", _("Removed")
    # Written once, for every membership that existed when recording began.
    PRESENT = "present", _("Member when recording began")


class GroupMembershipChange(AppendOnlyMixin):
    """One change of a user's membership of a group: append-only.

    Django keeps no history of group membership, and a group may hold authority (a group grant
    on a program, a policy step decided by a group), so every change is written here from the
    `m2m_changed` signal (`governance.membership`). The membership of any past moment is the
    last change at or before it for each (group, user) pair. The user and group keys have no
    database constraint and never block a deletion: the record outlives them.
    """

    group = models.ForeignKey(
        Group, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    action = models.CharField(_("what"), max_length=10, choices=MembershipAction.choices)
    at = models.DateTimeField(_("when"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["at", "pk"]
        indexes = [
            models.Index(fields=["group", "at"], name="gov_membership_group_at_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()}: user {self.user_id} in group {self.group_id}"
