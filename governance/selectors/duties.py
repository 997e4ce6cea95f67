"""Separation of duties: may this person hold this duty (for this object)?

The rules are rows of `DutyConflict` (holder, duty). A person's holder kinds are
`administrator` when they are an active superuser and the name of every role group
(`core.roles`) they belong to. A duty on one object (`OBJECT_DUTIES`: approving a round of a
fund one is a finance officer of) concerns the holders of the role *on that object*, which
only the object's app knows: it registers, for its subject kind, which approval cases give a
user that role (`register_subject_duty`, from its `AppConfig.ready()`), so governance never
imports it.

Everything that grants or exercises a duty asks here: the decision check and the inbox
(`selectors.authority` bars the people in `DutyTable.barred` from deciding, and keeps
`subject_conflicts_q` out of their cases), the delegation and permission services
(`duty_conflict`), the authority report, and the subject apps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import Group
from django.db.models import OuterRef, Q, Subquery

from ..models import OBJECT_DUTIES, ApprovalCase, Duty, DutyConflict, Holder

# For a subject kind: (duty, holder, the cases whose subject gives a user id that holder kind).
_subject_duties: dict[str, list[tuple[str, str, Callable[[int], Q]]]] = {}


def register_subject_duty(
    *, subject_kind: str, duty: str, holder: str, cases: Callable[[int], Q]
) -> None:
    """Say which approval cases of `subject_kind` make a user `holder` of their subject for
    the object duty `duty`: `cases(user_id)` is a filter on `ApprovalCase` (registering the
    same triple again replaces it)."""
    if duty not in OBJECT_DUTIES:
        raise ValueError(f"{duty!r} is not a duty on one object.")
    listed = _subject_duties.setdefault(subject_kind, [])
    listed[:] = [entry for entry in listed if entry[:2] != (duty, holder)]
    listed.append((duty, holder, cases))


@dataclass
class DutyTable:
    """The rules, read in one query: (holder, duty) pairs, and the ids of the role groups
    that stand for a holder kind."""

    rules: set[tuple[str, str]] = field(default_factory=set)
    role_groups: dict[int, str] = field(default_factory=dict)

    def kinds(self, *, superuser: bool, groups: Iterable[int]) -> set[str]:
        """The holder kinds of an active person who is (or not) a superuser, in `groups`."""
        found = {self.role_groups[g] for g in groups if g in self.role_groups}
        if superuser:
            found.add(Holder.ADMINISTRATOR)
        return found

    def forbids(self, kinds: Iterable[str], duty: str) -> str | None:
        """The first holder kind among `kinds` that may not hold `duty`, or None."""
        return next((k for k in sorted(kinds) if (k, duty) in self.rules), None)

    def subject_conflicts_q(self, person_id: int) -> Q | None:
        """The cases whose subject makes `person_id` a holder who may not decide them (a fund's
        finance officer and that fund's round), or None when no rule applies."""
        found: Q | None = None
        for kind, entries in _subject_duties.items():
            for duty, holder, cases in entries:
                if (holder, duty) in self.rules:
                    q = Q(subject_kind=kind) & cases(person_id)
                    found = q if found is None else found | q
        return found


def duty_table() -> DutyTable:
    """Read the separation-of-duties rules (one query)."""
    group = Group.objects.filter(name=OuterRef("holder")).values("pk")[:1]
    table = DutyTable()
    for holder, duty, group_id in DutyConflict.objects.annotate(
        group_id=Subquery(group)
    ).values_list("holder", "duty", "group_id"):
        table.rules.add((holder, duty))
        if group_id is not None:
            table.role_groups[group_id] = holder
    return table


def duty_conflict(*, user: Any, duty: str, object_roles: Iterable[str] = ()) -> DutyConflict | None:
    """The rule that forbids `user` to hold `duty`, or None (two queries at most).

    For a duty on one object (`OBJECT_DUTIES`) the holder kinds are `object_roles` alone,
    the roles the caller's object gives the user (e.g. `finance_officer` for an officer of the
    round's fund); otherwise they are the user's own (administrator, role groups)."""
    if duty in OBJECT_DUTIES:
        kinds = set(object_roles)
    else:
        kinds = set(object_roles)
        if user.is_active and user.is_superuser:
            kinds.add(Holder.ADMINISTRATOR)
        kinds |= set(user.groups.values_list("name", flat=True))
    if not kinds:
        return None
    return DutyConflict.objects.filter(duty=duty, holder__in=kinds).order_by("holder").first()


def may_hold(*, user: Any, duty: str, object_roles: Iterable[str] = ()) -> bool:
    """Whether separation of duties lets `user` hold `duty` (see `duty_conflict`)."""
    return duty_conflict(user=user, duty=duty, object_roles=object_roles) is None


def decide_barred(people: Iterable[Any], table: DutyTable, groups: dict[int, set[int]]) -> set[int]:
    """Ids of the active people among `people` whom the table keeps from deciding;
    `groups`: each person's group ids."""
    return {
        p.pk
        for p in people
        if p.is_active
        and table.forbids(
            table.kinds(superuser=p.is_superuser, groups=groups.get(p.pk, ())), Duty.DECIDE
        )
    }


def subject_conflict(*, user: Any, case: Any) -> DutyConflict | None:
    """The rule that keeps `user` from deciding `case` because of what its subject makes them
    (a finance officer of the round's fund), or None. Two queries at most."""
    entries = _subject_duties.get(case.subject_kind, [])
    if not entries or user.pk is None:
        return None
    rules = {
        (row.holder, row.duty): row
        for row in DutyConflict.objects.filter(duty__in={duty for duty, _, _ in entries})
    }
    for duty, holder, cases in entries:
        rule = rules.get((holder, duty))
        if (
            rule is not None
            and ApprovalCase.objects.filter(pk=case.pk).filter(cases(user.pk)).exists()
        ):
            return rule
    return None
