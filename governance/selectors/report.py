"""The auditor's authority report: who could decide (or review) what on a given date, and
through what, rebuilt from history."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db.models import Exists, OuterRef, Q
from django.utils import formats

from ..models import (
    DECIDE_PERMISSION,
    DELEGATED_PERMISSION,
    ApprovalCase,
    ApproverKind,
    Delegation,
    Duty,
    PolicyStep,
    Program,
    ProgramGroupObjectPermission,
    ProgramUserObjectPermission,
)
from .duties import duty_table
from .membership import Membership, members_as_of


@dataclass(frozen=True)
class AuthorityRow:
    """One line of the authority report. `step` and `cases` narrow it to one step of one policy
    version (blank: every case of the program that the permission reaches)."""

    program: str
    person: str
    permission: str
    via: str
    step: str = ""
    cases: str = ""


# The report's wording for authority that is not a permission of its own.
STEP_AUTHORITY = "Decide a policy step as a member of its group"
STEP_DELEGATED = "Decide a policy step under delegation from a member of its group"
STEP_ESCALATED = "Decide a policy step once it is overdue and escalated"
_DELEGATED_CODENAME = DELEGATED_PERMISSION.split(".")[1]
_DECIDING = {DECIDE_PERMISSION.split(".")[1], _DELEGATED_CODENAME}


def _amounts(low: int | None, high: int | None, currency: str = "") -> str:
    """An inclusive band of minor units in words (None: open-ended)."""
    unit = f" minor units {currency}" if currency else " minor units"
    if low is None and high is None:
        return "any amount"
    if high is None:
        return f"from {low}{unit}"
    if low is None:
        return f"up to {high}{unit}"
    return f"{low} to {high}{unit}"


def _step_band(step: PolicyStep) -> tuple[int | None, int | None]:
    """The amounts of the cases `step` is decided on: the policy's band, above the step's
    threshold (a case without an amount counts as 0)."""
    policy = step.policy
    low = policy.amount_min_minor
    if step.threshold_minor is not None:
        low = max(low or 0, step.threshold_minor + 1)
    return low, policy.amount_max_minor


def _narrower(policy_value: str, delegation_value: str) -> str | None:
    """The scope both cover ("" is every value), or None when they have nothing in common."""
    if not policy_value or policy_value == delegation_value:
        return delegation_value or policy_value
    return policy_value if not delegation_value else None


def _cases_text(subject_kind: str, scope_key: str, band: str) -> str:
    return f"{subject_kind or 'any subject'}, {scope_key or 'any scope'}, {band}"


def steps_in_force(moment: datetime) -> list[PolicyStep]:
    """The steps of every policy version a case could be decided under at `moment`, in one
    query: versions active then (activated at or before it, not yet retired), and retired
    versions that still governed a case open then, since a case keeps the version it opened
    under. `step.policy.governs_open_cases_only` is True for the second kind."""
    open_then = ApprovalCase.objects.filter(
        policy_id=OuterRef("policy_id"), opened_at__lte=moment
    ).filter(Q(decided_at__isnull=True) | Q(decided_at__gt=moment))
    not_retired = Q(policy__retired_at__isnull=True) | Q(policy__retired_at__gt=moment)
    steps: list[PolicyStep] = list(
        PolicyStep.objects.alias(open_then=Exists(open_then))
        .filter(Q(policy__activated_at__lte=moment) & (not_retired | Q(open_then=True)))
        .select_related("policy")
        .order_by("policy__code", "policy__version", "order")
    )
    for step in steps:
        retired_at = step.policy.retired_at
        step.policy.governs_open_cases_only = retired_at is not None and retired_at <= moment  # type: ignore[attr-defined]
    return steps


@dataclass
class _Report:
    """What the report's rows are written from, read once (a fixed number of queries)."""

    moment: datetime
    programs: dict[int, str]
    users: dict[int, Any]
    group_names: dict[int, str]
    members: dict[int, list[Membership]]
    # People separation of duties kept from deciding at the moment: never listed as deciders.
    barred: set[int] = field(default_factory=set)
    rows: list[AuthorityRow] = field(default_factory=list)

    def person(self, user_id: int) -> str:
        user = self.users.get(user_id)
        if user is None:
            return f"user #{user_id}"
        name = user.get_full_name() or user.get_username()
        return name if user.is_active else f"{name} (account now deactivated)"

    def program(self, program_id: int) -> str:
        return self.programs.get(program_id, "?")

    def group(self, group_id: int, member: Membership | None = None) -> str:
        """`group “name”`, marked when `member` is known only from the recording snapshot."""
        label = f"group “{self.group_names.get(group_id, f'#{group_id}')}”"
        if member is not None and member.since_recording is not None:
            when = formats.date_format(member.since_recording, "DATETIME_FORMAT")
            label = f"{label} (a member when membership recording began, {when})"
        return label

    def add(self, *values: str) -> None:
        self.rows.append(AuthorityRow(*values))

    def group_steps(
        self,
        steps: list[PolicyStep],
        delegations: list[Delegation],
        delegated: set[tuple[int, int]],
    ) -> None:
        """Rows for the steps decided by a named group (its members at the moment), for the
        delegations of those members that reach such a step, and for the escalation group of
        every step: the rules of `selectors.authority` (see `grant_expression`), as of the moment.

        `delegations`: those active at the moment; `delegated`: the (user, program) pairs
        holding the delegated permission then, which the decision check also requires.
        """
        given: dict[int, list[Delegation]] = defaultdict(list)
        for delegation in delegations:
            given[delegation.delegator_id].append(delegation)
        for step in steps:
            policy = step.policy
            program = self.program(policy.program_id)
            where = f"{policy.name} v{policy.version}, step {step.order} “{step.name}”"
            if policy.governs_open_cases_only:  # type: ignore[attr-defined]
                when = formats.date_format(policy.retired_at or self.moment, "DATETIME_FORMAT")
                where += f" (version retired {when}; governs the cases still open under it)"
            low, high = _step_band(step)
            cases = _cases_text(policy.subject_kind, policy.scope_key, _amounts(low, high))
            if step.escalate_to_id is not None:
                for member in self.members.get(step.escalate_to_id, []):
                    if member.user_id in self.barred:
                        continue
                    via = f"escalation to {self.group(step.escalate_to_id, member)}"
                    self.add(
                        program, self.person(member.user_id), STEP_ESCALATED, via, where, cases
                    )
            if step.approver_kind != ApproverKind.GROUP or step.group_id is None:
                continue
            for member in self.members.get(step.group_id, []):
                if member.user_id in self.barred:
                    continue
                via = self.group(step.group_id, member)
                self.add(program, self.person(member.user_id), STEP_AUTHORITY, via, where, cases)
                for delegation in given.get(member.user_id, []):
                    kind = _narrower(policy.subject_kind, delegation.subject_kind)
                    key = _narrower(policy.scope_key, delegation.scope_key)
                    ceiling = delegation.ceiling_minor
                    top = ceiling if high is None else min(high, ceiling)
                    if (
                        delegation.program_id != policy.program_id
                        or kind is None
                        or key is None
                        or delegation.step_order not in (None, step.order)
                        or top < (low or 0)
                        or (delegation.delegate_id, policy.program_id) not in delegated
                        or delegation.delegate_id in self.barred
                    ):
                        continue
                    self.add(
                        program,
                        self.person(delegation.delegate_id),
                        STEP_DELEGATED,
                        f"delegation #{delegation.id} from {self.person(member.user_id)}, "
                        f"a member of {via}",
                        where,
                        _cases_text(kind, key, _amounts(low, top, delegation.currency)),
                    )


