"""Data migration: import and export of the bureau's data as CSV or XLSX tables.

`data_import` checks every row of a file and reports each problem by line, column and reason;
only a file without problems is written, all of it in one transaction, and a dry run does the
whole write and rolls it back, so it also reports what the write itself would refuse (an
account limit, say). Rows are keyed by a natural key (service type code, tracking number,
account code, opening-balance key), so re-running an import writes nothing twice. Every run is
recorded as a `DataImport` with the acting user; every row written goes through the owning
app's services where one exists and names the acting user in history.

`data_export` writes the same kinds in the columns the import reads, so an export imports back
unchanged. See docs/data-migration.md.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from core.audit import SYSTEM_USERNAME
from core.locks import advisory_xact_lock
from governance.membership import membership_actor

from ..models import DataImport, DataImportOutcome
from .base import ERR_DUPLICATE_KEY, Kind, Plan, Problem, RowCheck
from .cases import RequestEvents, Requests
from .catalogue import ServiceTypes
from .finance import OpeningBalances, Participants
from .tables import FORMATS, FileProblem, Table, check_columns, format_of, read_table, write_table

if TYPE_CHECKING:
    from django.contrib.auth.models import User

__all__ = [
    "EXPORT_PERMISSION",
    "FORMATS",
    "IMPORT_PERMISSION",
    "KINDS",
    "FileProblem",
    "data_export",
    "data_import",
    "may_export",
    "may_import",
    "report_lines",
]

IMPORT_PERMISSION = "integrations.import_data"
EXPORT_PERMISSION = "integrations.export_data"

# In the order a migration loads them: later kinds refer to rows of earlier ones.
KINDS: dict[str, type[Kind]] = {
    kind.name: kind
    for kind in (ServiceTypes, Requests, RequestEvents, Participants, OpeningBalances)
}

ERR_KIND = "{value} is not a kind of data: use one of {choices}."
ERR_DENIED = "Only finance officers and administrators may import or export data."
ERR_RACE = "Another change wrote the same {what} meanwhile; run the import again."


def may_import(user: User) -> bool:
    """Finance officers and superusers; the `system` user acts for the management command."""
    if user.username == SYSTEM_USERNAME and not user.is_active:
        return True
    return bool(user.is_active and user.has_perm(IMPORT_PERMISSION))


def may_export(user: User) -> bool:
    if user.username == SYSTEM_USERNAME and not user.is_active:
        return True
    return bool(user.is_active and user.has_perm(EXPORT_PERMISSION))


def kind_for(name: str) -> Kind:
    kind = KINDS.get(name)
    if kind is None:
        raise ValidationError(ERR_KIND.format(value=name, choices=", ".join(KINDS)), code="kind")
    return kind()


def data_import(
    *, actor: User, kind: str, file_name: str, data: bytes, dry_run: bool
) -> DataImport:
    """Import `data` (the bytes of `file_name`, .csv or .xlsx) as rows of `kind`.

    Finance officers and administrators only. Returns the run's record: `outcome` is
    `imported` (everything written), `checked` (a dry run without problems, nothing written)
    or `refused` (`message` for the file as a whole, else `problems`; nothing written).
    """
    if not may_import(actor):
        raise PermissionDenied(ERR_DENIED)
    handler = kind_for(kind)
    record = DataImport(
        kind=handler.name,
        file_name=file_name[:255],
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        dry_run=dry_run,
        actor=actor,
    )
    problems: list[Problem] = []
    plans: list[Plan] = []
    try:
        table = read_table(name=file_name, data=data)
        check_columns(
            table, kind=handler.name, required=handler.required, optional=handler.optional
        )
        record.rows = len(table.rows)
        # One transaction for the checks and the writes: under the advisory lock no other
        # import of this kind runs between them, so what the checks saw is what is written.
        with transaction.atomic():
            advisory_xact_lock(f"integrations.dataio.import:{handler.name}")
            plans, problems = _check(handler, table)
            if not problems:
                problems = _write(handler, plans, actor=actor, source=record.file_name)
            if problems or dry_run:
                transaction.set_rollback(True)
    except FileProblem as problem:
        record.message = str(problem)
    record.problems = [p.as_dict() for p in problems]
    record.counts = dict(Counter(plan.outcome for plan in plans)) if not problems else {}
    if record.message or problems:
        record.outcome = DataImportOutcome.REFUSED
    elif dry_run:
        record.outcome = DataImportOutcome.CHECKED
    else:
        record.outcome = DataImportOutcome.IMPORTED
    record.save()
    return record


def _check(handler: Kind, table: Table) -> tuple[list[Plan], list[Problem]]:
    """Every row's plan, or every problem of every row (and keys given twice), each row's
    problems from left to right as the file's columns stand."""
    handler.prepare(table.rows)
    position = {column: i for i, column in enumerate(table.header)}
    plans: list[Plan] = []
    problems: list[Problem] = []
    first_line: dict[str, int] = {}
    for row in table.rows:
        check = RowCheck(row=row)
        plan = handler.check(check)
        problems.extend(sorted(check.problems, key=lambda p: position.get(p.column, -1)))
        if plan is None:
            continue
        if plan.key in first_line:
            problems.append(
                Problem(
                    line=row.line,
                    column=handler.key_column,
                    reason=ERR_DUPLICATE_KEY.format(
                        key=plan.key, line=first_line[plan.key], what=handler.key_column
                    ),
                )
            )
            continue
        first_line[plan.key] = row.line
        plans.append(plan)
    return plans, problems


def _write(handler: Kind, plans: list[Plan], *, actor: User, source: str) -> list[Problem]:
    """Write every plan, each in a savepoint so that one refusal does not hide the next;
    the caller rolls everything back if any was refused."""
    problems: list[Problem] = []
    for plan in plans:
        try:
            with transaction.atomic(), membership_actor(actor):
                handler.write(plan, actor=actor, source=source)
        except ValidationError as error:
            column = handler.write_column or handler.key_column
            problems += [Problem(line=plan.line, column=column, reason=m) for m in error.messages]
        except IntegrityError:
            problems.append(
                Problem(
                    line=plan.line,
                    column=handler.key_column,
                    reason=ERR_RACE.format(what=handler.key_column),
                )
            )
    if not problems:
        handler.finish(plans, actor=actor)
    return problems


def data_export(*, actor: User, kind: str, fmt: str) -> bytes:
    """Every row of `kind` as a CSV or XLSX file the import reads back (finance officers and
    administrators only). Bank account numbers are masked; no cell can start a formula."""
    if not may_export(actor):
        raise PermissionDenied(ERR_DENIED)
    handler = kind_for(kind)
    if fmt not in FORMATS:
        fmt = format_of(f"export.{fmt}")
    return write_table(header=handler.columns, rows=handler.export(), fmt=fmt)


def report_lines(record: DataImport) -> list[str]:
    """The run's report as lines of text: the outcome, the counts, then each problem."""
    counts = ", ".join(f"{n} {outcome}" for outcome, n in sorted(record.counts.items()))
    head = f"{record.get_outcome_display()}: {record.kind} from {record.file_name}"
    lines = [f"{head}, {record.rows} rows" + (f" ({counts})" if counts else "") + "."]
    if record.message:
        lines.append(record.message)
    lines += [
        f"line {p['line']}, column {p['column'] or '-'}: {p['reason']}" for p in record.problems
    ]
    return lines
