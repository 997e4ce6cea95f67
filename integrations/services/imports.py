"""Running a data migration: every row of a file checked, then all of them written or none.

See `integrations.dataio` for the kinds of data and docs/data-migration.md for the files.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from core.locks import advisory_xact_lock
from governance.membership import membership_actor
from integrations.dataio import ERR_DENIED, kind_for, may_import
from integrations.dataio.base import ERR_DUPLICATE_KEY, Kind, Plan, Problem, RowCheck
from integrations.dataio.tables import FileProblem, Table, check_columns, read_table
from integrations.models import DataImport, DataImportOutcome

if TYPE_CHECKING:
    from django.contrib.auth.models import User

ERR_RACE = "Another change wrote the same {what} meanwhile; run the import again."


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
    # Written after the rows' transaction ended, so a refused run or a dry run, whose rows
    # rolled back, is recorded all the same.
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
