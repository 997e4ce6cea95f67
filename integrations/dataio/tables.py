"""Reading and writing the tables of a data migration: CSV (UTF-8) and XLSX.

A file becomes a `Table`: its header and its rows, each row a dict of column to text with the
line (CSV) or row (XLSX) number it came from, so every problem can name where it is. Anything
that is not a readable table of the expected size raises `FileProblem` with a message for the
person who uploaded it.

Exports neutralise formula injection: a cell whose text starts with `=`, `+`, `-`, `@`, a tab
or a carriage return is written with a leading apostrophe, so a spreadsheet shows it as text
and never runs it. The reader removes that apostrophe again, so an export reads back as it was.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from django.conf import settings

FORMATS = ("csv", "xlsx")
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
ESCAPE = "'"

ERR_EMPTY = "The file is empty."
ERR_TOO_BIG = "The file is {size} bytes; at most {limit} bytes can be imported at once."
ERR_TOO_MANY_ROWS = "The file has more than {limit} rows; split it into smaller files."
ERR_FORMAT = "Name the file .csv or .xlsx: {name} is neither."
ERR_ENCODING = "The CSV file is not UTF-8 text (byte {position}); save it as CSV UTF-8."
ERR_CSV = "The CSV file cannot be read: {reason}."
ERR_NOT_XLSX = "{name} is not an XLSX workbook (save it as Excel Workbook .xlsx, or as CSV)."
ERR_NO_HEADER = "The first row must name the columns."
ERR_DUPLICATE_COLUMN = "Column {column} appears twice in the first row."
ERR_MISSING_COLUMNS = "Columns missing from the first row: {columns}."
ERR_UNKNOWN_COLUMNS = "Unknown columns: {columns}. The columns of {kind} are: {known}."


class FileProblem(Exception):
    """The file as a whole cannot be imported; the message says why."""


def max_bytes() -> int:
    return int(getattr(settings, "HMS_DATAIO_MAX_BYTES", 10 * 1024 * 1024))


def max_rows() -> int:
    return int(getattr(settings, "HMS_DATAIO_MAX_ROWS", 50_000))


@dataclass
class Row:
    """One data row: its line number in the file and its cells by column name."""

    line: int
    cells: dict[str, str]


@dataclass
class Table:
    header: list[str]
    rows: list[Row] = field(default_factory=list)


def format_of(name: str) -> str:
    """`csv` or `xlsx`, from the file name."""
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if suffix not in FORMATS:
        raise FileProblem(ERR_FORMAT.format(name=name or "the file"))
    return suffix


def unescape(text: str) -> str:
    """Undo `escape`: an apostrophe before a formula character is the export's."""
    if text.startswith(ESCAPE) and text[1:2] and text[1] in "".join(FORMULA_PREFIXES):
        return text[1:]
    return text


def escape(text: str) -> str:
    """Make a cell safe to open in a spreadsheet (no formula can start it)."""
    if text.startswith(FORMULA_PREFIXES):
        return ESCAPE + text
    return text


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        exact = Decimal(repr(value))
        return str(int(exact)) if exact == exact.to_integral_value() else str(exact)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def read_table(*, name: str, data: bytes) -> Table:
    """Parse an uploaded file into a table, or raise `FileProblem`."""
    kind = format_of(name)
    if not data:
        raise FileProblem(ERR_EMPTY)
    if len(data) > max_bytes():
        raise FileProblem(ERR_TOO_BIG.format(size=len(data), limit=max_bytes()))
    records = _read_xlsx(name, data) if kind == "xlsx" else _read_csv(data)
    header: list[str] | None = None
    table = Table(header=[])
    for line, values in records:
        texts = [_cell_text(v).strip() for v in values]
        if header is None:
            if not any(texts):
                continue
            header = [t.lower() for t in texts]
            while header and not header[-1]:
                header.pop()
            if not header or "" in header:
                raise FileProblem(ERR_NO_HEADER)
            for column in header:
                if header.count(column) > 1:
                    raise FileProblem(ERR_DUPLICATE_COLUMN.format(column=column))
            table.header = header
            continue
        if not any(texts):
            continue
        if len(table.rows) >= max_rows():
            raise FileProblem(ERR_TOO_MANY_ROWS.format(limit=max_rows()))
        cells = {
            column: unescape(texts[i]) if i < len(texts) else "" for i, column in enumerate(header)
        }
        table.rows.append(Row(line=line, cells=cells))
    if header is None:
        raise FileProblem(ERR_EMPTY)
    return table


