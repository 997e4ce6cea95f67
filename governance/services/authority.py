"""Who may decide a case's open step now: own authority, escalation, or an active delegation.

Every check reads the current state of the database (permissions, group membership, the
delegation row itself): a beat task that has not yet removed an expired delegate's permission
never extends their authority, because the delegation's window is read here too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.db.models import Q
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
    ProgramGroupObjectPermission,
    ProgramUserObjectPermission,
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


@dataclass(frozen=True)
class Authority:
    """How a decider holds the authority for a step: `own`, `escalation` or `delegation`."""

    kind: str
    delegation: Delegation | None = None

    @property
    def principal(self) -> User | None:
        """The delegator a delegate decides for (None for own authority)."""
        return self.delegation.delegator if self.delegation is not None else None


def _when(moment: datetime) -> str:
    return str(formats.date_format(moment, "DATETIME_FORMAT"))


def in_group(user: User, group_id: int | None) -> bool:
    if group_id is None or not user.is_active:
        return False
    return user.groups.filter(pk=group_id).exists()


def holds_step_authority(user: User, case: ApprovalCase, step: PolicyStep | None) -> bool:
    """`user` may decide `step` of `case` in their own right (a legacy case has no step)."""
    if not user.is_active:
        return False
    if step is None or step.approver_kind == ApproverKind.PROGRAM:
        return user.has_perm(DECIDE_PERMISSION, case.program)
    return user.is_superuser or in_group(user, step.group_id)


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


def resolve_authority(
    *,
    actor: User,
    case: ApprovalCase,
    case_step: CaseStep | None,
    decisions: Iterable[Decision],
    now: datetime,
) -> Authority:
    """The authority `actor` holds for the case's open step now, or a refusal saying why not.

    Own authority first, then escalation (the step is overdue and `actor` is in its escalation
    group), then the actor's delegations on the program: each must cover the case, be inside its
    window and not revoked, be granted as the guardian permission, cover the amount, and its
    delegator must still hold the step's authority and pass separation of duties.
    """
    step = case_step.step if case_step is not None else None
    if holds_step_authority(actor, case, step):
        return Authority("own")
    if (
        case_step is not None
        and step is not None
        and case_step.escalated_at is not None
        and in_group(actor, step.escalate_to_id)
    ):
        return Authority("escalation")
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
        if not holds_step_authority(delegator, case, step):
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
        return Authority("delegation", delegation)
    if best is not None:
        raise best[1]
    if step is not None and step.approver_kind == ApproverKind.GROUP:
        raise GovernanceError(ERR_NO_STEP_AUTHORITY.format(step=step.name), code="no_authority")
    raise GovernanceError(ERR_NO_AUTHORITY.format(program=case.program), code="no_authority")


def own_deciders(case: ApprovalCase, step: PolicyStep | None) -> list[int]:
    """Ids of the active users who hold `step`'s authority in their own right (superusers
    aside), less the maker, the recommender and anyone who already decided on the case."""
    user_model = get_user_model()
    if step is None or step.approver_kind == ApproverKind.PROGRAM:
        direct = ProgramUserObjectPermission.objects.filter(
            content_object_id=case.program_id,
            permission__codename=DECIDE_PERMISSION.split(".")[1],
            permission__content_type__app_label="governance",
        ).values("user_id")
        groups = ProgramGroupObjectPermission.objects.filter(
            content_object_id=case.program_id,
            permission__codename=DECIDE_PERMISSION.split(".")[1],
            permission__content_type__app_label="governance",
        ).values("group_id")
        users = user_model.objects.filter(Q(pk__in=direct) | Q(groups__in=groups))
    else:
        users = user_model.objects.filter(groups=step.group_id)
    decided = Decision.objects.filter(case=case).values_list("decided_by_id", "on_behalf_of_id")
    excluded = {case.maker_id, case.recommender_id}
    for by, behalf in decided:
        excluded.update({by, behalf})
    ids = users.filter(is_active=True).values_list("pk", flat=True).distinct()
    return sorted(set(ids) - excluded)


def step_notify_ids(case: ApprovalCase, step: PolicyStep | None) -> list[int]:
    """Who is told about a step's deadline: its own deciders and the program's active
    delegates (a delegate's scope is checked when they decide)."""
    delegates = Delegation.objects.filter(
        program_id=case.program_id, permission_granted=True, revoked_at__isnull=True
    ).values_list("delegate_id", flat=True)
    ids = set(own_deciders(case, step)) | set(delegates)
    ids.discard(case.maker_id)
    ids.discard(case.recommender_id)
    return sorted(i for i in ids if i is not None)
