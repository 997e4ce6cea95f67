"""Who reviews a request: the choice on arrival (round robin, least loaded, or manual), the
unassigned queue, affinity on return, reassignment by supervisors, absences and caps.

Every choice is made under one PostgreSQL advisory lock held to the end of the arriving
request's transaction: two requests arriving at once choose one after the other, and the
second sees the first's assignment in the loads, so nobody is pushed past their cap. The loads
(`ReviewerProfile.open_cases`, `open_effort`) move in the same transaction as every change of
assignee or status (`loads_move`, called by `save_with_history`), so a decision reads one row
per candidate instead of counting their requests.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.db.models import Count, Q, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.audit import record_history, system_user
from core.locks import advisory_xact_lock
from governance import emails as governance_emails
from governance import selectors as governance_selectors
from governance.models import DECIDE_PERMISSION, REVIEW_PERMISSION

from ..errors import RequestError
from ..models import (
    DEFAULT_CAP,
    REVIEW_STATUSES,
    Absence,
    AssignmentMethod,
    AssignmentRule,
    ConflictFlag,
    EventKind,
    ReviewerProfile,
    ServiceRequest,
)
from .common import event_record, locked, save_with_history

if TYPE_CHECKING:
    from collections.abc import Iterable

    from django.contrib.auth.models import User

# Held while a reviewer is chosen and their load raised; see the module docstring.
ASSIGNMENT_LOCK = "service_requests.assignment"

ERR_ENDS_BEFORE_START = _("The last day away cannot be before the first.")
ERR_ABSENCE_OVERLAPS = _("This overlaps an absence already entered ({start} to {end}).")
ERR_ABSENCE_NOT_ALLOWED = _("Only the staff member or their supervisor may enter their absences.")
ERR_CAP_BELOW_LOAD = _("They carry {count} open requests now: set a cap of at least {count}.")
ERR_CAP_NOT_ALLOWED = _("Only their supervisor may change a reviewer's terms.")
ERR_LANGUAGES = _("Enter language codes separated by commas, e.g. en,es.")
ERR_NO_PERMISSION = _("{name} does not review requests of {program}: choose someone who does.")
ERR_CONFLICT = _("{name} has a conflict of interest with this request's civilian.")
ERR_ABSENT = _("{name} is away today.")
ERR_NOT_SUPERVISOR = _("You may not reassign requests of {program}.")
ERR_NOT_REASSIGNABLE = _("{tracking_number} is now “{status}”: only open requests are reassigned.")
ERR_FLAG_SELF = _("Flag someone other than yourself.")
ERR_RULE_NOT_ALLOWED = _("Only a supervisor of {program} may set how its requests are assigned.")


@dataclass(frozen=True)
class Candidate:
    """A reviewer who may take the request, with their load."""

    user_id: int
    username: str
    cap: int
    open_cases: int
    open_effort: int
    languages: str

    def speaks(self, language: str) -> bool:
        return language in {code.strip() for code in self.languages.split(",")}


@dataclass(frozen=True)
class Choice:
    """The reviewer chosen (None: nobody eligible) and the rule that chose, in words."""

    user_id: int | None
    reason: str


def absent_ids(today: date) -> Q:
    """The condition "away on `today`" on the users' ids."""
    return Q(
        pk__in=Absence.objects.filter(
            cancelled=False, starts_on__lte=today, ends_on__gte=today
        ).values("user_id")
    )


def candidates(request: ServiceRequest, *, today: date | None = None) -> list[Candidate]:
    """The program's active staff reviewers who are not away today and have no conflict with
    the request's civilian (never the civilian themselves), with their caps and loads: one
    query. Caps and languages are applied by `choose`, so it can say who was at cap.

    One SQL statement, written once (`_CANDIDATES_SQL`): building the same query through the
    ORM costs more than running it. `candidates_reference` is the ORM twin; the tests hold
    them equal on both databases."""
    today = today or timezone.localdate()
    program_id = request.service_type.program_id
    app_label, codename = REVIEW_PERMISSION.split(".", 1)
    with connection.cursor() as cursor:
        cursor.execute(
            _candidates_sql(),
            [
                app_label,
                codename,
                DEFAULT_CAP,
                request.requester_id,
                program_id,
                program_id,
                request.requester_id,
                today,
                today,
            ],
        )
        return [Candidate(*row) for row in cursor.fetchall()]


