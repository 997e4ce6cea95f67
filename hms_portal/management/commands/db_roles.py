"""`manage.py db_roles --app-role NAME [--password ...]` (or `--app-url URL`, the role and its
password read from the portal's own database URL): create or update the least-privilege
PostgreSQL role the portal connects as (`hms_portal.db_roles`). Run it as the owner that ran
`migrate` (with `DATABASE_URL` set to the owner's URL), after every `migrate`; idempotent."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import unquote, urlsplit

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from hms_portal.db_roles import RoleError, app_role_apply


class Command(BaseCommand):
    help = "Create or update the portal's least-privilege database role (PostgreSQL)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--app-role", help="the role the portal connects as")
        parser.add_argument(
            "--app-url",
            help="the portal's database URL: its user is the role, its password the password",
        )
        parser.add_argument(
            "--password",
            default=None,
            help="its password (default: $DATABASE_APP_PASSWORD; unset leaves it unchanged)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if connection.vendor != "postgresql":
            self.stdout.write("SQLite: no database roles to set up.")
            return
        role, password = options["app_role"], options["password"]
        if options["app_url"]:
            url = urlsplit(options["app_url"])
            role = role or unquote(url.username or "")
            password = password or (unquote(url.password) if url.password else None)
        if not role:
            raise CommandError("Name the role: --app-role NAME or --app-url URL.")
        password = password or os.environ.get("DATABASE_APP_PASSWORD") or None
        try:
            app_role_apply(connection, role=role, password=password)
        except RoleError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            f"Role {role}: may read and write the portal's tables, only read and append the "
            "ledger's; owns nothing."
        )
