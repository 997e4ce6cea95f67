"""The query every view of the figures takes (`--since`, `--until`, `--program` of the report
command, the same query parameters of `/api/v1/outcomes/`), parsed and checked in one place.
A refusal names the field and says what is wrong."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.utils import timezone

from governance import selectors as governance

from . import conf

ERR_DATE = "Give a date as YYYY-MM-DD."
ERR_ORDER = "The period must end on or after the day it starts."
ERR_PROGRAM = "No program has the code {code!r}."
ERR_NOT_YOURS = "You may not see the figures of the program {code!r}."
FIELDS = ("since", "until", "program")


class QueryError(ValueError):
    """Bad input: `errors` maps each field to its message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{name}: {message}" for name, message in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class Query:
    """A period (`since` included, `until` excluded, both at midnight on the bureau's
    calendar; `until` is the day after the last day asked, or now) and the programs."""

    since: datetime | None
    until: datetime
    program_ids: list[int] | None
    program_code: str | None


def _day(value: str | None) -> date | None:
    """The date `value` names in the form YYYY-MM-DD, else None."""
    text = (value or "").strip()
    if len(text) != 10:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=conf.zone())


def parse_query(
    *,
    since: str | None,
    until: str | None,
    program: str | None,
    visible_program_ids: list[int] | None = None,
    now: datetime | None = None,
) -> Query:
    """The checked query; `visible_program_ids` (None: all) limits what may be asked for."""
    errors: dict[str, str] = {}
    since_day = _day(since)
    if since not in (None, "") and since_day is None:
        errors["since"] = ERR_DATE
    until_day = _day(until)
    if until not in (None, "") and until_day is None:
        errors["until"] = ERR_DATE
    if since_day and until_day and until_day < since_day:
        errors["until"] = ERR_ORDER
    program_ids = visible_program_ids
    code = (program or "").strip() or None
    if code is not None:
        found = governance.program_by_code(code=code)
        if found is None:
            errors["program"] = ERR_PROGRAM.format(code=code)
        elif visible_program_ids is not None and found.pk not in visible_program_ids:
            errors["program"] = ERR_NOT_YOURS.format(code=code)
        else:
            program_ids = [found.pk]
    if errors:
        raise QueryError(errors)
    return Query(
        since=_midnight(since_day) if since_day else None,
        until=_midnight(until_day + timedelta(days=1)) if until_day else (now or timezone.now()),
        program_ids=program_ids,
        program_code=code,
    )
