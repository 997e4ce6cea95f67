"""`manage.py export_ach <cycle id> <path>`: write a settled clearing cycle's NACHA ACH file.

The file is the one stored when the cycle's file was generated (generated now, as the system
user, if it was not yet: it is deterministic, so it is the same bytes either way). A cycle that
is not settled is refused. `-` as the path writes the file to standard output.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.audit import system_user
from ledger import selectors, services
from ledger.models import CycleStatus

ERR_NO_CYCLE = "No clearing cycle {cycle_id}."
ERR_NOT_SETTLED = "Cycle {cycle_id} is {status}: only a settled cycle has an ACH file to export."
MSG_WRITTEN = "Wrote cycle {cycle_id}'s ACH file ({size} bytes, SHA-256 {sha}) to {path}."


class Command(BaseCommand):
    help = "Write a settled clearing cycle's NACHA ACH file to PATH."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("cycle_id", type=int)
        parser.add_argument("path")

    def handle(self, *args: Any, **options: Any) -> None:
        cycle_id: int = options["cycle_id"]
        path: str = options["path"]
        cycle = selectors.cycle_find(cycle_id=cycle_id)
        if cycle is None:
            raise CommandError(ERR_NO_CYCLE.format(cycle_id=cycle_id))
        if cycle.status != CycleStatus.SETTLED:
            raise CommandError(ERR_NOT_SETTLED.format(cycle_id=cycle_id, status=cycle.status))
        try:
            if not cycle.ach_sha256:
                cycle = services.cycle_file_generate(actor=system_user(), cycle_id=cycle_id)
            data = selectors.cycle_file_bytes(cycle)
        except services.ClearingError as refused:
            raise CommandError(refused.messages[0]) from None
        if path == "-":
            self.stdout.write(data.decode("ascii"), ending="")
            return
        with open(path, "wb") as out:
            out.write(data)
        self.stderr.write(
            MSG_WRITTEN.format(cycle_id=cycle_id, size=len(data), sha=cycle.ach_sha256, path=path)
        )