def authority_as_of(*, moment: datetime) -> list[AuthorityRow]:
    """Who could decide (or review) what on `moment`, and through what: rebuilt from the
    history of the program permissions (user and group grants), of group membership
    (`selectors.membership`), of the policy versions in force and of the delegations.

    A group grant, and a policy step decided by a named group, lists the group's members at
    `moment`; a member known only from the snapshot taken when membership recording began
    (after `moment`) is listed and marked as such. Separation of duties (`DutyConflict`)
    holds: nobody whose holder kind may not decide (administrators, i.e. superusers now, and
    members of a barred role group at `moment`, as seeded auditors) is listed with authority
    to decide, by any route. A delegate is listed once for a delegation (the delegation's row,
    not also the delegated permission it put in place). Eleven queries, however many grants,
    groups, policies and members.
    """
    # Rows of `as_of` are rebuilt instances: a related object would cost a query per row.
    permissions = {
        pk: (codename, name)
        for pk, codename, name in Permission.objects.filter(
            content_type__app_label="governance"
        ).values_list("pk", "codename", "name")
    }
    user_grants = list(ProgramUserObjectPermission.history.as_of(moment))
    group_grants = list(ProgramGroupObjectPermission.history.as_of(moment))
    steps = steps_in_force(moment)
    duties = duty_table()
    groups = {grant.group_id for grant in group_grants} | set(duties.role_groups)
    for step in steps:
        groups |= {step.group_id, step.escalate_to_id} - {None}  # type: ignore[arg-type]
    members: dict[int, list[Membership]] = defaultdict(list)
    for membership in members_as_of(groups, moment):
        members[membership.group_id].append(membership)
    active = [
        delegation
        for delegation in Delegation.history.as_of(moment)
        if (delegation.revoked_at is None or delegation.revoked_at > moment)
        and delegation.starts_at <= moment < delegation.ends_at
    ]
    # Only the people the report names: grantees, members, delegates and delegators.
    people = {grant.user_id for grant in user_grants}
    people |= {m.user_id for listed in members.values() for m in listed}
    people |= {d.delegate_id for d in active} | {d.delegator_id for d in active}
    report = _Report(
        moment=moment,
        programs=dict(Program.objects.values_list("pk", "name")),
        users=get_user_model().objects.in_bulk(people),
        group_names=dict(Group.objects.values_list("pk", "name")),
        members=members,
    )
    held_groups: dict[int, set[int]] = defaultdict(set)
    for group_id in duties.role_groups:
        for member in members.get(group_id, []):
            held_groups[member.user_id].add(group_id)
    report.barred = {
        user_id
        for user_id in people
        if duties.forbids(
            duties.kinds(
                superuser=bool(
                    (user := report.users.get(user_id)) is not None
                    and user.is_active
                    and user.is_superuser
                ),
                groups=held_groups.get(user_id, ()),
            ),
            Duty.DECIDE,
        )
    }
    lent = {(d.delegate_id, d.program_id) for d in active}
    delegated: set[tuple[int, int]] = set()
    for grant in user_grants:
        codename, label = permissions.get(grant.permission_id, ("", "?"))
        if codename == _DELEGATED_CODENAME:
            delegated.add((grant.user_id, grant.content_object_id))
            if (grant.user_id, grant.content_object_id) in lent:
                continue  # the delegation's own row says it
        if codename in _DECIDING and grant.user_id in report.barred:
            continue
        program = report.program(grant.content_object_id)
        report.add(program, report.person(grant.user_id), label, "direct grant")
    for grant in group_grants:
        codename, label = permissions.get(grant.permission_id, ("", "?"))
        program = report.program(grant.content_object_id)
        for member in members.get(grant.group_id, []):
            if codename in _DECIDING and member.user_id in report.barred:
                continue
            via = report.group(grant.group_id, member)
            report.add(program, report.person(member.user_id), label, via)
    for delegation in active:
        if {delegation.delegate_id, delegation.delegator_id} & report.barred:
            continue
        scope = ", ".join(
            part
            for part in (
                delegation.subject_kind or "any subject",
                delegation.scope_key or "any scope",
                f"step {delegation.step_order}" if delegation.step_order else "any step",
                f"up to {delegation.ceiling_minor} minor units {delegation.currency}",
            )
        )
        report.add(
            report.program(delegation.program_id),
            report.person(delegation.delegate_id),
            "Decide approval cases of the program under delegation",
            f"delegation #{delegation.id} from {report.person(delegation.delegator_id)} ({scope})",
        )
    report.group_steps(steps, active, delegated)
    return sorted(
        report.rows, key=lambda r: (r.program, r.person, r.permission, r.step, r.via, r.cases)
    )
