"""Separation of duties as data: which kinds of holder may never hold which duty."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords


class Holder(models.TextChoices):
    """Who a rule is about. `administrator`: an active superuser; the others: a member of the
    role group of that name (`core.roles`), or, for a duty on one object
    (`OBJECT_DUTIES`), the holder of that role on the object (a fund's finance officer)."""

    ADMINISTRATOR = "administrator", _("Administrator (superuser)")
    AUDITOR = "auditor", _("Auditor")
    FINANCE_OFFICER = "finance_officer", _("Finance officer")
    SUPERVISOR = "supervisor", _("Supervisor")
    REVIEWER = "reviewer", _("Reviewer")
    CIVILIAN = "civilian", _("Civilian")


class Duty(models.TextChoices):
    """What a rule keeps its holder from."""

    # Decide an approval case's step: in one's own right (a program or group grant), after an
    # escalation, or under a delegation; and receive or give a delegation of that authority.
    DECIDE = "decide", _("Decide approval cases (directly or by delegation)")
    # Decide the approval case of an allocation round of a fund one is a finance officer of.
    APPROVE_OWN_FUND_ROUND = "approve_own_fund_round", _("Approve their own fund's rounds")


# Duties that concern one object: the rule applies to a holder of the role on that object
# (its subject's app says who that is), not to every member of the role group.
OBJECT_DUTIES = frozenset({Duty.APPROVE_OWN_FUND_ROUND})


class DutyConflict(models.Model):
    """One separation-of-duties rule: a `holder` may never hold `duty`.

    Seeded by a data migration (auditor and administrator never decide; a fund's finance
    officer never approves that fund's rounds), edited only by administrators in the admin,
    every change in history. Read by `governance.selectors.duties`, which the decision check,
    the inbox, the delegation and permission services, the authority report and the
    allocation round's approval all ask.
    """

    holder = models.CharField(_("holder"), max_length=30, choices=Holder.choices)
    duty = models.CharField(_("duty"), max_length=40, choices=Duty.choices)
    reason = models.CharField(_("why"), max_length=300, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["duty", "holder"]
        verbose_name = _("separation-of-duties rule")
        verbose_name_plural = _("separation-of-duties rules")
        constraints = [
            models.UniqueConstraint(
                fields=["holder", "duty"], name="governance_dutyconflict_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_holder_display()} may not: {self.get_duty_display()}"
