"""Approval cases: opening under a policy, deciding step by step, recalling, unblocking.

Every function here locks the case row (`SELECT ... FOR UPDATE`) before reading its state, so
two deciders, a decider and the escalation task, or a decider and a recall never interleave:
the second waits, then sees the first's outcome.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction
from django.utils import timezone

from core import events
from core.audit import record_history

from .. import conf, emails
from ..models import (
    DECIDER_OUTCOMES,
    OPEN_CASE_STATUSES,
    ApprovalCase,
    ApprovalPolicy,
    CaseEvent,
    CaseEventKind,
    CaseStatus,
    CaseStep,
    CaseStepStatus,
    Decision,
    Outcome,
    PolicyStep,
    Program,
    StepMode,
)
from ..selectors.authority import Grant, decision_authority, own_deciders
from .authority import check_separation, check_subject_duties, refusal
from .errors import (
    ERR_ADMIN_ONLY,
    ERR_BLOCKED,
    ERR_DECIDED_ALREADY,
    ERR_NO_POLICY,
    ERR_NO_STEP_APPLIES,
    ERR_NOT_BLOCKED,
    ERR_NOT_MAKER,
    ERR_NOT_OPEN,
    ERR_OUTCOME,
    ERR_REASON_REQUIRED,
    ERR_RECALL_AFTER_DECISION,
    ERR_STILL_NO_POLICY,
    GovernanceError,
)
from .policies import policy_for_case

if TYPE_CHECKING:
    from django.contrib.auth.models import User

CLOSING_OUTCOMES = {
    Outcome.REJECT: CaseStatus.REJECTED,
    Outcome.RETURN: CaseStatus.RETURNED,
    Outcome.RECALL: CaseStatus.RECALLED,
}
# The final statuses announced as `core.events.CASE_DECIDED`, with the outcome it names.
DECIDED_OUTCOMES: dict[str, str] = {
    CaseStatus.APPROVED: "approved",
    CaseStatus.REJECTED: "rejected",
}


def _tell_subject(case: ApprovalCase, decision: Decision, actor: User) -> None:
    """Hand the final outcome to the app that owns the subject, inside this transaction: the
    one handler registered for the case's subject kind (`core.events.CASE_OUTCOME`). It is
    called once per case, with `decision.outcome` one of:

    - `approve`: the last applicable step was approved (earlier steps' approvals do not call it);
    - `reject`: final, with the decider's reason;
    - `return`: sent back to review with a reason; a new recommendation opens a new case;
    - `recall`: the maker withdrew the case before any decision (`decision.decided_by` is the
      maker).

    `decision.on_behalf_of` names the delegator when a delegate decided. If the handler refuses
    (raises), the decision is not recorded either.
    """
    events.announce_to_one(
        events.CASE_OUTCOME, case.subject_kind, case=case, decision=decision, actor=actor
    )


def _event(
    case: ApprovalCase,
    kind: str,
    *,
    actor: User | None,
    message: str = "",
    case_step: CaseStep | None = None,
    decision: Decision | None = None,
) -> CaseEvent:
    return CaseEvent.objects.create(
        case=case,
        kind=kind,
        actor=actor,
        message=message[:2000],
        case_step=case_step,
        decision=decision,
    )


def _no_policy_reason(case: ApprovalCase, program: Program) -> str:
    scope = f" ({case.scope_key})" if case.scope_key else ""
    return ERR_NO_POLICY.format(program=program, kind=case.kind_label, scope=scope)


def _required_approvals(case: ApprovalCase, step: PolicyStep) -> int:
    if step.mode == StepMode.QUORUM:
        return max(step.quorum or 1, 1)
    if step.mode == StepMode.ALL:
        # Everyone who may decide the step as it opens (never fewer than one approval).
        return max(len(own_deciders(case, step)), 1)
    return 1


def _open_step(case: ApprovalCase, case_step: CaseStep, *, actor: User, now: datetime) -> None:
    step = case_step.step
    case_step.status = CaseStepStatus.OPEN
    case_step.opened_at = now
    case_step.required_approvals = _required_approvals(case, step)
    if step.sla_hours:
        sla = timedelta(hours=step.sla_hours)
        case_step.due_at = now + sla
        case_step.warn_at = case_step.due_at - min(conf.warn_before(), sla / 2)
    record_history(case_step, actor=actor, reason="step opened")
    case_step.save()
    case.current_step = case_step
    case.due_at = case_step.due_at
    _event(
        case,
        CaseEventKind.STEP_OPENED,
        actor=actor,
        case_step=case_step,
        message=f"{step.name}: {step.mode_label}, {step.who}",
    )


def _start(
    case: ApprovalCase, policy: ApprovalPolicy, *, actor: User, now: datetime
) -> CaseStep | None:
    """Create the case's step rows under `policy` and open the first applicable step.
    Returns the opened step, or None when no step applies (the caller blocks the case)."""
    steps = list(policy.steps.select_related("group", "escalate_to").order_by("order"))
    if not any(step.applies_to(case.amount_minor) for step in steps):
        return None
    first: CaseStep | None = None
    for step in steps:
        applies = step.applies_to(case.amount_minor)
        case_step = CaseStep(
            case=case,
            step=step,
            order=step.order,
            status=CaseStepStatus.PENDING if applies else CaseStepStatus.SKIPPED,
        )
        record_history(case_step, actor=actor, reason="case opened")
        case_step.save()
        if not applies:
            _event(
                case,
                CaseEventKind.STEP_SKIPPED,
                actor=actor,
                case_step=case_step,
                message=f"{step.name}: applies only above the threshold.",
            )
        elif first is None:
            first = case_step
    if first is not None:
        _open_step(case, first, actor=actor, now=now)
    return first


def _block(case: ApprovalCase, reason: str, *, actor: User) -> None:
    case.status = CaseStatus.BLOCKED
    case.blocked_reason = reason
    case.current_step = None
    case.due_at = None
    _event(case, CaseEventKind.BLOCKED, actor=actor, message=reason)
    emails.administrators_case_blocked(case)


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
    scope_key: str = "",
) -> ApprovalCase:
    """Open a case under the active policy that matches it. Called by the subject's app.

    No matching policy, or none of its steps applying to the amount, opens the case
    `blocked` (administrators are told): nothing is ever approved by default.
    """
    now = timezone.now()
    case = ApprovalCase(
        program=program,
        subject_kind=subject_kind,
        subject_label=subject_label[:200],
        scope_key=scope_key[:100],
        summary=summary,
        amount_minor=amount_minor,
        currency=currency,
        maker=maker,
        recommender=recommender,
    )
    case.policy = policy_for_case(
        program=program, subject_kind=subject_kind, scope_key=scope_key, amount_minor=amount_minor
    )
    case.full_clean(exclude=["current_step"])
    record_history(case, actor=actor, reason="case opened")
    case.save()
    policy_note = f" under {case.policy}" if case.policy else ""
    _event(case, CaseEventKind.OPENED, actor=actor, message=f"Opened{policy_note}.")
    if case.policy is None:
        _block(case, _no_policy_reason(case, program), actor=actor)
    elif _start(case, case.policy, actor=actor, now=now) is None:
        _block(case, ERR_NO_STEP_APPLIES.format(policy=case.policy), actor=actor)
    record_history(case, actor=actor, reason="policy applied" if case.policy else "blocked")
    case.save(update_fields=["status", "blocked_reason", "current_step", "due_at"])
    return case


@transaction.atomic
def case_apply_policy(*, actor: User, case_id: int) -> ApprovalCase:
    """Put a blocked case under the policy that now matches it (administrators, once they
    have activated one). Refused while none matches."""
    if not actor.is_active or not actor.is_superuser:
        raise GovernanceError(ERR_ADMIN_ONLY, code="forbidden")
    case = _locked(case_id)
    if case.status != CaseStatus.BLOCKED:
        raise GovernanceError(ERR_NOT_BLOCKED, code="not_blocked")
    policy = policy_for_case(
        program=case.program,
        subject_kind=case.subject_kind,
        scope_key=case.scope_key,
        amount_minor=case.amount_minor,
    )
    if policy is None or not any(s.applies_to(case.amount_minor) for s in policy.steps.all()):
        raise GovernanceError(ERR_STILL_NO_POLICY, code="still_blocked")
    case.policy = policy
    case.status = CaseStatus.OPEN
    case.blocked_reason = ""
    _event(case, CaseEventKind.UNBLOCKED, actor=actor, message=f"Now under {policy}.")
    _start(case, policy, actor=actor, now=timezone.now())
    record_history(case, actor=actor, reason="policy applied")
    case.save(update_fields=["policy", "status", "blocked_reason", "current_step", "due_at"])
    return case


def _locked(case_id: int) -> ApprovalCase:
    # Lock the case: concurrent deciders, recalls and the escalation task serialise here.
    return (
        ApprovalCase.objects.select_for_update(of=("self",))
        .select_related("program")
        .get(pk=case_id)
    )


def _current_step(case: ApprovalCase) -> CaseStep | None:
    if case.current_step_id is None:
        return None
    return CaseStep.objects.select_related("step__group", "step__escalate_to").get(
        pk=case.current_step_id
    )


def case_validate_decider(*, actor: User, case: ApprovalCase, now: datetime | None = None) -> Grant:
    """The grant under which `actor` may decide the case's open step, or a refusal.

    The grant for the case's current (or last) step first (`selectors.decision_authority`),
    then separation of duties (maker, recommender, anyone who decided, in person or through a
    delegate), then the case's state: an outsider learns nothing about the case, a second click
    hears it was decided.
    """
    now = now or timezone.now()
    grant = decision_authority(user=actor, case=case, now=now)
    if grant is None:
        raise refusal(actor=actor, case=case, case_step=_current_step(case), now=now)
    check_separation(actor, case, case.decisions.all())
    check_subject_duties(actor, case)
    if case.status == CaseStatus.BLOCKED:
        raise GovernanceError(ERR_BLOCKED.format(reason=case.blocked_reason), code="blocked")
    if case.status != CaseStatus.OPEN:
        raise GovernanceError(
            ERR_NOT_OPEN.format(status=case.get_status_display().lower()), code="not_open"
        )
    return grant


def case_validate_reason(*, step: PolicyStep | None, outcome: str, reason: str) -> None:
    """Refuse a missing reason where the step asks for one (a form calls this too)."""
    if outcome not in DECIDER_OUTCOMES:
        raise GovernanceError(ERR_OUTCOME, code="outcome")
    needed = {
        Outcome.APPROVE: step.reason_on_approve if step else True,
        Outcome.RETURN: step.reason_on_return if step else True,
        Outcome.REJECT: step.reason_on_reject if step else True,
    }[Outcome(outcome)]
    if needed and not (reason or "").strip():
        raise GovernanceError(ERR_REASON_REQUIRED, code="reason")


def _close(case: ApprovalCase, status: str, *, actor: User, now: datetime, message: str) -> None:
    case_step = _current_step(case)
    if case_step is not None and case_step.status == CaseStepStatus.OPEN:
        case_step.status = (
            CaseStepStatus.APPROVED if status == CaseStatus.APPROVED else CaseStepStatus.CLOSED
        )
        case_step.completed_at = now
        record_history(case_step, actor=actor, reason=status)
        case_step.save()
    case.status = status
    case.decided_at = now
    case.due_at = None
    _event(case, CaseEventKind.CLOSED, actor=actor, case_step=case_step, message=message)


def _approve_step(
    case: ApprovalCase, case_step: CaseStep | None, *, actor: User, now: datetime
) -> bool:
    """Count an approval on the open step; open the next one when it is satisfied.
    Returns True when the case is now fully approved."""
    if case_step is None:  # a case opened before policies existed: one approval decides it
        return True
    case_step.approvals += 1
    if case_step.approvals < case_step.required_approvals:
        record_history(case_step, actor=actor, reason="approval counted")
        case_step.save()
        return False
    case_step.status = CaseStepStatus.APPROVED
    case_step.completed_at = now
    record_history(case_step, actor=actor, reason="step approved")
    case_step.save()
    _event(
        case,
        CaseEventKind.STEP_APPROVED,
        actor=actor,
        case_step=case_step,
        message=f"{case_step.step.name}: {case_step.approvals} of "
        f"{case_step.required_approvals} approval(s).",
    )
    following = (
        case.steps.select_related("step__group", "step__escalate_to")
        .filter(order__gt=case_step.order, status=CaseStepStatus.PENDING)
        .order_by("order")
        .first()
    )
    if following is None:
        return True
    _open_step(case, following, actor=actor, now=now)
    return False


@transaction.atomic
def case_decide(
    *,
    actor: User,
    case_id: int,
    outcome: str,
    reason: str,
    now: datetime | None = None,
) -> Decision:
    """Record `actor`'s approve, return or reject on the case's open step.

    Approve counts toward the step (the next step opens when it is satisfied, the case is
    approved when the last one is); return and reject end the case. On a final outcome the
    subject's handler runs in this transaction: if it refuses, nothing is recorded. Exactly
    one outcome even with concurrent deciders: the second waits on the case's row lock, then
    finds it decided.
    """
    reason = (reason or "").strip()
    if outcome not in DECIDER_OUTCOMES:
        raise GovernanceError(ERR_OUTCOME, code="outcome")
    now = now or timezone.now()
    case = _locked(case_id)
    grant = case_validate_decider(actor=actor, case=case, now=now)
    case_step = _current_step(case)
    case_validate_reason(step=case_step.step if case_step else None, outcome=outcome, reason=reason)
    try:
        with transaction.atomic():
            decision = Decision.objects.create(
                case=case,
                case_step=case_step,
                decided_by=actor,
                on_behalf_of=grant.principal,
                delegation=grant.delegation,
                outcome=outcome,
                reason=reason,
            )
    except IntegrityError:
        raise GovernanceError(ERR_DECIDED_ALREADY, code="decided_already") from None
    how = {"own": "", "escalation": " (escalated step)", "delegation": ""}[grant.kind]
    if grant.delegation is not None:
        how = f" (delegation #{grant.delegation.pk})"
    _event(
        case,
        CaseEventKind.DECISION,
        actor=actor,
        case_step=case_step,
        decision=decision,
        message=f"{decision.get_outcome_display()} by {decision.decided_by_label}{how}",
    )
    final = True
    if outcome == Outcome.APPROVE:
        final = _approve_step(case, case_step, actor=actor, now=now)
        if final:
            _close(case, CaseStatus.APPROVED, actor=actor, now=now, message="Approved.")
    else:
        _close(
            case,
            CLOSING_OUTCOMES[Outcome(outcome)],
            actor=actor,
            now=now,
            message=f"{decision.get_outcome_display()}: {reason}",
        )
    record_history(case, actor=actor, reason=f"{outcome}: {reason}"[:100])
    case.save(update_fields=["status", "decided_at", "current_step", "due_at"])
    if final:
        if case.status in DECIDED_OUTCOMES:
            events.announce(events.CASE_DECIDED, case=case, outcome=DECIDED_OUTCOMES[case.status])
        _tell_subject(case, decision, actor)
    return decision


@transaction.atomic
def case_recall(*, actor: User, case_id: int, reason: str = "") -> Decision:
    """The maker withdraws their case before anyone decided on it; the subject's handler is
    called with outcome `recall`."""
    case = _locked(case_id)
    if not actor.is_active or case.maker_id != actor.pk:
        raise GovernanceError(ERR_NOT_MAKER.format(kind=case.kind_label), code="not_maker")
    if case.status not in OPEN_CASE_STATUSES:
        raise GovernanceError(
            ERR_NOT_OPEN.format(status=case.get_status_display().lower()), code="not_open"
        )
    if case.decisions.exists():
        raise GovernanceError(ERR_RECALL_AFTER_DECISION, code="decided")
    now = timezone.now()
    reason = (reason or "").strip() or "Recalled by the submitter."
    decision = Decision.objects.create(
        case=case,
        case_step=_current_step(case),
        decided_by=actor,
        outcome=Outcome.RECALL,
        reason=reason,
    )
    _event(
        case,
        CaseEventKind.DECISION,
        actor=actor,
        case_step=decision.case_step,
        decision=decision,
        message=f"Recalled by {decision.decided_by_label}",
    )
    _close(case, CaseStatus.RECALLED, actor=actor, now=now, message=reason)
    record_history(case, actor=actor, reason="recalled")
    case.save(update_fields=["status", "decided_at", "current_step", "due_at"])
    _tell_subject(case, decision, actor)
    return decision
