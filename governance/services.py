"""Every change in governance: opening approval cases and deciding them.

A decision is final here (one step); the approval-policy issue adds steps and delegation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from hms_portal.audit import record_history

from . import registry
from .models import DECIDE_PERMISSION, ApprovalCase, CaseStatus, Decision, Outcome, Program

if TYPE_CHECKING:
    from django.contrib.auth.models import User

ERR_NO_AUTHORITY = "You do not hold the authority to decide cases of {program}."
ERR_OWN_SUBJECT = "You submitted this {kind}: someone else must decide it."
ERR_OWN_RECOMMENDATION = "You recommended this {kind}: someone else must decide it."
ERR_DECIDED_ALREADY = "You have already decided on this case."
ERR_NOT_OPEN = "This case was already decided ({status}); nothing was changed."
ERR_REASON_REQUIRED = "Give a reason for the decision."
ERR_OUTCOME = "Choose approve or reject."


class GovernanceError(ValidationError):
    """A refused governance operation; its message says why and nothing was written."""


@transaction.atomic
def case_open(
    *,
    actor: User,
    program: Program,
    subject_kind: str,
    subject_label: str,
    maker: User,
    recommender: User | None = None,
    summary: str = "",
    amount_minor: int | None = None,
    currency: str = "",
) -> ApprovalCase:
    """Open a case for the program's supervisors. Called by the subject's app (its services)."""
    case = ApprovalCase(
        program=program,
        subject_kind=subject_kind,
        subject_label=subject_label[:200],
        summary=summary,
        amount_minor=amount_minor,
        currency=currency,
        maker=maker,
        recommender=recommender,
    )
    case.full_clean()
    record_history(case, actor=actor, reason="case opened")
    case.save()
    return case


def case_validate_decider(*, actor: User, case: ApprovalCase) -> None:
    """Refuse a decider without authority on the program, or who made or recommended it."""
    kind = case.subject_kind.replace("_", " ")
    if not actor.is_active or not actor.has_perm(DECIDE_PERMISSION, case.program):
        raise GovernanceError(ERR_NO_AUTHORITY.format(program=case.program), code="no_authority")
    if case.maker_id == actor.pk:
        raise GovernanceError(ERR_OWN_SUBJECT.format(kind=kind), code="own_subject")
    if case.recommender_id == actor.pk:
        raise GovernanceError(ERR_OWN_RECOMMENDATION.format(kind=kind), code="own_recommendation")


@transaction.atomic
def case_decide(*, actor: User, case_id: int, outcome: str, reason: str) -> Decision:
    """Record `actor`'s decision and, the case being final, hand it to the subject's handler.

    Exactly one decision closes a case: the row lock makes a second, concurrent decider wait and
    then find the case closed. If the subject's handler refuses, nothing is recorded.
    """
    reason = (reason or "").strip()
    if outcome not in Outcome.values:
        raise GovernanceError(ERR_OUTCOME, code="outcome")
    if not reason:
        raise GovernanceError(ERR_REASON_REQUIRED, code="reason")
    # Lock the case: two supervisors deciding at once produce one outcome.
    case = (
        ApprovalCase.objects.select_for_update(of=("self",))
        .select_related("program")
        .get(pk=case_id)
    )
    case_validate_decider(actor=actor, case=case)
    if case.decisions.filter(decided_by=actor).exists():
        raise GovernanceError(ERR_DECIDED_ALREADY, code="decided_already")
    if case.status != CaseStatus.OPEN:
        raise GovernanceError(
            ERR_NOT_OPEN.format(status=case.get_status_display().lower()), code="not_open"
        )
    try:
        with transaction.atomic():
            decision = Decision.objects.create(
                case=case, decided_by=actor, outcome=outcome, reason=reason
            )
    except IntegrityError:
        raise GovernanceError(ERR_DECIDED_ALREADY, code="decided_already") from None
    case.status = CaseStatus.APPROVED if outcome == Outcome.APPROVE else CaseStatus.REJECTED
    case.decided_at = timezone.now()
    record_history(case, actor=actor, reason=f"{outcome}: {reason}"[:100])
    case.save(update_fields=["status", "decided_at"])
    registry.handler_for(case.subject_kind)(case, decision, actor)
    return decision
