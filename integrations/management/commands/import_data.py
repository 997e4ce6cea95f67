"""`manage.py import_data <kind> <file> [--dry-run] [--user NAME]`: import a CSV or XLSX file.

Prints the outcome and every problem (line, column, reason). A file with any problem, or a dry
run, writes nothing (exit status 1 when refused). Acts as the `system` user unless `--user`
names a finance officer or administrator, who is then named in history.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q

from core.audit import system_user
from integrations import dataio
from integrations.dataio.tables import max_bytes
from integrations.models import DataImportOutcome
from integrations.services.imports import data_import

ERR_NO_FILE = "No file {path}."
ERR_TOO_BIG = "{path} is larger than {limit} bytes; split it into smaller files."
ERR_NO_USER = "No active user {name}."


def acting_user(name: str | None) -> Any:
    """The user named by `--user` (username or email), else the system user."""
    if not name:
        return system_user()
    user = (
        get_user_model()
        .objects.filter(Q(username=name) | Q(email__iexact=name), is_active=True)
        .first()
    )
    if user is None:
        raise CommandError(ERR_NO_USER.format(name=name))
    return user


class Command(BaseCommand):
    help = "Import service types, requests, timelines, participants or opening balances."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=list(dataio.KINDS))
        parser.add_argument("file")
        parser.add_argument(
            "--dry-run", action="store_true", help="Check every row and write nothing."
        )
        parser.add_argument("--user", help="Username or email of the person importing.")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(ERR_NO_FILE.format(path=path))
        if path.stat().st_size > max_bytes():
            raise CommandError(ERR_TOO_BIG.format(path=path, limit=max_bytes()))
        actor = acting_user(options["user"])
        try:
            record = data_import(
                actor=actor,
                kind=options["kind"],
                file_name=path.name,
                data=path.read_bytes(),
                dry_run=options["dry_run"],
            )
        except (PermissionDenied, ValidationError) as refused:
            message = refused.messages[0] if isinstance(refused, ValidationError) else refused
            raise CommandError(str(message)) from None
        for line in dataio.report_lines(record):
            self.stdout.write(line)
        if record.outcome == DataImportOutcome.REFUSED:
            raise CommandError(
                f"Nothing was written ({len(record.problems)} problems; run #{record.pk})."
            )
