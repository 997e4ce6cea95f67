"""What every kind of data migration shares: problems, outcomes and the cell parsers.

A kind (`service_types`, `requests`, …) checks each row on its own (`check`) and returns
either problems or a plan; the runner writes the plans only when no row has a problem. Checks
read the database but never write; writes go through the owning app's services where one
exists.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from .tables import Row

CREATED = "created"
UPDATED = "updated"
UNCHANGED = "unchanged"

ERR_REQUIRED = "A value is required."
ERR_INTEGER = "{value} is not a whole number."
ERR_POSITIVE = "{value} must be above zero."
ERR_BOOLEAN = "{value} is not true or false (use true/false, yes/no or 1/0)."
ERR_DATETIME = "{value} is not a date and time (use ISO 8601, e.g. 2024-05-01T09:30:00-04:00)."
ERR_DATE = "{value} is not a date (use YYYY-MM-DD)."
ERR_CHOICE = "{value} is not one of: {choices}."
ERR_TOO_LONG = "At most {limit} characters."
ERR_CURRENCY = "{value} is not a three-letter ISO currency code."
ERR_DUPLICATE_KEY = "{key} was already given on line {line}: each {what} may appear once."
ERR_FUTURE = "{value} is in the future."

_TRUE = {"true", "yes", "y", "1"}
_FALSE = {"false", "no", "n", "0", ""}


@dataclass(frozen=True)
class Problem:
    """Why one row (or one cell of it) cannot be imported."""

    line: int
    column: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "column": self.column, "reason": self.reason}


class CellError(Exception):
    """A cell's value is refused; `column` names the cell."""

    def __init__(self, column: str, reason: str) -> None:
        super().__init__(reason)
        self.column = column
        self.reason = reason


@dataclass
class RowCheck:
    """Collects a row's problems while its cells are parsed one by one."""

    row: Row
    problems: list[Problem] = field(default_factory=list)

    def add(self, column: str, reason: str) -> None:
        """Record a problem; a cell already refused keeps its first reason."""
        if column and any(p.column == column for p in self.problems):
            return
        self.problems.append(Problem(line=self.row.line, column=column, reason=reason))

    def raw(self, column: str) -> str:
        return self.row.cells.get(column, "").strip()

    def text(self, column: str, *, required: bool = False, limit: int | None = None) -> str:
        value = self.raw(column)
        if required and not value:
            self.add(column, ERR_REQUIRED)
        elif limit is not None and len(value) > limit:
            self.add(column, ERR_TOO_LONG.format(limit=limit))
        return value

    def integer(self, column: str, *, required: bool = False, positive: bool = False) -> int | None:
        value = self.raw(column)
        if not value:
            if required:
                self.add(column, ERR_REQUIRED)
            return None
        if not re.fullmatch(r"-?[0-9]{1,18}", value):
            self.add(column, ERR_INTEGER.format(value=value))
            return None
        number = int(value)
        if positive and number <= 0:
            self.add(column, ERR_POSITIVE.format(value=value))
            return None
        return number

    def boolean(self, column: str, *, default: bool) -> bool:
        value = self.raw(column).lower()
        if not value:
            return default
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        self.add(column, ERR_BOOLEAN.format(value=value))
        return default

    def choice(self, column: str, choices: Sequence[str], *, default: str = "") -> str:
        value = self.raw(column).lower() or default
        if value not in choices:
            self.add(
                column,
                ERR_REQUIRED
                if not value
                else ERR_CHOICE.format(value=value, choices=", ".join(choices)),
            )
            return ""
        return value

    def currency(self, column: str, *, default: str = "") -> str:
        value = self.raw(column).upper() or default
        if not re.fullmatch(r"[A-Z]{3}", value):
            self.add(column, ERR_CURRENCY.format(value=value) if value else ERR_REQUIRED)
            return ""
        return value

    def moment(self, column: str, *, required: bool = False) -> datetime | None:
        value = self.raw(column)
        if not value:
            if required:
                self.add(column, ERR_REQUIRED)
            return None
        try:
            parsed = parse_datetime(value)
            if parsed is None:
                day = parse_date(value)
                parsed = datetime(day.year, day.month, day.day) if day else None
        except ValueError:
            parsed = None
        if parsed is None:
            self.add(column, ERR_DATETIME.format(value=value))
            return None
        if timezone.is_naive(parsed):
            parsed = timezone.make_aware(parsed)
        if parsed > timezone.now():
            self.add(column, ERR_FUTURE.format(value=value))
            return None
        return parsed

    def day(self, column: str) -> date | None:
        value = self.raw(column)
        if not value:
            return None
        try:
            parsed = parse_date(value[:10])
        except ValueError:
            parsed = None
        if parsed is None:
            self.add(column, ERR_DATE.format(value=value))
        return parsed

    def validation_error(self, error: ValidationError, *, columns: dict[str, str]) -> None:
        """Report a model's or service's `ValidationError`, field errors on their columns."""
        if hasattr(error, "error_dict"):
            for name, errors in error.message_dict.items():
                for message in errors:
                    self.add(columns.get(name, name), message)
        else:
            for message in error.messages:
                self.add(columns.get("__all__", ""), message)


@dataclass
class Plan:
    """What one checked row will do when written: `outcome` if nothing else goes wrong."""

    line: int
    key: str
    outcome: str
    values: dict[str, Any]


class Kind:
    """One kind of data: its columns, how a row is checked, written and exported."""

    name: ClassVar[str]
    label: ClassVar[str]
    key_column: ClassVar[str]
    # The column a refusal while writing is reported on (the ledger's, say).
    write_column: ClassVar[str] = ""
    required: ClassVar[tuple[str, ...]]
    optional: ClassVar[tuple[str, ...]] = ()

    @property
    def columns(self) -> tuple[str, ...]:
        return (*self.required, *self.optional)

    def prepare(self, rows: Sequence[Row]) -> None:
        """Load what the checks look up, in a fixed number of queries for the whole file."""

    def check(self, check: RowCheck) -> Plan | None:
        """The row's plan, or None after adding its problems to `check`."""
        raise NotImplementedError

    def write(self, plan: Plan, *, actor: User, source: str) -> None:
        """Carry out one plan (inside the import's transaction)."""
        raise NotImplementedError

    def finish(self, plans: Sequence[Plan], *, actor: User) -> None:
        """Work after every row was written (inside the same transaction)."""

    def export(self) -> list[list[str]]:
        """Every row of this kind, in the columns' order, as text the import reads back."""
        raise NotImplementedError


def iso(value: datetime | None) -> str:
    return value.isoformat() if value else ""


def flag(value: bool) -> str:
    return "true" if value else "false"
