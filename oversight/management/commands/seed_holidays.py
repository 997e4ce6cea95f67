"""`manage.py seed_holidays [--years N]`: add the US federal holidays of this year and the
next N (default `HMS_OVERSIGHT_HOLIDAY_YEARS_AHEAD`) missing from the bureau's calendar, as
the system user. Re-running adds nothing."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from core.audit import system_user
from oversight import conf, services


class Command(BaseCommand):
    help = "Add the US federal holidays of the coming years to the bureau's calendar."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--years", type=int, default=None, help="years ahead (0-50)")

    def handle(self, *args: Any, **options: Any) -> None:
        ahead = options["years"]
        ahead = int(conf.get("HOLIDAY_YEARS_AHEAD")) if ahead is None else ahead
        if not 0 <= ahead <= 50:
            raise CommandError("--years: give a number from 0 to 50.", returncode=2)
        first = timezone.localdate().year
        added = services.holidays_seed(actor=system_user(), years=range(first, first + ahead + 1))
        self.stdout.write(f"{added} holidays added ({first}-{first + ahead}).")
