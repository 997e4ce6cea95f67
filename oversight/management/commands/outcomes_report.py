"""`manage.py outcomes_report [--json] [--since YYYY-MM-DD] [--until YYYY-MM-DD]
[--program CODE]`: the bureau's figures (`oversight.figures`) for a period, as one JSON object
or as readable text. Bad arguments end with a clear message and exit code 2."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from oversight.figures import outcomes
from oversight.query import QueryError, parse_query
from oversight.report import text_report


class Command(BaseCommand):
    help = "Print the bureau's outcome figures for a period (JSON with --json)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
        parser.add_argument("--since", help="first day of the period (YYYY-MM-DD)")
        parser.add_argument("--until", help="last day of the period (YYYY-MM-DD)")
        parser.add_argument("--program", help="a program's code (default: every program)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            query = parse_query(
                since=options["since"], until=options["until"], program=options["program"]
            )
        except QueryError as error:
            raise CommandError(str(error), returncode=2) from error
        figures = outcomes(since=query.since, until=query.until, program_ids=query.program_ids)
        if options["json"]:
            self.stdout.write(json.dumps(figures.as_json(), sort_keys=False))
            return
        scope = f"program {query.program_code}" if query.program_code else "every program"
        self.stdout.write(text_report(figures, scope=scope), ending="")
