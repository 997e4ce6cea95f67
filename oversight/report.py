"""The figures as readable text (the report command without `--json`)."""

from __future__ import annotations

from core.money import format_money

from .figures import Outcomes, Spread


def _number(value: float | None, unit: str = "", places: int = 1) -> str:
    return "no data" if value is None else f"{value:.{places}f}{unit}"


def _share(value: float | None) -> str:
    return "no data" if value is None else f"{value * 100:.1f}%"


def _spread(spread: Spread, unit: str) -> str:
    if spread.count == 0:
        return "no data"
    return f"median {_number(spread.p50, unit)}, 90th percentile {_number(spread.p90, unit)}"


def text_report(figures: Outcomes, *, scope: str) -> str:
    """The report as lines of plain text."""
    period = figures.period
    start = f"{period.since:%Y-%m-%d}" if period.since else "the first request"
    lines = [
        f"Outcomes: {scope}, from {start} until {period.until:%Y-%m-%d %H:%M %Z}",
        "",
        f"Received: {figures.received}",
        f"Closed: {figures.closed}",
        f"Open at the end: {figures.backlog_open} "
        + "("
        + ", ".join(f"{label} days: {n}" for label, n in figures.backlog_by_age.items())
        + ")",
        "",
        f"First response: {_spread(figures.first_response.working_hours, ' working h')}",
        f"Decision: {_spread(figures.decision.working_hours, ' working h')}",
        f"Resolution: {_spread(figures.resolution.calendar_days, ' days')}"
        f" ({_spread(figures.resolution.working_hours, ' working h')})",
        f"Resolved within target: {_share(figures.within_target_ratio)}"
        f" ({figures.within_target} of {figures.resolved})",
        "",
        f"Satisfaction: {figures.csat_responses} answers, mean {_number(figures.csat_mean)}"
        + (
            f" (95% interval {figures.csat_interval[0]:.2f} to {figures.csat_interval[1]:.2f})"
            if figures.csat_interval
            else ""
        )
        + f", response rate {_share(figures.csat_response_rate)}",
        "",
        "Funds (budget / obligated / spent / available):",
    ]
    lines += [
        f"  {f.code}: {format_money(f.budget_minor, f.currency)} / "
        f"{format_money(f.obligated_minor, f.currency)} / "
        f"{format_money(f.spent_minor, f.currency)} / "
        f"{format_money(f.available_minor, f.currency)}"
        for f in figures.funds
    ] or ["  no funds"]
    lines += ["", "Open requests by assignee:"]
    lines += [f"  {name}: {n}" for name, n in sorted(figures.open_by_reviewer.items())] or [
        "  none assigned"
    ]
    lines.append(
        f"  Jain's index {_number(figures.workload_jain, places=3)}, "
        f"Gini {_number(figures.workload_gini, places=3)}"
    )
    return "\n".join(lines) + "\n"
