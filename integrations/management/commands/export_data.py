"""`manage.py export_data <kind> <file> [--user NAME]`: write a kind of data as CSV or XLSX.

The format follows the file name (.csv or .xlsx); the columns are the ones `import_data`
reads. Bank account numbers are masked, and no cell can start a spreadsheet formula.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError, CommandParser

from integrations import dataio
from integrations.dataio.tables import format_of

from .import_data import acting_user


class Command(BaseCommand):
    help = "Export service types, requests, timelines, participants or opening balances."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=list(dataio.KINDS))
        parser.add_argument("file")
        parser.add_argument("--user", help="Username or email of the person exporting.")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        try:
            fmt = format_of(path.name)
            data = dataio.data_export(
                actor=acting_user(options["user"]), kind=options["kind"], fmt=fmt
            )
        except (dataio.FileProblem, PermissionDenied) as refused:
            raise CommandError(str(refused)) from None
        path.write_bytes(data)
        self.stdout.write(f"Wrote {options['kind']} to {path} ({len(data)} bytes).")