@functools.cache
def _candidates_sql() -> str:
    from governance.models import ProgramGroupObjectPermission, ProgramUserObjectPermission

    user_model = get_user_model()
    tables = {
        "user": user_model._meta.db_table,
        "groups": user_model.groups.through._meta.db_table,
        "profile": ReviewerProfile._meta.db_table,
        "direct": ProgramUserObjectPermission._meta.db_table,
        "by_group": ProgramGroupObjectPermission._meta.db_table,
        "flag": ConflictFlag._meta.db_table,
        "absence": Absence._meta.db_table,
        "permission": Permission._meta.db_table,
        "content_type": ContentType._meta.db_table,
    }
    # The permission's id is read in the statement: ids change when a test database is
    # flushed, so no process keeps one.
    return """
        WITH perm AS (
            SELECT pm.id FROM {permission} pm
            JOIN {content_type} ct ON ct.id = pm.content_type_id
            WHERE ct.app_label = %s AND pm.codename = %s
        )
        SELECT u.id, u.username, COALESCE(p.cap, %s), COALESCE(p.open_cases, 0),
               COALESCE(p.open_effort, 0), COALESCE(p.languages, 'en')
        FROM {user} u LEFT JOIN {profile} p ON p.user_id = u.id
        WHERE u.is_active AND u.is_staff AND u.id <> %s
          AND (u.id IN (SELECT d.user_id FROM {direct} d
                        WHERE d.content_object_id = %s AND d.permission_id IN (SELECT id FROM perm))
               OR u.id IN (SELECT ug.user_id FROM {groups} ug
                           JOIN {by_group} g ON g.group_id = ug.group_id
                           WHERE g.content_object_id = %s
                             AND g.permission_id IN (SELECT id FROM perm)))
          AND u.id NOT IN (SELECT f.reviewer_id FROM {flag} f WHERE f.person_id = %s)
          AND u.id NOT IN (SELECT a.user_id FROM {absence} a
                           WHERE NOT a.cancelled AND a.starts_on <= %s AND a.ends_on >= %s)
        ORDER BY u.id
    """.format(**tables)  # noqa: S608  (table names from the models, values as parameters)


def candidates_reference(request: ServiceRequest, *, today: date | None = None) -> list[Candidate]:
    """`candidates` through the ORM: the slow, plain definition the fast one must equal."""
    today = today or timezone.localdate()
    program_id = request.service_type.program_id
    reviewers = governance_selectors.holders(program_id=program_id, permission=REVIEW_PERMISSION)
    flagged = ConflictFlag.objects.filter(person_id=request.requester_id).values("reviewer_id")
    rows = (
        get_user_model()
        .objects.filter(pk__in=reviewers.values("pk"), is_staff=True)
        .exclude(pk=request.requester_id)
        .exclude(pk__in=flagged)
        .exclude(absent_ids(today))
        .annotate(
            cap=Coalesce("reviewer_profile__cap", Value(DEFAULT_CAP)),
            cases=Coalesce("reviewer_profile__open_cases", Value(0)),
            effort=Coalesce("reviewer_profile__open_effort", Value(0)),
            langs=Coalesce("reviewer_profile__languages", Value("en")),
        )
        .values_list("pk", "username", "cap", "cases", "effort", "langs")
        .order_by("pk")
    )
    return [Candidate(*row) for row in rows]


