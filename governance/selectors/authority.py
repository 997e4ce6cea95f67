"""Who may decide a case's open step now, and under which grant: the one rule, as one
expression that the decision check and the inbox both evaluate.

A user decides a case's open step under the first of these grants that holds:

- `own`: the step's authority in their own right: the program's `decide_program` (a direct or
  group grant) for a program step or a case without steps, membership of the step's group for a
  group step;
- `escalation`: the step is overdue and escalated to a group they belong to;
- `delegation`: one of their delegations, taken newest first, that is unrevoked and inside its
  window at the moment asked about, while they hold `decide_program_delegated` on its program,
  and whose scope (program, subject kind, scope key, step), currency and ceiling cover the case;
  its delegator must hold the step in their own right (escalation is not lent) and be neither
  the case's maker nor its recommender nor anyone who already decided on it.

An inactive user holds nothing, and neither does a delegation from an inactive delegator.
Separation of duties as data (`selectors.duties`, the `DutyConflict` table): a person whose
holder kind may not `decide` (auditors and administrators, i.e. active superusers, as seeded)
holds no grant at all, not in their own right, not by escalation, not under a delegation, and
lends none as a delegator; a case whose subject makes the person a holder who may not decide
it (a fund's finance officer and that fund's round) is kept from them and from their
delegates, beside the maker and recommender rules.
Everything is read from the database when asked (permissions, group membership, the
delegations themselves), so a beat task that has not yet removed an expired delegate's
permission never extends their authority.

`decision_authority` answers it for one case; `decidable_cases` builds the inbox from the same
conditions (`grant_expression`: the inbox keeps the cases for which it is not NULL).
Separation of duties for the decider themselves (maker, recommender, decided already) and the
case's status are checked beside the grant, by both. When there is no grant,
`delegation_shortfalls` says which of the same conditions each of the user's delegations
fails, for the refusal to put in words.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.db.models import BooleanField, Case, IntegerField, Q, QuerySet, Value, When
from django.utils import timezone

from ..models import (
    DECIDE_PERMISSION,
    DELEGATED_PERMISSION,
    ApprovalCase,
    ApproverKind,
    CaseStatus,
    Decision,
    Delegation,
    PolicyStep,
    ProgramGroupObjectPermission,
    ProgramUserObjectPermission,
)
from .duties import DutyTable, decide_barred, duty_table

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

_DECIDE_CODENAME = DECIDE_PERMISSION.split(".")[1]
_DELEGATED_CODENAME = DELEGATED_PERMISSION.split(".")[1]

# What `grant_expression` yields for a case: OWN, ESCALATION, a delegation's id, or NULL.
OWN = 0
ESCALATION = -1


@dataclass(frozen=True)
class Grant:
    """How a decider holds the authority for a case's open step: `own`, `escalation` or
    `delegation` (then `delegation` names it)."""

    kind: str
    delegation: Delegation | None = None

    @property
    def principal(self) -> User | None:
        """The delegator a delegate decides for (None for own authority)."""
        return self.delegation.delegator if self.delegation is not None else None


@dataclass
class AuthorityMap:
    """Who holds what, read once for a few people: the programs they hold `decide_program` and
    `decide_program_delegated` on (directly or through a group), their groups, who among them
    is active, whom separation of duties keeps from deciding."""

    programs: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))
    delegated: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))
    groups: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))
    active: set[int] = field(default_factory=set)
    barred: set[int] = field(default_factory=set)
    duties: DutyTable = field(default_factory=DutyTable)
    # The cases (of those asked about) each person already decided on, in person or through a
    # delegate: a short list, read once.
    decided: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))


def authority_map(people: Iterable[Any], *, cases: Q) -> AuthorityMap:
    """Five queries at most: the separation-of-duties rules, memberships, direct and group
    program permissions, and the decisions these people made on the cases `cases` selects (a
    filter on `Decision`)."""
    people = list(people)
    result = AuthorityMap()
    ids = [p.pk for p in people]
    result.active = {p.pk for p in people if p.is_active}
    if not result.active:
        return result
    result.duties = duty_table()
    membership = get_user_model().groups.through.objects.filter(user_id__in=ids)
    for user_id, group_id in membership.values_list("user_id", "group_id"):
        result.groups[user_id].add(group_id)
    result.barred = decide_barred(people, result.duties, result.groups)
    held = {_DECIDE_CODENAME: result.programs, _DELEGATED_CODENAME: result.delegated}
    for user_id, program_id, codename in ProgramUserObjectPermission.objects.filter(
        user_id__in=ids,
        permission__codename__in=held,
        permission__content_type__app_label="governance",
    ).values_list("user_id", "content_object_id", "permission__codename"):
        held[codename][user_id].add(program_id)
    all_groups = set().union(*result.groups.values()) if result.groups else set()
    if all_groups:
        by_group: dict[tuple[str, int], set[int]] = defaultdict(set)
        for group_id, program_id, codename in ProgramGroupObjectPermission.objects.filter(
            group_id__in=all_groups,
            permission__codename__in=held,
            permission__content_type__app_label="governance",
        ).values_list("group_id", "content_object_id", "permission__codename"):
            by_group[(codename, group_id)].add(program_id)
        for user_id, groups in result.groups.items():
            for group_id in groups:
                for codename, programs in held.items():
                    programs[user_id] |= by_group[(codename, group_id)]
    decided = Decision.objects.filter(cases).filter(
        Q(decided_by_id__in=ids) | Q(on_behalf_of_id__in=ids)
    )
    for case_id, by, behalf in decided.values_list("case_id", "decided_by_id", "on_behalf_of_id"):
        for person in (by, behalf):
            if person in ids:
                result.decided[person].add(case_id)
    return result


def usable_delegations(*, user: Any, now: datetime) -> list[Delegation]:
    """The delegations `user` receives that are unrevoked and inside their window at `now`,
    newest first (the order in which a grant is looked for)."""
    return list(
        Delegation.objects.filter(
            delegate_id=user.pk, revoked_at__isnull=True, starts_at__lte=now, ends_at__gt=now
        )
        .select_related("delegator", "program")
        .order_by("-starts_at", "-pk")
    )


def _nothing() -> Q:
    return Q(pk__in=[])


def _step_authority_q(person_id: int, authority: AuthorityMap) -> Q:
    """Cases whose open step `person_id` holds in their own right."""
    if person_id not in authority.active or person_id in authority.barred:
        return _nothing()
    programs = authority.programs.get(person_id, set())
    groups = authority.groups.get(person_id, set())
    return (
        Q(current_step__step__approver_kind=ApproverKind.PROGRAM, program_id__in=programs)
        | Q(
            current_step__step__approver_kind=ApproverKind.GROUP,
            current_step__step__group_id__in=groups,
        )
        | Q(current_step__isnull=True, program_id__in=programs)
    )


def _escalation_q(person_id: int, authority: AuthorityMap) -> Q:
    """Cases whose open step is overdue and escalated to a group `person_id` belongs to."""
    if person_id not in authority.active or person_id in authority.barred:
        return _nothing()
    return Q(
        current_step__escalated_at__isnull=False,
        current_step__step__escalate_to_id__in=authority.groups.get(person_id, set()),
    )


def _all(conditions: list[tuple[str, Q]]) -> Q:
    """Cases that meet every one of `conditions`."""
    q = Q()
    for _, condition in conditions:
        q &= condition
    return q


def _separation_conditions(person_id: int, authority: AuthorityMap) -> list[tuple[str, Q]]:
    """Separation of duties for `person_id`, each rule named, in the order a refusal names the
    one broken: they did not make the case, nor recommend it, nor decide on it (in person or
    through a delegate), nor does its subject make them a holder the duty table keeps from
    deciding it (`subject`)."""
    decided = sorted(authority.decided.get(person_id, set()))
    conflicts = authority.duties.subject_conflicts_q(person_id)
    return [
        ("made", ~Q(maker_id=person_id)),
        ("recommended", ~Q(recommender_id=person_id)),
        ("decided", ~Q(pk__in=decided)),
        ("subject", Q() if conflicts is None else ~conflicts),
    ]


def separated_q(person_id: int, authority: AuthorityMap) -> Q:
    """Cases `person_id` may decide as far as separation of duties goes."""
    return _all(_separation_conditions(person_id, authority))


def _delegation_conditions(delegation: Delegation, authority: AuthorityMap) -> list[tuple[str, Q]]:
    """What a case needs for `delegation` (its window checked apart) to lend its delegate the
    open step, each condition named, in the order a refusal looks at them: the scope covers
    the case, the ceiling its amount, the delegate holds the delegated permission and may hold
    the duty to decide (`delegate_duty`), and the delegator holds the open step in their own
    right and passes separation of duties."""
    scope = Q(program_id=delegation.program_id)
    if delegation.subject_kind:
        scope &= Q(subject_kind=delegation.subject_kind)
    if delegation.scope_key:
        scope &= Q(scope_key=delegation.scope_key)
    if delegation.step_order is not None:
        scope &= Q(current_step__order=delegation.step_order)
    ceiling = Q(amount_minor__isnull=True) | (
        Q(amount_minor__lte=delegation.ceiling_minor)
        & (Q(currency=delegation.currency) | Q(currency=""))
    )
    granted = delegation.program_id in authority.delegated.get(delegation.delegate_id, set())
    delegator = delegation.delegator_id
    return [
        ("scope", scope),
        ("ceiling", ceiling),
        ("permission", Q() if granted else _nothing()),
        ("delegate_duty", _nothing() if delegation.delegate_id in authority.barred else Q()),
        ("delegator_authority", _step_authority_q(delegator, authority)),
        *[(f"delegator_{name}", q) for name, q in _separation_conditions(delegator, authority)],
    ]


def _delegation_q(delegation: Delegation, authority: AuthorityMap) -> Q:
    """Cases `delegation` lets its delegate decide (its window was checked when it was read)."""
    return _all(_delegation_conditions(delegation, authority))


def _grant_conditions(
    user_id: int, delegations: list[Delegation], authority: AuthorityMap
) -> list[tuple[Q, int]]:
    """Each grant `user_id` may hold, in the order they are looked for, with the condition on
    a case under which they hold it."""
    conditions = [
        (_step_authority_q(user_id, authority), OWN),
        (_escalation_q(user_id, authority), ESCALATION),
    ]
    if user_id in authority.active and user_id not in authority.barred:
        conditions += [(_delegation_q(d, authority), d.pk) for d in delegations]
    return conditions


def grant_expression(user_id: int, delegations: list[Delegation], authority: AuthorityMap) -> Case:
    """For each case: OWN, ESCALATION, the id of the delegation it would be decided under, or
    NULL when `user_id` may not decide its open step (see the module's docstring).
    `delegations`: `usable_delegations` of the user; `authority`: the map of the user and of
    their delegators."""
    whens = [
        When(condition, then=Value(code))
        for condition, code in _grant_conditions(user_id, delegations, authority)
    ]
    return Case(*whens, default=None, output_field=IntegerField())


@dataclass
class Deciding:
    """What the grant of one user is computed from, read once: their usable delegations and
    the authority of the user and their delegators."""

    user_id: int | None
    delegations: list[Delegation]
    authority: AuthorityMap

    @property
    def grant(self) -> Case:
        return grant_expression(self.user_id or 0, self.delegations, self.authority)

    def as_grant(self, code: int | None) -> Grant | None:
        """The `Grant` a value of the grant expression stands for."""
        if code is None:
            return None
        if code == OWN:
            return Grant("own")
        if code == ESCALATION:
            return Grant("escalation")
        by_id = {d.pk: d for d in self.delegations}
        return Grant("delegation", by_id[code])


def deciding(*, user: Any, now: datetime, case: ApprovalCase | None = None) -> Deciding:
    """Read what `user`'s grants depend on at `now`, for `case` or for every open case (five
    queries at most)."""
    if not user.is_authenticated or not user.is_active:
        return Deciding(None, [], AuthorityMap())
    delegations = usable_delegations(user=user, now=now)
    people = [user, *{d.delegator_id: d.delegator for d in delegations}.values()]
    cases = Q(case_id=case.pk) if case is not None else Q(case__status=CaseStatus.OPEN)
    return Deciding(user.pk, delegations, authority_map(people, cases=cases))


def decision_authority(
    *, user: User | AnonymousUser, case: ApprovalCase, now: datetime | None = None
) -> Grant | None:
    """The grant under which `user` may decide the open step of `case` at `now` (default:
    now), or None. Separation of duties for `user` and the case's status are not part of it
    (the decision check names those refusals apart)."""
    basis = deciding(user=user, now=now or timezone.now(), case=case)
    if basis.user_id is None:
        return None
    code = (
        ApprovalCase.objects.filter(pk=case.pk)
        .annotate(grant=basis.grant)
        .values_list("grant", flat=True)
        .first()
    )
    return basis.as_grant(code)


def decidable_cases(basis: Deciding) -> QuerySet[ApprovalCase]:
    """Open cases the user of `basis` may decide now, each annotated with `grant` (the value
    of the grant expression): the grant, separation of duties, status open. `basis` is read
    by `deciding()` for every open case (no `case`)."""
    if basis.user_id is None:
        return ApprovalCase.objects.none().annotate(grant=Value(None, IntegerField()))
    return (
        ApprovalCase.objects.filter(status=CaseStatus.OPEN)
        .filter(separated_q(basis.user_id, basis.authority))
        .annotate(grant=basis.grant)
        .filter(grant__isnull=False)
    )


def _window_lack(delegation: Delegation, now: datetime) -> str | None:
    """What keeps `delegation` from being in force at `now` (`usable_delegations` reads only
    those that are)."""
    if delegation.revoked_at is not None:
        return "revoked"
    if now < delegation.starts_at:
        return "not_started"
    if now >= delegation.ends_at:
        return "ended"
    return None


def _holds(condition: Q) -> Any:
    """Whether a case meets `condition`, as a column."""
    if not condition:  # an empty Q: every case
        return Value(True)
    return Case(
        When(condition, then=Value(True)), default=Value(False), output_field=BooleanField()
    )


def delegation_shortfalls(
    *, user: Any, case: ApprovalCase, now: datetime
) -> list[tuple[Delegation, str | None]]:
    """Each delegation `user` received on the case's program, newest first, with the first
    thing it lacks to lend them the case's open step at `now`, or None: "scope", then its
    window ("revoked", "not_started", "ended"), then the other conditions of the rule
    (`_delegation_conditions`: "ceiling", "permission", "delegate_duty",
    "delegator_authority", "delegator_made", "delegator_recommended", "delegator_decided",
    "delegator_subject").

    What the refusal that explains a missing grant reads, from the rule's own conditions (the
    grant itself is `decision_authority`). Six queries at most.
    """
    if not user.is_authenticated or not user.is_active:
        return []
    delegations = list(
        Delegation.objects.filter(delegate_id=user.pk, program_id=case.program_id)
        .select_related("delegator")
        .order_by("-starts_at", "-pk")
    )
    if not delegations:
        return []
    people = [user, *{d.delegator_id: d.delegator for d in delegations}.values()]
    authority = authority_map(people, cases=Q(case_id=case.pk))
    conditions = [_delegation_conditions(d, authority) for d in delegations]
    columns: dict[str, Any] = {
        f"d{i}_{name}": _holds(condition)
        for i, named in enumerate(conditions)
        for name, condition in named
    }
    names = list(columns)
    row = ApprovalCase.objects.filter(pk=case.pk).annotate(**columns).values_list(*names).get()
    held = dict(zip(names, row, strict=True))
    found = []
    for i, (delegation, named) in enumerate(zip(delegations, conditions, strict=True)):
        checks = [(name, bool(held[f"d{i}_{name}"])) for name, _ in named]
        window = _window_lack(delegation, now)
        checks.insert(1, (window or "window", window is None))
        found.append((delegation, next((name for name, ok in checks if not ok), None)))
    return found


def own_deciders(case: ApprovalCase, step: PolicyStep | None) -> list[int]:
    """Ids of the active users who hold `step`'s authority in their own right, less the
    maker, the recommender, anyone who already decided on the case, and those separation of
    duties keeps from deciding."""
    user_model = get_user_model()
    if step is None or step.approver_kind == ApproverKind.PROGRAM:
        direct = ProgramUserObjectPermission.objects.filter(
            content_object_id=case.program_id,
            permission__codename=_DECIDE_CODENAME,
            permission__content_type__app_label="governance",
        ).values("user_id")
        groups = ProgramGroupObjectPermission.objects.filter(
            content_object_id=case.program_id,
            permission__codename=_DECIDE_CODENAME,
            permission__content_type__app_label="governance",
        ).values("group_id")
        users = user_model.objects.filter(Q(pk__in=direct) | Q(groups__in=groups))
    else:
        users = user_model.objects.filter(groups=step.group_id)
    decided = Decision.objects.filter(case=case).values_list("decided_by_id", "on_behalf_of_id")
    excluded = {case.maker_id, case.recommender_id}
    for by, behalf in decided:
        excluded |= {by, behalf}
    candidates = list(users.filter(is_active=True).distinct())
    memberships: dict[int, set[int]] = defaultdict(set)
    for user_id, group_id in user_model.groups.through.objects.filter(
        user_id__in=[u.pk for u in candidates]
    ).values_list("user_id", "group_id"):
        memberships[user_id].add(group_id)
    excluded |= decide_barred(candidates, duty_table(), memberships)
    return sorted({u.pk for u in candidates} - excluded)


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
