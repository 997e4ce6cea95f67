"""Read-only queries for governance, always scoped to the user asking.

The inbox runs a fixed number of queries whatever the number of cases: the user's and their
delegators' authority (programs, groups) is read in four small queries, turned into one
`WHERE` clause, and the page of cases is one query plus its count.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
    Window,
)
from django.utils import formats, timezone
from guardian.shortcuts import get_objects_for_user

from .membership import Membership, members_as_of
from .models import (
    DECIDE_PERMISSION,
    DELEGATED_PERMISSION,
    REVIEW_PERMISSION,
    ApprovalCase,
    ApproverKind,
    CaseStatus,
    Decision,
    Delegation,
    PolicyStep,
    Program,
    ProgramGroupObjectPermission,
    ProgramUserObjectPermission,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

_DECIDE_CODENAME = DECIDE_PERMISSION.split(".")[1]


def programs_for(*, user: User | AnonymousUser, permission: str) -> QuerySet[Program]:
    """Programs on which `user` holds `permission` as an object permission (all for superusers)."""
    if not user.is_authenticated or not user.is_active:
        return Program.objects.none()
    if user.is_superuser:
        return Program.objects.all()
    return get_objects_for_user(
        user, permission, klass=Program, accept_global_perms=False, with_superuser=False
    )


def programs_reviewed_by(*, user: User | AnonymousUser) -> QuerySet[Program]:
    return programs_for(user=user, permission=REVIEW_PERMISSION)


def programs_decided_by(*, user: User | AnonymousUser) -> QuerySet[Program]:
    return programs_for(user=user, permission=DECIDE_PERMISSION)


@dataclass
class AuthorityMap:
    """Who holds what, read once: decide-permission programs and groups per person."""

    programs: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))
    groups: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))
    superusers: set[int] = field(default_factory=set)
    # Open cases each person already decided on (a short list: steps in progress).
    decided: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))


def _authority_map(people: list[User]) -> AuthorityMap:
    """Four queries: memberships, direct and group decide permissions, and the open cases
    these people already decided on."""
    result = AuthorityMap()
    ids = [p.pk for p in people]
    result.superusers = {p.pk for p in people if p.is_superuser}
    membership = get_user_model().groups.through.objects.filter(user_id__in=ids)
    for user_id, group_id in membership.values_list("user_id", "group_id"):
        result.groups[user_id].add(group_id)
    for user_id, program_id in ProgramUserObjectPermission.objects.filter(
        user_id__in=ids, permission__codename=_DECIDE_CODENAME
    ).values_list("user_id", "content_object_id"):
        result.programs[user_id].add(program_id)
    all_groups = set().union(*result.groups.values()) if result.groups else set()
    by_group: dict[int, set[int]] = defaultdict(set)
    if all_groups:
        for group_id, program_id in ProgramGroupObjectPermission.objects.filter(
            group_id__in=all_groups, permission__codename=_DECIDE_CODENAME
        ).values_list("group_id", "content_object_id"):
            by_group[group_id].add(program_id)
    for user_id, groups in result.groups.items():
        for group_id in groups:
            result.programs[user_id] |= by_group[group_id]
    decided = Decision.objects.filter(case__status=CaseStatus.OPEN).filter(
        Q(decided_by_id__in=ids) | Q(on_behalf_of_id__in=ids)
    )
    for case_id, by, behalf in decided.values_list("case_id", "decided_by_id", "on_behalf_of_id"):
        for person in (by, behalf):
            if person in ids:
                result.decided[person].add(case_id)
    return result


def _step_authority_q(person_id: int, authority: AuthorityMap) -> Q:
    """Cases whose open step `person_id` holds in their own right."""
    groups = authority.groups.get(person_id, set())
    if person_id in authority.superusers:
        return Q(current_step__isnull=False) | Q(current_step__isnull=True)
    programs = authority.programs.get(person_id, set())
    return (
        Q(current_step__step__approver_kind=ApproverKind.PROGRAM, program_id__in=programs)
        | Q(
            current_step__step__approver_kind=ApproverKind.GROUP,
            current_step__step__group_id__in=groups,
        )
        | Q(current_step__isnull=True, program_id__in=programs)
    )


def _decided_by(person_id: int, authority: AuthorityMap) -> Q:
    """Cases `person_id` already decided on, in person or through a delegate."""
    return Q(pk__in=sorted(authority.decided.get(person_id, set())))


def _delegation_q(delegation: Delegation, authority: AuthorityMap) -> Q:
    """Cases `delegation` lets its delegate decide now (scope, ceiling, the delegator's own
    authority on the open step, and the delegator's separation of duties)."""
    q = Q(program_id=delegation.program_id)
    if delegation.subject_kind:
        q &= Q(subject_kind=delegation.subject_kind)
    if delegation.scope_key:
        q &= Q(scope_key=delegation.scope_key)
    if delegation.step_order is not None:
        q &= Q(current_step__order=delegation.step_order)
    q &= Q(amount_minor__isnull=True) | (
        Q(amount_minor__lte=delegation.ceiling_minor)
        & (Q(currency=delegation.currency) | Q(currency=""))
    )
    delegator = delegation.delegator_id
    q &= _step_authority_q(delegator, authority)
    q &= ~Q(maker_id=delegator) & ~Q(recommender_id=delegator) & ~_decided_by(delegator, authority)
    return q


@dataclass
class InboxFilters:
    program: int | None = None
    step: int | None = None
    amount_min: int | None = None
    amount_max: int | None = None
    sort: str = "due"


SORTS = {
    "due": ("overdue_rank", F("due_at").asc(nulls_last=True), "opened_at", "pk"),
    "-due": (F("due_at").desc(nulls_last=True), "-opened_at", "-pk"),
    "amount": (F("amount_minor").asc(nulls_first=True), "opened_at", "pk"),
    "-amount": (F("amount_minor").desc(nulls_last=True), "opened_at", "pk"),
    "opened": ("opened_at", "pk"),
}


@dataclass
class Inbox:
    """The cases a user may decide now, and what the page needs to show them."""

    cases: QuerySet[ApprovalCase]
    delegations: list[Delegation]
    authority: AuthorityMap
    user_id: int
    programs: list[int]

    def via(self, case: ApprovalCase) -> Delegation | None:
        """The delegation the user would decide `case` under (None: own authority)."""
        if _own_in_python(self.user_id, case, self.authority):
            return None
        order = case.current_step.order if case.current_step else None
        for delegation in self.delegations:
            if delegation.covers(case, order) and delegation.within_ceiling(case):
                return delegation
        return None


def page_of(
    cases: QuerySet[ApprovalCase], offset: int, size: int, now: datetime
) -> tuple[list[ApprovalCase], int]:
    """The page of `cases` (ordered) at `offset` and the number of cases in all.

    Two queries: the ordered ids with the total as a window count (a narrow sort, no joins
    for display, the filter evaluated once), then those rows with what the page shows. Each
    row carries `overdue_rank` (0: an open case past its due time). Past the last page the
    total is counted apart (one more query).
    """
    found = list(
        cases.annotate(total=Window(Count("pk"))).values_list("pk", "total")[offset : offset + size]
    )
    ids = [pk for pk, _ in found]
    total = found[0][1] if found else (cases.count() if offset else 0)
    rows = (
        ApprovalCase.objects.filter(pk__in=ids)
        .select_related("program", "maker", "recommender", "current_step__step__group")
        .in_bulk()
    )
    page = [rows[pk] for pk in ids if pk in rows]
    for case in page:
        late = case.status == CaseStatus.OPEN and case.due_at is not None and case.due_at <= now
        case.overdue_rank = 0 if late else 1  # type: ignore[attr-defined]
    return page, total


def _own_in_python(user_id: int, case: ApprovalCase, authority: AuthorityMap) -> bool:
    if user_id in authority.superusers:
        return True
    step = case.current_step.step if case.current_step is not None else None
    if step is None or step.approver_kind == ApproverKind.PROGRAM:
        return case.program_id in authority.programs.get(user_id, set())
    groups = authority.groups.get(user_id, set())
    if step.group_id in groups:
        return True
    return case.current_step.escalated_at is not None and step.escalate_to_id in groups  # type: ignore[union-attr]


def case_inbox(
    *,
    user: User | AnonymousUser,
    filters: InboxFilters | None = None,
    now: datetime | None = None,
) -> Inbox:
    """Open cases whose current step `user` may decide now: in their own right, as members of
    the group an overdue step escalated to, or under an active, granted delegation. Cases they
    made, recommended or already decided on are left out. Overdue first by default."""
    filters = filters or InboxFilters()
    now = now or timezone.now()
    if not user.is_authenticated or not user.is_active:
        return Inbox(ApprovalCase.objects.none(), [], AuthorityMap(), 0, [])
    delegations = list(
        Delegation.objects.filter(
            delegate=user,
            permission_granted=True,
            revoked_at__isnull=True,
            starts_at__lte=now,
            ends_at__gt=now,
            delegator__is_active=True,
        ).select_related("delegator", "program")
    )
    people = [user, *{d.delegator_id: d.delegator for d in delegations}.values()]
    authority = _authority_map(people)  # type: ignore[arg-type]
    user_groups = authority.groups.get(user.pk, set())
    mine = _step_authority_q(user.pk, authority) | Q(
        current_step__escalated_at__isnull=False,
        current_step__step__escalate_to_id__in=user_groups,
    )
    for delegation in delegations:
        mine |= _delegation_q(delegation, authority)
    cases = (
        ApprovalCase.objects.filter(status=CaseStatus.OPEN)
        .filter(mine)
        .exclude(Q(maker_id=user.pk) | Q(recommender_id=user.pk))
        .exclude(_decided_by(user.pk, authority))
    )
    cases = _filtered(cases, filters)
    cases = cases.annotate(
        overdue_rank=Case(
            When(due_at__lte=now, then=Value(0)), default=Value(1), output_field=IntegerField()
        )
    )
    cases = cases.order_by(*SORTS.get(filters.sort, SORTS["due"]))
    programs = sorted(authority.programs.get(user.pk, set()) | {d.program_id for d in delegations})
    return Inbox(cases, delegations, authority, user.pk, programs)


def cases_in_scope(
    *, user: User | AnonymousUser, inbox: Inbox, filters: InboxFilters
) -> QuerySet[ApprovalCase]:
    """Every case, decided ones included, of the programs the user decides in (in their own
    right or under a delegation), less those they made or recommended: the inbox's "show
    decided cases too"."""
    cases = ApprovalCase.objects.filter(program_id__in=inbox.programs).exclude(
        Q(maker_id=user.pk) | Q(recommender_id=user.pk)
    )
    cases = _filtered(cases, filters)
    # `page_of` marks the overdue rows of the page.
    return cases.order_by("-opened_at", "-pk")


def _filtered(cases: QuerySet[ApprovalCase], filters: InboxFilters) -> QuerySet[ApprovalCase]:
    """The inbox's filters: program, current step, amount range."""
    if filters.program:
        cases = cases.filter(program_id=filters.program)
    if filters.step:
        cases = cases.filter(current_step__order=filters.step)
    if filters.amount_min is not None:
        cases = cases.filter(amount_minor__gte=filters.amount_min)
    if filters.amount_max is not None:
        cases = cases.filter(amount_minor__lte=filters.amount_max)
    return cases


def case_for_viewer(*, user: User | AnonymousUser, case_id: int) -> ApprovalCase | None:
    """The case if `user` may see it in the workflow screens (any status), else None: staff
    who may decide in its program (own authority, a delegation, or a group named by its
    policy's steps) and its maker. Outsiders are not shown it (a recommender without
    authority included); a decider who may not decide this one sees why."""
    if not user.is_authenticated or not user.is_active or not user.is_staff:
        return None
    case = (
        ApprovalCase.objects.filter(pk=case_id)
        .select_related("program", "maker", "recommender", "policy", "current_step__step")
        .first()
    )
    if case is None:
        return None
    if user.is_superuser or case.maker_id == user.pk:
        return case
    if user.has_perm(DECIDE_PERMISSION, case.program):
        return case
    if Delegation.objects.filter(delegate=user, program_id=case.program_id).exists():
        return case
    if case.policy_id is not None:
        groups = set(user.groups.values_list("pk", flat=True))
        named = set()
        for group_id, escalate_id in case.policy.steps.values_list("group_id", "escalate_to_id"):  # type: ignore[union-attr]
            named |= {group_id, escalate_id}
        if groups & named:
            return case
    return None


def case_timeline(case: ApprovalCase) -> QuerySet:  # type: ignore[type-arg]
    """Everything that happened to the case, oldest first."""
    return case.events.select_related(
        "actor",
        "decision__decided_by",
        "decision__on_behalf_of",
        "decision__delegation",
        "case_step__step",
    ).order_by("created_at", "pk")


def delegations_for(*, user: User) -> tuple[QuerySet[Delegation], QuerySet[Delegation]]:
    """The delegations `user` gave and received (all of them, for administrators: given)."""
    base = Delegation.objects.select_related("delegator", "delegate", "program", "revoked_by")
    given = base.all() if user.is_superuser else base.filter(delegator=user)
    received = base.filter(delegate=user)
    return given.order_by("-starts_at", "-pk"), received.order_by("-starts_at", "-pk")


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
        every step: the rules of `services.authority.resolve_authority`, as of the moment.

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
                    via = f"escalation to {self.group(step.escalate_to_id, member)}"
                    self.add(
                        program, self.person(member.user_id), STEP_ESCALATED, via, where, cases
                    )
            if step.approver_kind != ApproverKind.GROUP or step.group_id is None:
                continue
            for member in self.members.get(step.group_id, []):
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
    (`governance.membership`), of the policy versions in force and of the delegations.

    A group grant, and a policy step decided by a named group, lists the group's members at
    `moment`; a member known only from the snapshot taken when membership recording began
    (after `moment`) is listed and marked as such. Superusers may decide every step and are
    not listed. Ten queries, however many grants, groups, policies and members.
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
    groups = {grant.group_id for grant in group_grants}
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
    delegated: set[tuple[int, int]] = set()
    for grant in user_grants:
        codename, label = permissions.get(grant.permission_id, ("", "?"))
        if codename == _DELEGATED_CODENAME:
            delegated.add((grant.user_id, grant.content_object_id))
        program = report.program(grant.content_object_id)
        report.add(program, report.person(grant.user_id), label, "direct grant")
    for grant in group_grants:
        label = permissions.get(grant.permission_id, ("", "?"))[1]
        program = report.program(grant.content_object_id)
        for member in members.get(grant.group_id, []):
            via = report.group(grant.group_id, member)
            report.add(program, report.person(member.user_id), label, via)
    for delegation in active:
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
