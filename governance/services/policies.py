"""Approval policies: drafting, versioning, activation, and finding the one a case falls under.

A version is editable while it is a draft; once active it never changes again (a change is a
new draft version of the same `code`, and activating that retires the version before it). Cases
keep the version they opened under, so a policy change never alters a case already open.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from core.audit import SYSTEM_USERNAME, record_history
from core.locks import advisory_xact_lock

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


# What a step is made of besides its policy and its order (the admin's inline shows these).
STEP_FIELDS = tuple(StepSpec.__dataclass_fields__)
# A policy version's own fields: what a new version copies, and what a change to it may set.
POLICY_FIELDS = (
    "code",
    "name",
    "program",
    "subject_kind",
    "scope_key",
    "amount_min_minor",
    "amount_max_minor",
)


@dataclass(frozen=True)
class StepEdit:
    """A draft's step as an edit of its steps gives it: a new step (`step_id` None) or a
    change to the step `step_id`, at `order`, made of `spec`."""

    order: int
    spec: StepSpec
    step_id: int | None = None


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


def _step_write(
    step: PolicyStep, *, order: int, spec: StepSpec, actor: User, reason: str
) -> PolicyStep:
    """Give `step` (new, or of a draft the caller holds locked) `order` and `spec`, check it
    and save it, its history row naming `actor`."""
    step.order = order
    for name in STEP_FIELDS:
        setattr(step, name, getattr(spec, name))
    step.full_clean()
    record_history(step, actor=actor, reason=reason)
    step.save()
    return step


def _draft_insert(
    policy: ApprovalPolicy,
    *,
    actor: User,
    reason: str,
    steps: Iterable[tuple[int, StepSpec]] = (),
) -> ApprovalPolicy:
    """Save the unsaved `policy` as the next draft version of its code, made by `actor`, with
    `steps` as (order, spec). The one way a version comes to be: `policy_create`,
    `policy_new_version` and a new policy in the admin (`policy_draft_save`) all end here.
    Call inside a transaction."""
    # Versions of a code are numbered one after another: two drafts of one code at once queue
    # here, so the second counts the first instead of taking the same number.
    advisory_xact_lock(f"governance.policy.{policy.code}")
    latest = ApprovalPolicy.objects.filter(code=policy.code).aggregate(v=Max("version"))["v"]
    policy.version = (latest or 0) + 1
    policy.status = PolicyStatus.DRAFT
    policy.created_by = actor
    policy.full_clean()
    record_history(policy, actor=actor, reason=reason)
    policy.save()
    for order, spec in steps:
        _step_write(PolicyStep(policy=policy), order=order, spec=spec, actor=actor, reason=reason)
    return policy


@transaction.atomic
def policy_draft_save(*, actor: User, policy: ApprovalPolicy) -> ApprovalPolicy:
    """Save a policy edited in the admin: a new one becomes the next draft version of its code
    (as `policy_create` makes it); an existing one must still be a draft (a change to a version
    in force is `policy_new_version`)."""
    _check_manager(actor)
    if policy.pk is None:
        return _draft_insert(policy, actor=actor, reason="drafted in the admin")
    # Lock the version: an activation racing this edit sees it before or after, never half.
    policy_validate_editable(ApprovalPolicy.objects.select_for_update().get(pk=policy.pk))
    policy.full_clean()
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
    _draft_insert(policy, actor=actor, reason="policy drafted", steps=enumerate(steps, start=1))
    if activate:
        policy = policy_activate(actor=actor, policy_id=policy.pk)
    return policy


@transaction.atomic
def policy_steps_save(
    *,
    actor: User,
    policy_id: int,
    edits: Sequence[StepEdit] = (),
    removed: Sequence[int] = (),
) -> list[PolicyStep]:
    """Change a draft version's steps in one go (the admin's inline): remove the steps
    `removed` names, then change or add each of `edits`, in that order. Administrators only;
    refused unless the version is a draft; all or nothing. Returns the saved steps in the
    order of `edits`."""
    _check_manager(actor)
    # Lock the version: an activation racing this edit sees all of its steps or none of them.
    policy = ApprovalPolicy.objects.select_for_update().get(pk=policy_id)
    policy_validate_editable(policy)
    for step_id in removed:
        step = policy.steps.get(pk=step_id)
        record_history(step, actor=actor, reason="step removed")
        step.delete()
    saved = []
    for edit in edits:
        if edit.step_id is None:
            step, reason = PolicyStep(policy=policy), "step added"
        else:
            step, reason = policy.steps.get(pk=edit.step_id), "step changed"
        saved.append(
            _step_write(step, order=edit.order, spec=edit.spec, actor=actor, reason=reason)
        )
    return saved


@transaction.atomic
def step_add(
    *, actor: User, policy: ApprovalPolicy, spec: StepSpec, order: int | None = None
) -> PolicyStep:
    """Add a step to a draft version (at the end unless `order` is given): `policy_steps_save`
    with one new step."""
    if order is None:
        # Lock the version first: the end is counted as it stands under the lock.
        locked = ApprovalPolicy.objects.select_for_update().get(pk=policy.pk)
        order = (locked.steps.aggregate(o=Max("order"))["o"] or 0) + 1
    edit = StepEdit(order=order, spec=spec)
    return policy_steps_save(actor=actor, policy_id=policy.pk, edits=[edit])[0]


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


@transaction.atomic
def policy_new_version(
    *, actor: User, policy_id: int, changes: dict[str, Any] | None = None
) -> ApprovalPolicy:
    """A new draft version copying `policy_id` (and its steps), with `changes` applied to the
    policy's own fields (`POLICY_FIELDS`). The copied version itself is left as it was."""
    _check_manager(actor)
    changes = changes or {}
    unknown = set(changes) - set(POLICY_FIELDS)
    if unknown:
        raise ValueError(f"Not a policy's own field: {', '.join(sorted(unknown))}.")
    source = ApprovalPolicy.objects.get(pk=policy_id)
    draft = ApprovalPolicy(**{f: getattr(source, f) for f in POLICY_FIELDS} | changes)
    steps = [
        (step.order, StepSpec(**{f: getattr(step, f) for f in STEP_FIELDS}))
        for step in source.steps.select_related("group", "escalate_to").order_by("order")
    ]
    return _draft_insert(
        draft, actor=actor, reason=f"new version of v{source.version}", steps=steps
    )


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