def _read_csv(data: bytes) -> Iterable[tuple[int, list[str]]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileProblem(ERR_ENCODING.format(position=exc.start + 1)) from exc
    if "\x00" in text:
        raise FileProblem(ERR_ENCODING.format(position=text.index("\x00") + 1))
    reader = csv.reader(io.StringIO(text, newline=""))
    rows: list[tuple[int, list[str]]] = []
    try:
        for values in reader:
            rows.append((reader.line_num, values))
            if len(rows) > max_rows() + 1:
                raise FileProblem(ERR_TOO_MANY_ROWS.format(limit=max_rows()))
    except csv.Error as exc:
        raise FileProblem(ERR_CSV.format(reason=exc)) from exc
    return rows


def _read_xlsx(name: str, data: bytes) -> Iterable[tuple[int, Sequence[object]]]:
    # openpyxl parses with defusedxml when it is installed (it is a dependency): no XML bombs.
    from openpyxl import load_workbook

    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise FileProblem(ERR_NOT_XLSX.format(name=name))
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
        if unpacked > 10 * max_bytes():
            raise FileProblem(ERR_TOO_BIG.format(size=unpacked, limit=10 * max_bytes()))
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except FileProblem:
        raise
    except Exception as exc:  # openpyxl raises many kinds on a file that is not a workbook
        raise FileProblem(ERR_NOT_XLSX.format(name=name)) from exc
    try:
        sheet = workbook.worksheets[0]
        rows: list[tuple[int, Sequence[object]]] = []
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            rows.append((number, values))
            if len(rows) > max_rows() + 1:
                raise FileProblem(ERR_TOO_MANY_ROWS.format(limit=max_rows()))
    except FileProblem:
        raise
    except Exception as exc:
        raise FileProblem(ERR_NOT_XLSX.format(name=name)) from exc
    finally:
        workbook.close()
    return rows


def check_columns(
    table: Table, *, kind: str, required: Sequence[str], optional: Sequence[str]
) -> None:
    """Refuse a table without a required column or with one the kind does not know."""
    missing = [c for c in required if c not in table.header]
    if missing:
        raise FileProblem(ERR_MISSING_COLUMNS.format(columns=", ".join(missing)))
    known = [*required, *optional]
    unknown = [c for c in table.header if c not in known]
    if unknown:
        raise FileProblem(
            ERR_UNKNOWN_COLUMNS.format(
                columns=", ".join(unknown), kind=kind, known=", ".join(known)
            )
        )


def write_table(*, header: Sequence[str], rows: Iterable[Sequence[str]], fmt: str) -> bytes:
    """The table as CSV (UTF-8 with a byte order mark, for spreadsheets) or XLSX bytes."""
    if fmt == "xlsx":
        from openpyxl import Workbook
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet()
        sheet.append(list(header))
        for values in rows:
            # A workbook cannot hold control characters other than tab and line breaks.
            sheet.append([ILLEGAL_CHARACTERS_RE.sub("", escape(v)) for v in values])
        buffer = io.BytesIO()
        workbook.save(buffer)
        return buffer.getvalue()
    text = io.StringIO(newline="")
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(header)
    for values in rows:
        writer.writerow([escape(v) for v in values])
    return ("\ufeff" + text.getvalue()).encode("utf-8")
