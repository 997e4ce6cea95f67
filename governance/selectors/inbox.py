"""The supervisors' inbox (the cases a user may decide now, a page at a time), the case page's
reads, and delegations given and received.

The inbox runs a fixed number of queries whatever the number of cases: the user's delegations
and the authority of the user and their delegators are read in five small queries and turned
into one expression (`selectors.authority`), and the page of cases is one query plus its rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from django.db.models import Case as CaseWhen
from django.db.models import Count, F, IntegerField, Q, QuerySet, Value, When, Window
from django.utils import timezone
from guardian.core import ObjectPermissionChecker

from ..models import DECIDE_PERMISSION, ApprovalCase, CaseStatus, Delegation
from .authority import Deciding, decidable_cases, deciding

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User


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
    basis: Deciding
    programs: list[int]

    @property
    def delegations(self) -> list[Delegation]:
        """The user's delegations in force now, from active delegators, whose permission they
        hold."""
        granted = self.basis.authority.delegated.get(self.basis.user_id or 0, set())
        return [
            d for d in self.basis.delegations if d.program_id in granted and d.delegator.is_active
        ]

    def via(self, case: ApprovalCase) -> Delegation | None:
        """The delegation the user would decide `case` under (None: own authority), as the
        inbox's query found it (`page_of` carries it on each row)."""
        grant = self.basis.as_grant(getattr(case, "grant", None))
        return grant.delegation if grant is not None else None


def page_of(
    cases: QuerySet[ApprovalCase], offset: int, size: int, now: datetime
) -> tuple[list[ApprovalCase], int]:
    """The page of `cases` (ordered) at `offset` and the number of cases in all.

    Two queries: the ordered ids with the total as a window count (a narrow sort, no joins
    for display, the filter evaluated once), then those rows with what the page shows. Each
    row carries `overdue_rank` (0: an open case past its due time) and, for the inbox's cases,
    `grant` (how the user may decide it, see `Inbox.via`). Past the last page the total is
    counted apart (one more query).
    """
    carried = [name for name in CARRIED if name in cases.query.annotations]
    found = list(
        cases.annotate(total=Window(Count("pk"))).values_list("pk", "total", *carried)[
            offset : offset + size
        ]
    )
    ids = [row[0] for row in found]
    total = found[0][1] if found else (cases.count() if offset else 0)
    rows = (
        ApprovalCase.objects.filter(pk__in=ids)
        .select_related("program", "maker", "recommender", "current_step__step__group")
        .in_bulk()
    )
    page = [rows[pk] for pk in ids if pk in rows]
    for row in found:
        for name, value in zip(carried, row[2:], strict=True):
            if row[0] in rows:
                setattr(rows[row[0]], name, value)
    for case in page:
        late = case.status == CaseStatus.OPEN and case.due_at is not None and case.due_at <= now
        case.overdue_rank = 0 if late else 1  # type: ignore[attr-defined]
    return page, total


# Annotations of a queryset that `page_of` copies onto the rows of the page.
CARRIED = ("grant",)


def case_inbox(
    *,
    user: User | AnonymousUser,
    filters: InboxFilters | None = None,
    now: datetime | None = None,
) -> Inbox:
    """Open cases whose current step `user` may decide now (`selectors.authority`): in their
    own right, as members of the group an overdue step escalated to, or under a delegation in
    force. Cases they made, recommended or already decided on are left out. Overdue first by
    default."""
    filters = filters or InboxFilters()
    now = now or timezone.now()
    basis = deciding(user=user, now=now)
    cases = _filtered(decidable_cases(basis), filters)
    cases = cases.annotate(
        overdue_rank=CaseWhen(
            When(due_at__lte=now, then=Value(0)), default=Value(1), output_field=IntegerField()
        )
    )
    cases = cases.order_by(*SORTS.get(filters.sort, SORTS["due"]))
    inbox = Inbox(cases, basis, [])
    own = basis.authority.programs.get(basis.user_id or 0, set())
    inbox.programs = sorted(own | {d.program_id for d in inbox.delegations})
    return inbox


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


def case_for_viewer(
    *,
    user: User | AnonymousUser,
    case_id: int,
    checker: ObjectPermissionChecker | None = None,
) -> ApprovalCase | None:
    """The case if `user` may see it in the workflow screens (any status), else None: staff
    who may decide in its program (own authority, a delegation, or a group named by its
    policy's steps) and its maker. Outsiders are not shown it (a recommender without
    authority included); a decider who may not decide this one sees why.

    `checker`: the request's object-permission checker of `user` (`core.permissions`); the
    program's permissions are prefetched into it, so later checks on the page read none."""
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
    checker = checker or ObjectPermissionChecker(user)
    # A list, not a queryset: guardian would read the queryset's ids with a query of its own.
    checker.prefetch_perms([case.program])  # type: ignore[arg-type]
    if checker.has_perm(DECIDE_PERMISSION, case.program):
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
