"""Why someone may not decide a case: separation of duties, and the refusal that explains a
missing grant.

Whether a user may decide a case's open step, and under which grant, is
`governance.selectors.decision_authority` alone. When it finds no grant, `refusal` says why in
the words closest to the user's situation: the delegation that came nearest to covering the
case and what it lacks (as `governance.selectors.delegation_shortfalls` finds it, from the
rule's own conditions), else the step's or the program's authority. Nothing here decides who
holds a grant.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from django.utils import formats

from core.money import display_money as format_money

from ..models import (
    ApprovalCase,
    ApproverKind,
    CaseStep,
    Decision,
    Delegation,
    Duty,
    DutyConflict,
    display_name,
)
from ..selectors.authority import delegation_shortfalls
from ..selectors.duties import duty_conflict, subject_conflict
from .errors import (
    ERR_DECIDED_ALREADY,
    ERR_DELEGATION_CEILING,
    ERR_DELEGATION_EXPIRED,
    ERR_DELEGATION_NOT_GRANTED,
    ERR_DELEGATION_NOT_STARTED,
    ERR_DELEGATION_REVOKED,
    ERR_DELEGATION_SCOPE,
    ERR_DELEGATOR_LOST_AUTHORITY,
    ERR_DUTY_DECIDE,
    ERR_DUTY_DELEGATE,
    ERR_DUTY_DELEGATOR,
    ERR_DUTY_PRINCIPAL_SUBJECT,
    ERR_DUTY_SUBJECT,
    ERR_NO_AUTHORITY,
    ERR_NO_STEP_AUTHORITY,
    ERR_OWN_RECOMMENDATION,
    ERR_OWN_SUBJECT,
    ERR_PRINCIPAL_DECIDED_ALREADY,
    ERR_PRINCIPAL_OWN_RECOMMENDATION,
    ERR_PRINCIPAL_OWN_SUBJECT,
    GovernanceError,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

    from django.contrib.auth.models import User


def _when(moment: datetime) -> str:
    return str(formats.date_format(moment, "DATETIME_FORMAT"))


def check_separation(person: User, case: ApprovalCase, decisions: Iterable[Decision]) -> None:
    """Maker never checker, recommender never approver, nobody twice on one case."""
    kind = case.kind_label
    if case.maker_id == person.pk:
        raise GovernanceError(ERR_OWN_SUBJECT.format(kind=kind), code="own_subject")
    if case.recommender_id == person.pk:
        raise GovernanceError(ERR_OWN_RECOMMENDATION.format(kind=kind), code="own_recommendation")
    for decision in decisions:
        if person.pk in (decision.decided_by_id, decision.on_behalf_of_id):
            raise GovernanceError(ERR_DECIDED_ALREADY, code="decided_already")


def check_subject_duties(person: User, case: ApprovalCase) -> None:
    """Separation of duties as data, for this case's subject: refuse a person its subject makes
    a holder who may not decide it (a finance officer of the round's fund)."""
    rule = subject_conflict(user=person, case=case)
    if rule is not None:
        message = ERR_DUTY_SUBJECT.format(
            holder=rule.get_holder_display(), kind=case.kind_label, duty=rule.get_duty_display()
        )
        raise GovernanceError(message, code="separation_of_duties")


def duty_refusal(rule: DutyConflict) -> GovernanceError:
    """The refusal for a person whose holder kind may not decide at all."""
    message = ERR_DUTY_DECIDE.format(holder=rule.get_holder_display())
    return GovernanceError(message, code="separation_of_duties")


# How far a delegation got before what it lacks (`selectors.delegation_shortfalls`): the
# refusal of the one that got furthest is shown.
_STAGE = {
    "scope": 0,
    "revoked": 1,
    "not_started": 1,
    "ended": 1,
    "ceiling": 2,
    "permission": 3,
    "delegate_duty": 3,
    "delegator_authority": 3,
    "delegator_made": 4,
    "delegator_recommended": 4,
    "delegator_decided": 4,
    "delegator_subject": 4,
}


def _delegation_refusal(delegation: Delegation, lack: str, case: ApprovalCase) -> GovernanceError:
    """What `delegation` lacks for `case`, in words."""
    who = display_name(delegation.delegator)
    kind = case.kind_label
    match lack:
        case "scope":
            return GovernanceError(ERR_DELEGATION_SCOPE, code="delegation_scope")
        case "revoked":
            when = _when(delegation.revoked_at)  # type: ignore[arg-type]
            message = ERR_DELEGATION_REVOKED.format(delegator=who, when=when)
            return GovernanceError(message, code="delegation_revoked")
        case "not_started":
            message = ERR_DELEGATION_NOT_STARTED.format(
                delegator=who, when=_when(delegation.starts_at)
            )
            return GovernanceError(message, code="delegation_not_started")
        case "ended":
            message = ERR_DELEGATION_EXPIRED.format(delegator=who, when=_when(delegation.ends_at))
            return GovernanceError(message, code="delegation_expired")
        case "ceiling":
            message = ERR_DELEGATION_CEILING.format(
                delegator=who,
                amount=format_money(case.amount_minor or 0, case.currency or delegation.currency),
                ceiling=format_money(delegation.ceiling_minor, delegation.currency),
            )
            return GovernanceError(message, code="delegation_ceiling")
        case "permission":
            message = ERR_DELEGATION_NOT_GRANTED.format(delegator=who)
            return GovernanceError(message, code="delegation_not_granted")
        case "delegate_duty":
            rule = duty_conflict(user=delegation.delegate, duty=Duty.DECIDE)
            holder = rule.get_holder_display() if rule is not None else "?"
            message = ERR_DUTY_DELEGATE.format(
                delegate=display_name(delegation.delegate), holder=holder
            )
            return GovernanceError(message, code="separation_of_duties")
        case "delegator_subject":
            found = subject_conflict(user=delegation.delegator, case=case)
            message = ERR_DUTY_PRINCIPAL_SUBJECT.format(
                delegator=who,
                kind=kind,
                holder=found.get_holder_display() if found else "?",
                duty=found.get_duty_display() if found else "?",
            )
            return GovernanceError(message, code="separation_of_duties")
        case "delegator_authority":
            barred = duty_conflict(user=delegation.delegator, duty=Duty.DECIDE)
            if barred is not None:
                message = ERR_DUTY_DELEGATOR.format(
                    delegator=who, holder=barred.get_holder_display()
                )
                return GovernanceError(message, code="separation_of_duties")
            message = ERR_DELEGATOR_LOST_AUTHORITY.format(delegator=who)
            return GovernanceError(message, code="delegator_lost_authority")
        case "delegator_made":
            message = ERR_PRINCIPAL_OWN_SUBJECT.format(kind=kind, delegator=who)
            return GovernanceError(message, code="own_subject")
        case "delegator_recommended":
            message = ERR_PRINCIPAL_OWN_RECOMMENDATION.format(kind=kind, delegator=who)
            return GovernanceError(message, code="own_recommendation")
        case "delegator_decided":
            message = ERR_PRINCIPAL_DECIDED_ALREADY.format(delegator=who)
            return GovernanceError(message, code="decided_already")
    raise ValueError(f"Unknown shortfall {lack!r}.")


def refusal(
    *, actor: User, case: ApprovalCase, case_step: CaseStep | None, now: datetime
) -> GovernanceError:
    """The refusal to show `actor`, who holds no grant for the case's open step at `now`.

    A person separation of duties keeps from deciding at all (an auditor, an administrator)
    hears that first. Otherwise each of the actor's delegations on the program fails some
    condition of the rule (`selectors.delegation_shortfalls`); the one that got furthest is
    named. Without delegations: the step's or the program's authority.
    """
    barred = duty_conflict(user=actor, duty=Duty.DECIDE)
    if barred is not None:
        return duty_refusal(barred)
    best: tuple[int, GovernanceError] | None = None
    for delegation, lack in delegation_shortfalls(user=actor, case=case, now=now):
        if lack is None:  # it lends the step: the grant would have found it
            continue
        if best is None or _STAGE[lack] > best[0]:
            best = (_STAGE[lack], _delegation_refusal(delegation, lack, case))
    if best is not None:
        return best[1]
    step = case_step.step if case_step is not None else None
    if step is not None and step.approver_kind == ApproverKind.GROUP:
        return GovernanceError(ERR_NO_STEP_AUTHORITY.format(step=step.name), code="no_authority")
    return GovernanceError(ERR_NO_AUTHORITY.format(program=case.program), code="no_authority")