def choose(
    request: ServiceRequest,
    rule: AssignmentRule,
    found: list[Candidate],
    *,
    affinity_id: int | None = None,
) -> Choice:
    """Apply the rule to the candidates (pure: no queries). Affinity first: a request coming
    back goes to whoever had it while they remain a candidate (their cap aside: it is theirs)."""
    speaking = found
    if rule.require_language:
        speaking = [c for c in found if c.speaks(request.language)]
    if affinity_id is not None:
        for c in speaking:
            if c.user_id == affinity_id:
                return Choice(c.user_id, f"affinity: back to {c.username}, who had it")
    under_cap = [c for c in speaking if c.open_cases < c.cap]
    if not under_cap:
        parts = [f"{len(found)} reviewer(s) available"]
        if rule.require_language:
            parts.append(f"{len(speaking)} speak {request.language}")
        parts.append(f"{len(speaking) - len(under_cap)} at their cap")
        return Choice(None, "nobody eligible: " + ", ".join(parts))
    if rule.method == AssignmentMethod.ROUND_ROBIN:
        last = rule.last_assignee_id or 0
        after = [c for c in under_cap if c.user_id > last]
        chosen = (after or under_cap)[0]
        return Choice(chosen.user_id, f"round robin: {chosen.username} is next in turn")
    ranked = sorted(under_cap, key=lambda c: (c.open_effort, c.open_cases, c.user_id))
    chosen, others = ranked[0], ranked[1:]
    versus = ", ".join(str(c.open_effort) for c in others[:5])
    if len(others) > 5:
        versus += f" and {len(others) - 5} more"
    return Choice(
        chosen.user_id,
        f"least loaded: {chosen.open_effort} open vs {versus}"
        if others
        else f"least loaded: {chosen.open_effort} open, the only one eligible",
    )


def save_assignment(request: ServiceRequest, *, actor: User, reason: str) -> None:
    """Save a change of assignee: its history row, the loads, an internal timeline step."""
    save_with_history(request, actor=actor, reason=reason)
    event_record(request, kind=EventKind.ASSIGNED, actor=actor, public=False, message=reason)


def _tell_supervisors(request: ServiceRequest, reason: str) -> None:
    """Email the program's supervisors, once the transaction commits, that a request waits
    in the unassigned queue."""
    program = request.service_type.program
    ids = governance_selectors.holders(program_id=program.pk, permission=DECIDE_PERMISSION)
    governance_emails.send_later(
        list(ids.values_list("pk", flat=True)),
        f"{request.tracking_number} waits for a reviewer",
        f"{request.tracking_number} ({request.service_type.name}, {program.name}) could not be "
        f"assigned: {reason}.\nIt is in the unassigned queue until someone takes it.",
    )


def assign_automatically(
    request: ServiceRequest,
    *,
    affinity_id: int | None = None,
    why: str = "assigned",
    today: date | None = None,
    automatic: bool | None = None,
) -> Choice | None:
    """Choose a reviewer for `request` (locked or just inserted by the caller, inside its
    transaction) by its service's rule. Manual services are left alone (None); `automatic`
    False says so without reading the rule (a new arrival, from the service's filing copy).
    Nobody eligible: the request stays unassigned, the timeline says why, the supervisors
    are told."""
    if automatic is False and affinity_id is None:
        return None
    rule = (
        AssignmentRule.objects.filter(service_type_id=request.service_type_id)
        .select_related("last_assignee")
        .first()
    )
    if rule is None or (rule.method == AssignmentMethod.MANUAL and affinity_id is None):
        return None
    # Serialise choices so each sees the loads the one before it raised (see module docstring).
    advisory_xact_lock(ASSIGNMENT_LOCK)
    choice = choose(request, rule, candidates(request, today=today), affinity_id=affinity_id)
    robot = system_user()
    if choice.user_id is None:
        if request.assignee_id is not None:
            request.assignee = None
            save_assignment(request, actor=robot, reason=f"{why}: handed back")
        event_record(
            request, kind=EventKind.UNASSIGNED, actor=robot, public=False, message=choice.reason
        )
        _tell_supervisors(request, choice.reason)
        return choice
    if choice.user_id == request.assignee_id:
        return choice
    request.assignee_id = choice.user_id
    save_assignment(request, actor=robot, reason=f"{why} by {choice.reason}")
    if rule.method == AssignmentMethod.ROUND_ROBIN and affinity_id is None:
        AssignmentRule.objects.filter(pk=rule.pk).update(last_assignee_id=choice.user_id)
    return choice


