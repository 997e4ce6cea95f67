"""Approval policies: drafting, versioning, activation, and finding the one a case falls under.

A version is editable while it is a draft; once active it never changes again (a change is a
new draft version of the same `code`, and activating that retires the version before it). Cases
keep the version they opened under, so a policy change never alters a case already open.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from core.audit import SYSTEM_USERNAME, record_history

from ..models import ApprovalPolicy, ApproverKind, PolicyStatus, PolicyStep, Program, StepMode
from .errors import (
    ERR_ADMIN_ONLY,
    ERR_POLICY_AMBIGUOUS,
    ERR_POLICY_IMMUTABLE,
    ERR_POLICY_NO_STEPS,
    ERR_POLICY_NOT_DRAFT,
    GovernanceError,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import Group, User

MANAGE_POLICY_PERMISSION = "governance.change_approvalpolicy"


@dataclass(frozen=True)
class StepSpec:
    """A step to add to a draft (see `PolicyStep` for what each field means)."""

    name: str
    approver_kind: str = ApproverKind.PROGRAM
    group: Group | None = None
    mode: str = StepMode.ONE
    quorum: int | None = None
    quorum_of: int | None = None
    threshold_minor: int | None = None
    sla_hours: int | None = None
    escalate_to: Group | None = None
    reason_on_approve: bool = False
    reason_on_return: bool = True
    reason_on_reject: bool = True


def _check_manager(actor: User) -> None:
    """Administrators manage policies; so does the (inactive) system user that management
    commands such as `seed_demo` act as."""
    if actor.get_username() == SYSTEM_USERNAME and not actor.is_active:
        return
    if not actor.is_active or not (actor.is_superuser or actor.has_perm(MANAGE_POLICY_PERMISSION)):
        raise GovernanceError(ERR_ADMIN_ONLY, code="forbidden")


def policy_validate_editable(policy: ApprovalPolicy) -> None:
    """Refuse any change to a version that is no longer a draft."""
    if policy.status != PolicyStatus.DRAFT:
        raise GovernanceError(
            ERR_POLICY_IMMUTABLE.format(
                version=policy.version,
                name=policy.name,
                status=policy.get_status_display().lower(),
            ),
            code="immutable",
        )


def _draft_new(policy: ApprovalPolicy, *, actor: User) -> None:
    """Make an unsaved policy the next draft version of its code, made by `actor`."""
    latest = ApprovalPolicy.objects.filter(code=policy.code).aggregate(v=Max("version"))["v"]
    policy.version = (latest or 0) + 1
    policy.status = PolicyStatus.DRAFT
    policy.created_by = actor


@transaction.atomic
def policy_draft_save(*, actor: User, policy: ApprovalPolicy) -> ApprovalPolicy:
    """Save a policy edited in the admin: a new one becomes the next draft version of its code;
    an existing one must still be a draft (a change to a version in force is
    `policy_new_version`)."""
    _check_manager(actor)
    if policy.pk is None:
        _draft_new(policy, actor=actor)
    else:
        # Lock the version: an activation racing this edit sees it before or after, never half.
        policy_validate_editable(ApprovalPolicy.objects.select_for_update().get(pk=policy.pk))
    record_history(policy, actor=actor, reason="edited in the admin")
    policy.save()
    return policy


@transaction.atomic
def policy_delete(*, actor: User, policy_id: int) -> None:
    """Delete a policy version no case was opened under (cases protect theirs)."""
    _check_manager(actor)
    policy = ApprovalPolicy.objects.select_for_update().get(pk=policy_id)
    record_history(policy, actor=actor, reason="deleted")
    policy.delete()


@transaction.atomic
def policy_create(
    *,
    actor: User,
    program: Program,
    code: str,
    name: str,
    steps: list[StepSpec],
    subject_kind: str = "",
    scope_key: str = "",
    amount_min_minor: int | None = None,
    amount_max_minor: int | None = None,
    activate: bool = False,
) -> ApprovalPolicy:
    """A new policy (version 1 of `code`, or the next version), as a draft or activated.
    Administrators only (superusers or `governance.change_approvalpolicy`)."""
    _check_manager(actor)
    policy = ApprovalPolicy(
        code=code,
        name=name,
        program=program,
        subject_kind=subject_kind,
        scope_key=scope_key,
        amount_min_minor=amount_min_minor,
        amount_max_minor=amount_max_minor,
    )
    _draft_new(policy, actor=actor)
    policy.full_clean()
    record_history(policy, actor=actor, reason="policy drafted")
    policy.save()
    for order, spec in enumerate(steps, start=1):
        step_add(actor=actor, policy=policy, spec=spec, order=order)
    if activate:
        policy = policy_activate(actor=actor, policy_id=policy.pk)
    return policy


def step_add(
    *, actor: User, policy: ApprovalPolicy, spec: StepSpec, order: int | None = None
) -> PolicyStep:
    """Add a step to a draft version (at the end unless `order` is given)."""
    _check_manager(actor)
    policy_validate_editable(policy)
    if order is None:
        order = (policy.steps.aggregate(o=Max("order"))["o"] or 0) + 1
    step = PolicyStep(policy=policy, order=order, **spec.__dict__)
    step.full_clean()
    record_history(step, actor=actor, reason="step added")
    step.save()
    return step


@transaction.atomic
def step_save(*, actor: User, step: PolicyStep) -> PolicyStep:
    """Add or change a step of a draft version (the admin's inline)."""
    _check_manager(actor)
    policy_validate_editable(ApprovalPolicy.objects.select_for_update().get(pk=step.policy_id))
    record_history(step, actor=actor, reason="edited in the admin")
    step.save()
    return step


@transaction.atomic
def step_remove(*, actor: User, step_id: int) -> None:
    """Remove a step from a draft version."""
    _check_manager(actor)
    step = PolicyStep.objects.select_related("policy").get(pk=step_id)
    policy_validate_editable(ApprovalPolicy.objects.select_for_update().get(pk=step.policy_id))
    record_history(step, actor=actor, reason="removed in the admin")
    step.delete()


def _overlapping_active(policy: ApprovalPolicy) -> ApprovalPolicy | None:
    """Another active policy (of another code) with the same scope and an overlapping band."""
    others = ApprovalPolicy.objects.filter(
        program_id=policy.program_id,
        subject_kind=policy.subject_kind,
        scope_key=policy.scope_key,
        status=PolicyStatus.ACTIVE,
    ).exclude(code=policy.code)
    low = policy.amount_min_minor or 0
    high = policy.amount_max_minor
    others = others.filter(Q(amount_max_minor__isnull=True) | Q(amount_max_minor__gte=low))
    if high is not None:
        others = others.filter(Q(amount_min_minor__isnull=True) | Q(amount_min_minor__lte=high))
    return others.first()


@transaction.atomic
def policy_activate(*, actor: User, policy_id: int) -> ApprovalPolicy:
    """Make a draft version the active one of its code, retiring the version before it.

    Refused without steps, or when another active policy would cover the same cases (the
    match must never be a matter of chance).
    """
    _check_manager(actor)
    # Lock the version: two administrators activating at once activate it once.
    policy = ApprovalPolicy.objects.select_for_update().get(pk=policy_id)
    if policy.status != PolicyStatus.DRAFT:
        raise GovernanceError(ERR_POLICY_NOT_DRAFT, code="not_draft")
    if not policy.steps.exists():
        raise GovernanceError(ERR_POLICY_NO_STEPS, code="no_steps")
    other = _overlapping_active(policy)
    if other is not None:
        raise GovernanceError(ERR_POLICY_AMBIGUOUS.format(other=other), code="ambiguous")
    now = timezone.now()
    for previous in ApprovalPolicy.objects.select_for_update().filter(
        code=policy.code, status=PolicyStatus.ACTIVE
    ):
        previous.status = PolicyStatus.RETIRED
        previous.retired_at = now
        record_history(previous, actor=actor, reason=f"retired by version {policy.version}")
        previous.save(update_fields=["status", "retired_at"])
    policy.status = PolicyStatus.ACTIVE
    policy.activated_at = now
    record_history(policy, actor=actor, reason="activated")
    policy.save(update_fields=["status", "activated_at"])
    return policy


@transaction.atomic
def policy_retire(*, actor: User, policy_id: int) -> ApprovalPolicy:
    """Retire an active version without a successor (new cases it covered will be blocked)."""
    _check_manager(actor)
    policy = ApprovalPolicy.objects.select_for_update().get(pk=policy_id)
    if policy.status != PolicyStatus.ACTIVE:
        raise GovernanceError(ERR_POLICY_NOT_DRAFT, code="not_active")
    policy.status = PolicyStatus.RETIRED
    policy.retired_at = timezone.now()
    record_history(policy, actor=actor, reason="retired")
    policy.save(update_fields=["status", "retired_at"])
    return policy


_COPIED_POLICY_FIELDS = (
    "code",
    "name",
    "program",
    "subject_kind",
    "scope_key",
    "amount_min_minor",
    "amount_max_minor",
)
_COPIED_STEP_FIELDS = tuple(StepSpec.__dataclass_fields__)


@transaction.atomic
def policy_new_version(
    *, actor: User, policy_id: int, changes: dict[str, Any] | None = None
) -> ApprovalPolicy:
    """A new draft version copying `policy_id` (and its steps), with `changes` applied to the
    policy's own fields. The copied version itself is left as it was."""
    _check_manager(actor)
    source = ApprovalPolicy.objects.get(pk=policy_id)
    latest = ApprovalPolicy.objects.filter(code=source.code).aggregate(v=Max("version"))["v"]
    values = {f: getattr(source, f) for f in _COPIED_POLICY_FIELDS}
    values.update(changes or {})
    draft = ApprovalPolicy(**values, version=(latest or 0) + 1, created_by=actor)
    draft.full_clean()
    record_history(draft, actor=actor, reason=f"new version of v{source.version}")
    draft.save()
    for step in source.steps.order_by("order"):
        copy = PolicyStep(
            policy=draft, order=step.order, **{f: getattr(step, f) for f in _COPIED_STEP_FIELDS}
        )
        copy.full_clean()
        record_history(copy, actor=actor, reason=f"copied from v{source.version}")
        copy.save()
    return draft


def policy_for_case(
    *, program: Program, subject_kind: str, scope_key: str, amount_minor: int | None
) -> ApprovalPolicy | None:
    """The active policy version a new case falls under, or None (the case is then blocked).

    The most specific wins: an exact subject kind before "every kind", an exact scope key
    before "every key", then the narrowest amount band. Activation refuses two active policies
    of equal specificity whose bands overlap, so the answer never depends on row order.
    """
    candidates = [
        p
        for p in ApprovalPolicy.objects.filter(
            program=program,
            status=PolicyStatus.ACTIVE,
            subject_kind__in=["", subject_kind],
            scope_key__in=["", scope_key],
        )
        if p.covers_amount(amount_minor)
    ]
    if not candidates:
        return None

    def specificity(p: ApprovalPolicy) -> tuple[int, int, int]:
        band_floor = p.amount_min_minor or 0
        return (int(p.subject_kind != ""), int(p.scope_key != ""), band_floor)

    return max(candidates, key=specificity)
