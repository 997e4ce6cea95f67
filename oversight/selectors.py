"""Reads of oversight: the bureau's calendar, each service's targets, and where each request
stands against them (due times, overdue), read from the requests through their selectors."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AnonymousUser, User

from governance import selectors as governance
from service_requests import selectors as requests
from service_requests.selectors import RequestFacts

from . import conf
from .calendar import BusinessCalendar
from .clocks import Clock, Reading, State, elapsed_seconds, read_clock, target_instant
from .models import Breach, Holiday, NotifyState, ServiceLevelTarget

VIEW_OUTCOMES = "oversight.view_outcomes"
VIEW_ALL_REQUESTS = "service_requests.view_all_requests"


def bureau_calendar() -> BusinessCalendar:
    """The calendar in force: working days and hours from settings, holidays from the table."""
    return BusinessCalendar(
        zone=conf.zone(),
        workdays=conf.workdays(),
        opens=conf.clock_time("OPENS"),
        closes=conf.clock_time("CLOSES"),
        holidays=frozenset(Holiday.objects.values_list("date", flat=True)),
    )


@dataclass(frozen=True)
class Targets:
    """A service type's targets in working seconds."""

    first_response: float
    decision: float
    resolution: float

    def of(self, clock: Clock) -> float:
        return float(getattr(self, clock.value))


def targets_for(calendar: BusinessCalendar, facts: Iterable[RequestFacts]) -> dict[int, Targets]:
    """Each service type's targets (by service type id), for the requests `facts`."""
    type_days = {f.service_type_id: f.target_days for f in facts}
    rows = {
        t.service_type_id: t
        for t in ServiceLevelTarget.objects.filter(service_type_id__in=list(type_days))
    }
    default_first = float(conf.get("FIRST_RESPONSE_HOURS")) * 3600
    default_decision = float(conf.get("DECISION_HOURS")) * 3600
    found: dict[int, Targets] = {}
    for type_id, days in type_days.items():
        row = rows.get(type_id)
        found[type_id] = Targets(
            first_response=row.first_response_hours * 3600 if row else default_first,
            decision=row.decision_hours * 3600 if row else default_decision,
            resolution=days * calendar.day_seconds,
        )
    return found


@dataclass(frozen=True)
class ClockStatus:
    """One clock of one request against its target."""

    clock: Clock
    state: State
    target_seconds: float
    elapsed_seconds: float
    due_at: datetime | None  # when the target falls (or fell) due; None once stopped
    reading: Reading

    @property
    def overdue(self) -> bool:
        """Past its target and not stopped (a paused clock past its target stays overdue)."""
        return not self.reading.is_stopped and self.elapsed_seconds > self.target_seconds

    @property
    def met(self) -> bool | None:
        """For a clock that reached its goal, whether it did so within the target."""
        if self.state is not State.DONE:
            return None
        return self.elapsed_seconds <= self.target_seconds


@dataclass(frozen=True)
class ServiceLevel:
    """A request's three clocks."""

    facts: RequestFacts
    clocks: dict[Clock, ClockStatus]

    @property
    def overdue(self) -> bool:
        return any(c.overdue for c in self.clocks.values())


def service_level_of(
    calendar: BusinessCalendar,
    facts: RequestFacts,
    timeline: list[tuple[str, datetime]],
    targets: Targets,
    now: datetime,
) -> ServiceLevel:
    """The request's clocks, replayed from its timeline (its submission starts the first
    response and resolution clocks even when the timeline lacks the "submitted" event)."""
    if not timeline or timeline[0][0] != "submitted":
        timeline = [("submitted", facts.submitted_at), *timeline]
    clocks = {}
    for clock in Clock:
        reading = read_clock(clock, timeline)
        target = targets.of(clock)
        clocks[clock] = ClockStatus(
            clock=clock,
            state=reading.state,
            target_seconds=target,
            elapsed_seconds=elapsed_seconds(calendar, reading, now),
            due_at=None if reading.is_stopped else target_instant(calendar, reading, target),
            reading=reading,
        )
    return ServiceLevel(facts=facts, clocks=clocks)


def service_levels(
    facts: list[RequestFacts],
    *,
    now: datetime,
    calendar: BusinessCalendar | None = None,
    timelines: dict[int, list[tuple[str, datetime]]] | None = None,
) -> list[ServiceLevel]:
    """The service levels of the requests `facts` (three queries whatever their number;
    two when their `timelines` are given)."""
    calendar = calendar or bureau_calendar()
    if timelines is None:
        timelines = requests.timelines_of(request_ids=[f.id for f in facts])
    targets = targets_for(calendar, facts)
    return [
        service_level_of(calendar, f, timelines[f.id], targets[f.service_type_id], now)
        for f in facts
    ]


def service_levels_by_id(*, request_ids: list[int], now: datetime) -> dict[int, ServiceLevel]:
    """Due times and the overdue flag of the given requests, by request id."""
    levels = service_levels(requests.requests_facts(request_ids=request_ids), now=now)
    return {level.facts.id: level for level in levels}


def overdue_request_ids(*, now: datetime, request_ids: list[int] | None = None) -> list[int]:
    """Ids of the open requests (of `request_ids` when given) past a target now."""
    facts = (
        requests.requests_open_facts()
        if request_ids is None
        else requests.requests_facts(request_ids=request_ids)
    )
    return [level.facts.id for level in service_levels(facts, now=now) if level.overdue]


def breaches_marked(*, request_ids: list[int]) -> set[tuple[int, str]]:
    """(request id, clock) of the breaches already marked for the requests."""
    return set(Breach.objects.filter(request_id__in=request_ids).values_list("request_id", "clock"))


def breaches_awaiting_email(*, before: datetime, limit: int) -> list[int]:
    """The breach outbox: breaches whose email is still to be sent, oldest first."""
    return list(
        Breach.objects.filter(notify=NotifyState.PENDING, detected_at__lt=before)
        .order_by("detected_at", "id")
        .values_list("pk", flat=True)[:limit]
    )


def breach_recipients(*, facts: RequestFacts) -> list[int]:
    """Who hears of a breach: the request's assignee and its program's supervisors."""
    ids = set(governance.program_decider_ids(program_id=facts.program_id))
    if facts.assignee_id is not None:
        ids.add(facts.assignee_id)
    return sorted(ids)


# -- who sees which figures ------------------------------------------------------------------


def may_view_outcomes(user: User | AnonymousUser) -> bool:
    """Supervisors, finance officers, auditors and administrators (the `view_outcomes`
    permission, given to their roles); never civilians or reviewers."""
    return bool(
        user.is_authenticated and user.is_active and user.is_staff and user.has_perm(VIEW_OUTCOMES)
    )


def program_ids_visible_to(user: User | AnonymousUser) -> list[int] | None:
    """The programs whose figures `user` may see: None for every program (administrators and
    those who see every program's requests), else the programs they decide or review in."""
    if user.is_superuser or user.has_perm(VIEW_ALL_REQUESTS):
        return None
    ids = set(governance.programs_decided_by(user=user).values_list("pk", flat=True))
    ids |= set(governance.programs_reviewed_by(user=user).values_list("pk", flat=True))
    return sorted(ids)