# -- reassignment by supervisors --------------------------------------------------------------


def may_supervise(actor: User, request: ServiceRequest) -> bool:
    return bool(
        actor.is_active
        and actor.is_staff
        and actor.has_perm(DECIDE_PERMISSION, request.service_type.program)
    )


def reassign_validate(
    request: ServiceRequest, assignee: User, *, today: date | None = None
) -> None:
    """The new reviewer may take it: the program's review permission, not away, no conflict.
    Raised as an `assignee` field error."""
    today = today or timezone.localdate()
    name = assignee.get_full_name() or assignee.get_username()
    program = request.service_type.program
    if not (
        assignee.is_active and assignee.is_staff and assignee.has_perm(REVIEW_PERMISSION, program)
    ):
        raise RequestError({"assignee": [ERR_NO_PERMISSION.format(name=name, program=program)]})
    if (
        assignee.pk == request.requester_id
        or ConflictFlag.objects.filter(reviewer=assignee, person_id=request.requester_id).exists()
    ):
        raise RequestError({"assignee": [ERR_CONFLICT.format(name=name)]})
    if get_user_model().objects.filter(absent_ids(today), pk=assignee.pk).exists():
        raise RequestError({"assignee": [ERR_ABSENT.format(name=name)]})


@transaction.atomic
def request_reassign(
    *, actor: User, request_id: int, assignee: User, reason: str = ""
) -> ServiceRequest:
    """A supervisor of the request's program hands it to another reviewer (or the same
    request back to the queue is `request_unassign`). Recorded in history and on the
    internal timeline with the supervisor's reason."""
    request = locked(request_id)
    if not may_supervise(actor, request):
        raise RequestError(ERR_NOT_SUPERVISOR.format(program=request.service_type.program))
    if request.status not in REVIEW_STATUSES:
        raise RequestError(
            ERR_NOT_REASSIGNABLE.format(
                tracking_number=request.tracking_number, status=request.get_status_display()
            ),
            code="stale",
        )
    reassign_validate(request, assignee)
    if request.assignee_id == assignee.pk:
        return request
    request.assignee = assignee
    text = f"reassigned to {assignee.get_username()} by {actor.get_username()}"
    save_assignment(request, actor=actor, reason=f"{text}: {reason}" if reason.strip() else text)
    return request


# -- absences -----------------------------------------------------------------------------------


def may_enter_absence(actor: User, user: User) -> bool:
    if not actor.is_active or not actor.is_staff:
        return False
    if actor.is_superuser or actor.pk == user.pk:
        return True
    return ReviewerProfile.objects.filter(user=user, supervisor=actor).exists()


def absence_validate(*, user: User, starts_on: date, ends_on: date) -> None:
    """Field errors: the end before the start, or an overlap with an absence entered."""
    if ends_on < starts_on:
        raise RequestError({"ends_on": [ERR_ENDS_BEFORE_START]})
    clash = (
        Absence.objects.filter(
            user=user, cancelled=False, starts_on__lte=ends_on, ends_on__gte=starts_on
        )
        .order_by("starts_on")
        .first()
    )
    if clash is not None:
        raise RequestError(
            {"starts_on": [ERR_ABSENCE_OVERLAPS.format(start=clash.starts_on, end=clash.ends_on)]}
        )


