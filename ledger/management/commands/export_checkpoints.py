"""`manage.py export_checkpoints [path]`: the signed checkpoints as JSON lines, for auditors.

Each line holds `sequence`, `hash`, `created_at`, `key_id` and `signature`. Whoever holds the
checkpoint key checks a line without this code:
`hmac.new(key, f"{sequence}:{hash}:{created_at}".encode(), "sha256").hexdigest() == signature`,
and that the ledger's transfer at `sequence` still has `hash` (`manage.py verify_ledger`).
"""

from __future__ import annotations

import json
from typing import Any, TextIO

from django.core.management.base import BaseCommand, CommandParser

from ledger.verify import checkpoint_export_rows

MSG_WRITTEN = "Wrote {count} checkpoint(s) to {path}."


class Command(BaseCommand):
    help = "Write every signed ledger checkpoint as JSON lines to PATH (default: standard output)."

    def add_arguments(self, parser: CommandParser) -> None:
        """PATH: a file to write (replaced if present); `-` or none for standard output."""
        parser.add_argument("path", nargs="?", default="-")

    def handle(self, *args: Any, **options: Any) -> None:
        """Stream the checkpoints, oldest first, one JSON object per line."""
        path: str = options["path"]
        if path == "-":
            self._write(self.stdout)
            return
        with open(path, "w", encoding="utf-8") as out:
            count = self._write(out)
        self.stderr.write(MSG_WRITTEN.format(count=count, path=path))

    def _write(self, out: TextIO | Any) -> int:
        count = 0
        for row in checkpoint_export_rows():
            out.write(json.dumps(row, sort_keys=True) + "\n")
            count += 1
        return count
