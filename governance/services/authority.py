"""Why someone may not decide a case: separation of duties, and the refusal that explains a
missing grant.

Whether a user may decide a case's open step, and under which grant, is
`governance.selectors.decision_authority` alone. When it finds no grant, `refusal` says why in
the words closest to the user's situation: the delegation that came nearest to covering the
case and what it lacks, else the step's or the program's authority.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from django.utils import formats

from core.money import display_money as format_money

from ..models import (
    DECIDE_PERMISSION,
    DELEGATED_PERMISSION,
    ApprovalCase,
    ApproverKind,
    CaseStep,
    Decision,
    Delegation,
    PolicyStep,
    display_name,
)
from .errors import (
    ERR_DECIDED_ALREADY,
    ERR_DELEGATION_CEILING,
    ERR_DELEGATION_EXPIRED,
    ERR_DELEGATION_NOT_GRANTED,
    ERR_DELEGATION_NOT_STARTED,
    ERR_DELEGATION_REVOKED,
    ERR_DELEGATION_SCOPE,
    ERR_DELEGATOR_LOST_AUTHORITY,
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


def _in_group(user: User, group_id: int | None) -> bool:
    if group_id is None or not user.is_active:
        return False
    return user.groups.filter(pk=group_id).exists()


def _holds_step_authority(user: User, case: ApprovalCase, step: PolicyStep | None) -> bool:
    """`user` holds `step` of `case` in their own right (a legacy case has no step): the
    wording of `selectors.authority`'s rule for one person, to name what a delegator lacks."""
    if not user.is_active:
        return False
    if step is None or step.approver_kind == ApproverKind.PROGRAM:
        return user.has_perm(DECIDE_PERMISSION, case.program)
    return user.is_superuser or _in_group(user, step.group_id)


def check_separation(
    person: User,
    case: ApprovalCase,
    decisions: Iterable[Decision],
    *,
    delegate_of: bool = False,
) -> None:
    """Maker never checker, recommender never approver, nobody twice on one case.

    `delegate_of`: `person` is the delegator a delegate would decide for; the messages say so.
    """
    kind = case.kind_label
    name = display_name(person)
    if case.maker_id == person.pk:
        message = ERR_PRINCIPAL_OWN_SUBJECT if delegate_of else ERR_OWN_SUBJECT
        raise GovernanceError(message.format(kind=kind, delegator=name), code="own_subject")
    if case.recommender_id == person.pk:
        message = ERR_PRINCIPAL_OWN_RECOMMENDATION if delegate_of else ERR_OWN_RECOMMENDATION
        raise GovernanceError(message.format(kind=kind, delegator=name), code="own_recommendation")
    for decision in decisions:
        if person.pk in (decision.decided_by_id, decision.on_behalf_of_id):
            message = ERR_PRINCIPAL_DECIDED_ALREADY if delegate_of else ERR_DECIDED_ALREADY
            raise GovernanceError(message.format(delegator=name), code="decided_already")


def refusal(
    *,
    actor: User,
    case: ApprovalCase,
    case_step: CaseStep | None,
    decisions: Iterable[Decision],
    now: datetime,
) -> GovernanceError:
    """The refusal to show `actor`, who holds no grant for the case's open step at `now`.

    Each of the actor's delegations on the program is looked at in turn: its scope, whether it
    is revoked or outside its window, its ceiling, the delegated permission, the delegator's
    own authority for the step and their separation of duties; the refusal of the one that got
    furthest is the one shown. Without delegations: the step's or the program's authority.
    """
    step = case_step.step if case_step is not None else None
    decisions = list(decisions)
    # The refusal of the delegation that came closest to covering the case is the one shown.
    best: tuple[int, GovernanceError] | None = None

    def refuse(stage: int, error: GovernanceError) -> None:
        nonlocal best
        if best is None or stage > best[0]:
            best = (stage, error)

    order = case_step.order if case_step is not None else None
    candidates = (
        Delegation.objects.filter(delegate=actor, program_id=case.program_id)
        .select_related("delegator")
        .order_by("-starts_at", "-pk")
    )
    for delegation in candidates if actor.is_active else []:
        delegator = delegation.delegator
        who = display_name(delegator)
        if not delegation.covers(case, order):
            refuse(0, GovernanceError(ERR_DELEGATION_SCOPE, code="delegation_scope"))
            continue
        if delegation.revoked_at is not None:
            refuse(
                1,
                GovernanceError(
                    ERR_DELEGATION_REVOKED.format(delegator=who, when=_when(delegation.revoked_at)),
                    code="delegation_revoked",
                ),
            )
            continue
        if now < delegation.starts_at:
            refuse(
                1,
                GovernanceError(
                    ERR_DELEGATION_NOT_STARTED.format(
                        delegator=who, when=_when(delegation.starts_at)
                    ),
                    code="delegation_not_started",
                ),
            )
            continue
        if now >= delegation.ends_at:
            refuse(
                1,
                GovernanceError(
                    ERR_DELEGATION_EXPIRED.format(delegator=who, when=_when(delegation.ends_at)),
                    code="delegation_expired",
                ),
            )
            continue
        if not delegation.within_ceiling(case):
            refuse(
                2,
                GovernanceError(
                    ERR_DELEGATION_CEILING.format(
                        delegator=who,
                        amount=format_money(
                            case.amount_minor or 0, case.currency or delegation.currency
                        ),
                        ceiling=format_money(delegation.ceiling_minor, delegation.currency),
                    ),
                    code="delegation_ceiling",
                ),
            )
            continue
        if not actor.has_perm(DELEGATED_PERMISSION, case.program):
            refuse(
                3,
                GovernanceError(
                    ERR_DELEGATION_NOT_GRANTED.format(delegator=who),
                    code="delegation_not_granted",
                ),
            )
            continue
        if not _holds_step_authority(delegator, case, step):
            refuse(
                3,
                GovernanceError(
                    ERR_DELEGATOR_LOST_AUTHORITY.format(delegator=who),
                    code="delegator_lost_authority",
                ),
            )
            continue
        try:
            check_separation(delegator, case, decisions, delegate_of=True)
        except GovernanceError as error:
            refuse(4, error)
            continue
    if best is not None:
        return best[1]
    if step is not None and step.approver_kind == ApproverKind.GROUP:
        return GovernanceError(ERR_NO_STEP_AUTHORITY.format(step=step.name), code="no_authority")
    return GovernanceError(ERR_NO_AUTHORITY.format(program=case.program), code="no_authority")
