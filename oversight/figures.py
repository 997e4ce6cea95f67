"""The bureau's figures: one definition each, here and nowhere else. The report command, the
API and the screens all call `outcomes()`.

A period runs from `since` (included; None: from the first request) to `until` (excluded).
- received: requests filed in the period.
- closed: requests whose timeline closed (fulfilled, rejected or withdrawn) in the period.
- backlog_open: requests filed before `until` and not closed by then; `backlog_by_age`
  counts them by calendar days from filing to `until` (`AGE_BANDS`).
- first response, decision, resolution: the service-level clocks (`oversight.clocks`) that
  reached their goal in the period; `*_hours` are working hours on the bureau's calendar with
  the pauses left out (the clock's time), `*_days` are calendar days from the clock's start to
  its end, pauses included (the time the civilian waited). p50 and p90 by linear
  interpolation (`oversight.stats.percentile`).
- within_target_ratio: of the requests resolved (fulfilled or rejected) in the period, the
  share whose resolution clock stayed within the target (the service's `target_days` in
  working days).
- csat: of the requests resolved in the period, the satisfaction answers given for them:
  how many, their mean score (1-5) with its 95% interval, and the share of those requests
  answered (response_rate).
- funds: each fund's budget chain from its ledger account (`allocations.selectors.
  fund_balances`), so these numbers and `verify_ledger` read the same totals.
- workload: open requests of the backlog by assignee (current assignee), with Jain's index and
  the Gini coefficient over the assignees holding any.
Every figure with nothing to count is None (null in JSON), never a division by zero.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from allocations import selectors as allocations
from allocations.selectors import FundBalance
from service_requests import selectors as requests

from . import stats
from .clocks import Clock, State, calendar_seconds
from .selectors import ServiceLevel, service_levels

CLOSING = ("fulfilled", "rejected", "withdrawn")
RESOLVED = ("fulfilled", "rejected")
# Backlog age bands: (label, lowest age in days, highest age in days or None).
AGE_BANDS: list[tuple[str, int, int | None]] = [
    ("0-7", 0, 7),
    ("8-30", 8, 30),
    ("31-90", 31, 90),
    ("over-90", 91, None),
]
DAY = 86_400.0
HOUR = 3_600.0


@dataclass(frozen=True)
class Period:
    since: datetime | None
    until: datetime

    def holds(self, moment: datetime | None) -> bool:
        if moment is None or moment >= self.until:
            return False
        return self.since is None or moment >= self.since


@dataclass(frozen=True)
class Spread:
    """p50 and p90 of one time figure, in its unit (None without data)."""

    p50: float | None
    p90: float | None
    count: int

    @classmethod
    def of(cls, values: list[float]) -> Spread:
        return cls(stats.percentile(values, 50), stats.percentile(values, 90), len(values))

    def as_json(self) -> dict[str, float | None]:
        return {"p50": _round(self.p50), "p90": _round(self.p90)}


@dataclass(frozen=True)
class TimeFigure:
    working_hours: Spread
    calendar_days: Spread


@dataclass(frozen=True)
class Outcomes:
    """Every figure of one period and scope."""

    period: Period
    received: int
    closed: int
    backlog_open: int
    backlog_by_age: dict[str, int]
    first_response: TimeFigure
    decision: TimeFigure
    resolution: TimeFigure
    within_target: int
    resolved: int
    csat_responses: int
    csat_mean: float | None
    csat_interval: tuple[float, float] | None
    funds: list[FundBalance]
    open_by_reviewer: dict[str, int] = field(default_factory=dict)

    @property
    def within_target_ratio(self) -> float | None:
        return stats.ratio(self.within_target, self.resolved)

    @property
    def csat_response_rate(self) -> float | None:
        return stats.ratio(self.csat_responses, self.resolved)

    @property
    def workload_jain(self) -> float | None:
        return stats.jain([float(n) for n in self.open_by_reviewer.values()])

    @property
    def workload_gini(self) -> float | None:
        return stats.gini([float(n) for n in self.open_by_reviewer.values()])

    def as_json(self) -> dict[str, Any]:
        """The interface of `outcomes_report --json` and `/api/v1/outcomes/`: exactly these
        keys; counts are integers, money minor units, null where there is no data."""
        return {
            "received": self.received,
            "closed": self.closed,
            "backlog_open": self.backlog_open,
            "first_response_hours": self.first_response.working_hours.as_json(),
            "decision_hours": self.decision.working_hours.as_json(),
            "resolution_days": self.resolution.calendar_days.as_json(),
            "within_target_ratio": _round(self.within_target_ratio),
            "csat": {
                "responses": self.csat_responses,
                "mean": _round(self.csat_mean),
                "response_rate": _round(self.csat_response_rate),
            },
            "funds": [
                {
                    "code": f.code,
                    "budget_minor": f.budget_minor,
                    "obligated_minor": f.obligated_minor,
                    "spent_minor": f.spent_minor,
                    "available_minor": f.available_minor,
                }
                for f in self.funds
            ],
            "workload": {
                "open_by_reviewer": dict(sorted(self.open_by_reviewer.items())),
                "jain": _round(self.workload_jain),
                "gini": _round(self.workload_gini),
            },
        }


def _round(value: float | None, places: int = 4) -> float | None:
    return None if value is None else round(value, places)


def _closed_at(timeline: list[tuple[str, datetime]]) -> datetime | None:
    return next((at for kind, at in timeline if kind in CLOSING), None)


def _time_figure(levels: list[ServiceLevel], clock: Clock, period: Period) -> TimeFigure:
    hours: list[float] = []
    days: list[float] = []
    for level in levels:
        status = level.clocks[clock]
        if status.state is State.DONE and period.holds(status.reading.ended_at):
            hours.append(status.elapsed_seconds / HOUR)
            days.append((calendar_seconds(status.reading) or 0.0) / DAY)
    return TimeFigure(Spread.of(hours), Spread.of(days))


def _age_band(age_days: int) -> str:
    for label, low, high in AGE_BANDS:
        if age_days >= low and (high is None or age_days <= high):
            return label
    return AGE_BANDS[0][0]  # filed "after" until by a clock skew: the youngest band


def outcomes(
    *,
    since: datetime | None,
    until: datetime,
    program_ids: list[int] | None = None,
    now: datetime | None = None,
) -> Outcomes:
    """Every figure for the period [`since`, `until`) over the programs `program_ids` (None:
    every program). Clocks still running are read at `now` (default: `until`)."""
    period = Period(since, until)
    now = now or until
    type_ids = (
        None if program_ids is None else requests.service_type_ids_of(program_ids=program_ids)
    )
    facts = requests.requests_in_period_facts(since=since, until=until, service_type_ids=type_ids)
    # What happened from `until` on is not known to the period: the clocks replay up to it.
    timelines = {
        pk: [(kind, at) for kind, at in events if at < until]
        for pk, events in requests.timelines_of(request_ids=[f.id for f in facts]).items()
    }
    levels = service_levels(facts, now=min(now, until), timelines=timelines)
    received = sum(1 for f in facts if period.holds(f.submitted_at))
    closed = 0
    backlog: list[ServiceLevel] = []
    for level in levels:
        closed_at = _closed_at(timelines[level.facts.id])
        if period.holds(closed_at):
            closed += 1
        if closed_at is None or closed_at >= until:
            backlog.append(level)
    ages = Counter(
        _age_band(int((until - level.facts.submitted_at).total_seconds() // DAY))
        for level in backlog
    )
    resolved = [
        level
        for level in levels
        if level.clocks[Clock.RESOLUTION].state is State.DONE
        and period.holds(level.clocks[Clock.RESOLUTION].reading.ended_at)
    ]
    within = sum(1 for level in resolved if level.clocks[Clock.RESOLUTION].met)
    scores = requests.satisfaction_scores_of(request_ids=[level.facts.id for level in resolved])
    answered = [float(scores[level.facts.id]) for level in resolved if level.facts.id in scores]
    workload = Counter(
        level.facts.assignee_username for level in backlog if level.facts.assignee_username
    )
    return Outcomes(
        period=period,
        received=received,
        closed=closed,
        backlog_open=len(backlog),
        backlog_by_age={label: ages.get(label, 0) for label, _low, _high in AGE_BANDS},
        first_response=_time_figure(levels, Clock.FIRST_RESPONSE, period),
        decision=_time_figure(levels, Clock.DECISION, period),
        resolution=_time_figure(levels, Clock.RESOLUTION, period),
        within_target=within,
        resolved=len(resolved),
        csat_responses=len(answered),
        csat_mean=stats.mean(answered),
        csat_interval=stats.mean_interval_95(answered),
        funds=allocations.fund_balances(program_ids=program_ids),
        open_by_reviewer={name: n for name, n in workload.items() if name},
    )
