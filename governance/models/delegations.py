"""Delegations of authority: a supervisor's authority lent for a while, within a scope."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from .programs import Program


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
