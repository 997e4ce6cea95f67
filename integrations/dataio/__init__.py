"""Data migration: import and export of the bureau's data as CSV or XLSX tables.

`integrations.services.imports.data_import` checks every row of a file and reports each
problem by line, column and reason; only a file without problems is written, all of it in one
transaction, and a dry run does the whole write and rolls it back, so it also reports what the
write itself would refuse (an account limit, say). Rows are keyed by a natural key (service type
code, tracking number, account code, opening-balance key), so re-running an import writes
nothing twice. Every run is recorded as a `DataImport` with the acting user; every row written
goes through the owning app's services and names the acting user in history.

`data_export` writes the same kinds in the columns the import reads, so an export imports back
unchanged. See docs/data-migration.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied, ValidationError

from core.audit import SYSTEM_USERNAME

from ..models import DataImport
from .base import Kind
from .cases import RequestEvents, Requests
from .catalogue import ServiceTypes
from .finance import OpeningBalances, Participants
from .tables import FORMATS, FileProblem, format_of, write_table

if TYPE_CHECKING:
    from django.contrib.auth.models import User

__all__ = [
    "ERR_DENIED",
    "EXPORT_PERMISSION",
    "FORMATS",
    "IMPORT_PERMISSION",
    "KINDS",
    "FileProblem",
    "data_export",
    "kind_for",
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
    """A fresh handler of the kind of data `name`; refuses a name that is none."""
    kind = KINDS.get(name)
    if kind is None:
        raise ValidationError(ERR_KIND.format(value=name, choices=", ".join(KINDS)), code="kind")
    return kind()


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