@transaction.atomic
def absence_add(
    *, actor: User, user: User, starts_on: date, ends_on: date, note: str = ""
) -> Absence:
    """Enter an absence for `user` (by them or their supervisor). When it covers today their
    open requests go back for reassignment at once; otherwise `absences_begin` does it on the
    first day."""
    if not may_enter_absence(actor, user):
        raise RequestError({"user": [ERR_ABSENCE_NOT_ALLOWED]})
    # Two entries for one person at once must not both pass the overlap check.
    advisory_xact_lock(f"service_requests.absence.{user.pk}")
    absence_validate(user=user, starts_on=starts_on, ends_on=ends_on)
    absence = Absence(
        user=user, starts_on=starts_on, ends_on=ends_on, note=note.strip(), entered_by=actor
    )
    absence.full_clean()
    record_history(absence, actor=actor, reason="absence entered")
    absence.save()
    if starts_on <= timezone.localdate() <= ends_on:
        hand_back(user, actor=actor, why=f"{user.get_username()} away {starts_on} to {ends_on}")
    return absence


def hand_back(user: User, *, actor: User, why: str, today: date | None = None) -> int:
    """Unassign the user's open requests and assign each anew by its rule (manual ones, and
    those nobody can take, wait in the unassigned queue). Returns how many were handed back."""
    ids = list(
        ServiceRequest.objects.filter(assignee=user, status__in=REVIEW_STATUSES)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for pk in ids:
        request = locked(pk)
        request.assignee = None
        save_assignment(request, actor=actor, reason=f"handed back: {why}")
        assign_automatically(request, why="reassigned", today=today)
    return len(ids)


@transaction.atomic
def absences_begin(*, actor: User, today: date | None = None) -> int:
    """Hand back the open requests of everyone whose absence starts today (a daily task)."""
    today = today or timezone.localdate()
    total = 0
    for absence in Absence.objects.filter(starts_on=today, cancelled=False).select_related("user"):
        total += hand_back(
            absence.user,
            actor=actor,
            why=f"{absence.user.get_username()} away {absence.starts_on} to {absence.ends_on}",
            today=today,
        )
    return total


# -- reviewers' terms and conflicts -------------------------------------------------------------


def profile_validate(*, profile: ReviewerProfile, cap: int, languages: str) -> None:
    """Field errors: a cap below the load they carry now; malformed language codes."""
    if cap < profile.open_cases:
        raise RequestError({"cap": [ERR_CAP_BELOW_LOAD.format(count=profile.open_cases)]})
    codes = [code.strip() for code in languages.split(",")]
    if not codes or not all(2 <= len(c) <= 8 and c.replace("-", "").isalpha() for c in codes):
        raise RequestError({"languages": [ERR_LANGUAGES]})


@transaction.atomic
def reviewer_profile_save(
    *,
    actor: User,
    user: User,
    cap: int,
    languages: str,
    supervisor: User | None,
) -> ReviewerProfile:
    """Set a reviewer's cap, languages and supervisor (by their supervisor or an
    administrator). A cap below their current load is refused: hand requests back first."""
    profile, _created = ReviewerProfile.objects.get_or_create(user=user)
    # Locked: an assignment raising their load waits, so the cap check sees the final count.
    profile = ReviewerProfile.objects.select_for_update().get(pk=profile.pk)
    if not (actor.is_superuser or (profile.supervisor_id and profile.supervisor_id == actor.pk)):
        raise RequestError({"cap": [ERR_CAP_NOT_ALLOWED]})
    profile_validate(profile=profile, cap=cap, languages=languages)
    profile.cap = cap
    profile.languages = ",".join(code.strip() for code in languages.split(","))
    profile.supervisor = supervisor
    profile.full_clean()
    record_history(profile, actor=actor, reason="terms changed")
    profile.save()
    return profile


@transaction.atomic
def conflict_flag(*, actor: User, person: User, reason: str) -> ConflictFlag:
    """A reviewer declares a conflict of interest with `person`: nothing they file will be
    assigned to the reviewer, and anything already assigned goes back for reassignment."""
    if person.pk == actor.pk:
        raise RequestError({"person": [ERR_FLAG_SELF]})
    flag = ConflictFlag.objects.filter(reviewer=actor, person=person).first()
    if flag is not None:
        return flag
    flag = ConflictFlag(reviewer=actor, person=person, reason=reason.strip())
    flag.full_clean()
    record_history(flag, actor=actor, reason="conflict declared")
    flag.save()
    for pk in ServiceRequest.objects.filter(
        assignee=actor, requester=person, status__in=REVIEW_STATUSES
    ).values_list("pk", flat=True):
        request = locked(pk)
        request.assignee = None
        save_assignment(request, actor=actor, reason="handed back: conflict of interest")
        assign_automatically(request, why="reassigned")
    return flag


@transaction.atomic
def loads_recount(*, user_ids: Iterable[int] | None = None) -> int:
    """Recompute the loads from the requests (after an effort changes, or to check them)."""
    requests = ServiceRequest.objects.filter(status__in=REVIEW_STATUSES, assignee__isnull=False)
    if user_ids is not None:
        requests = requests.filter(assignee_id__in=list(user_ids))
    totals = {
        row["assignee_id"]: row
        for row in requests.values("assignee_id").annotate(
            cases=Count("pk"),
            effort=Sum(Coalesce("service_type__assignment_rule__effort", Value(1))),
        )
    }
    profiles = ReviewerProfile.objects.select_for_update()
    if user_ids is not None:
        profiles = profiles.filter(user_id__in=list(user_ids))
    for user_id in set(totals) - set(profiles.values_list("user_id", flat=True)):
        ReviewerProfile.objects.create(user_id=user_id)
    changed = 0
    for profile in profiles.all():
        row = totals.get(profile.user_id, {"cases": 0, "effort": 0})
        if (profile.open_cases, profile.open_effort) != (row["cases"], row["effort"]):
            ReviewerProfile.objects.filter(pk=profile.pk).update(
                open_cases=row["cases"], open_effort=row["effort"]
            )
            changed += 1
    return changed


def assignment_rule_validate(*, actor: User, service_type: Any) -> None:
    """Only a supervisor of the service's program (or an administrator) sets its rule."""
    if not (actor.is_superuser or actor.has_perm(DECIDE_PERMISSION, service_type.program)):
        raise RequestError(
            {"service_type": [ERR_RULE_NOT_ALLOWED.format(program=service_type.program)]}
        )


@transaction.atomic
def assignment_rule_save(
    *,
    actor: User,
    service_type_id: int,
    method: str,
    effort: int,
    require_language: bool,
) -> AssignmentRule:
    """Set how requests for a service are assigned (a supervisor of its program or an
    administrator). A new effort re-weighs the loads of everyone carrying its requests."""
    from ..models import ServiceType

    service_type = ServiceType.objects.select_related("program").get(pk=service_type_id)
    assignment_rule_validate(actor=actor, service_type=service_type)
    # Locked, with the assignment lock: no choice reads this rule half-changed.
    advisory_xact_lock(ASSIGNMENT_LOCK)
    rule = AssignmentRule.objects.select_for_update().filter(service_type=service_type).first()
    rule = rule or AssignmentRule(service_type=service_type)
    effort_changed = rule.pk is not None and rule.effort != effort
    rule.method = method
    rule.effort = effort
    rule.require_language = require_language
    rule.full_clean()
    record_history(rule, actor=actor, reason="assignment rule set")
    rule.save()
    if effort_changed:
        carrying = ServiceRequest.objects.filter(
            service_type=service_type, status__in=REVIEW_STATUSES, assignee__isnull=False
        ).values_list("assignee_id", flat=True)
        loads_recount(user_ids=set(carrying))
    return rule
