"""The ledger's guarantees held by PostgreSQL itself, against whoever connects:

- TRUNCATE of an append-only ledger table is refused, even for the owner (migration 0014);
- the portal's own role (`manage.py db_roles`, `hms_portal.db_roles`) owns nothing and cannot
  UPDATE, DELETE or TRUNCATE ledger rows, disable a trigger, switch triggers off with
  `session_replication_role`, or create tables; it can write a transfer through the service.

The tests connect as the superuser (pytest-django creates the test database as it): they
create the app role in the test database with the code the command runs, inside the test's
transaction (so its rollback removes the role again), and act as it with `SET ROLE`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import DatabaseError, IntegrityError, connection, transaction
from psycopg import sql

from hms_portal.db_roles import app_role_apply
from ledger.models import APPEND_ONLY_TABLES, Transfer
from tests.builders import ledger_account, move

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


@pytest.fixture
def books(require_postgres: None, actor: Any) -> tuple[Any, Any]:
    source, fund = ledger_account(actor, "SOURCE"), ledger_account(actor, "FUND")
    move(actor, "t1", source, fund, 10_000)
    return source, fund


@pytest.fixture
def app_role(require_postgres: None) -> str:
    """The portal's role for this test database (named after it: roles are cluster-wide)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_database()")
        role = f"{cursor.fetchone()[0]}_app"[:63]
    app_role_apply(connection, role=role)
    app_role_apply(connection, role=role)  # idempotent
    return role


@contextmanager
def acting_as(role: str) -> Iterator[Any]:
    """A cursor of the test's connection acting as `role`, inside a savepoint: a refusal
    rolls back to it, and the role is reset on the way out."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
        yield cursor
        cursor.execute("RESET ROLE")


@pytest.mark.parametrize("table", APPEND_ONLY_TABLES)
def test_truncate_of_a_ledger_table_is_refused_even_for_the_owner(books: Any, table: str) -> None:
    with connection.cursor() as cursor:
        # TRUNCATE refuses to run while deferred checks of the writes before are pending.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    with pytest.raises(IntegrityError, match=f"TRUNCATE on {table} refused"):  # noqa: SIM117
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql.SQL("TRUNCATE {} CASCADE").format(sql.Identifier(table)))
    assert Transfer.objects.count() == 1


ATTEMPTS = {
    "update": "UPDATE ledger_transfer SET memo = 'changed'",
    "delete": "DELETE FROM ledger_posting",
    "truncate": "TRUNCATE ledger_transfer CASCADE",
    "truncate checkpoints": "TRUNCATE ledger_ledgercheckpoint",
    "disable a trigger": "ALTER TABLE ledger_transfer DISABLE TRIGGER ledger_transfer_append_only",
    "disable every trigger": "ALTER TABLE ledger_posting DISABLE TRIGGER ALL",
    "replica mode": "SET session_replication_role = replica",
    "create a table": "CREATE TABLE ledger_shadow (id int)",
    "drop a table": "DROP TABLE ledger_transfer CASCADE",
}


@pytest.mark.parametrize("attempt", list(ATTEMPTS))
def test_the_portal_role_cannot_get_round_the_ledger(
    books: Any, app_role: str, attempt: str
) -> None:
    with pytest.raises(DatabaseError, match=r"permission denied|must be owner"):  # noqa: SIM117
        with acting_as(app_role) as cursor:
            cursor.execute(ATTEMPTS[attempt])
    assert Transfer.objects.count() == 1
    assert Transfer.objects.get().memo != "changed"


def test_the_portal_role_owns_nothing_and_holds_no_power(books: Any, app_role: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls,"
            " rolcanlogin FROM pg_roles WHERE rolname = %s",
            [app_role],
        )
        assert cursor.fetchone() == (False, False, False, False, False, True)
        cursor.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner"
            " WHERE r.rolname = %s",
            [app_role],
        )
        assert cursor.fetchone()[0] == 0
        cursor.execute(
            "SELECT has_table_privilege(%s, 'ledger_transfer', 'INSERT'),"
            " has_table_privilege(%s, 'ledger_transfer', 'UPDATE'),"
            " has_table_privilege(%s, 'ledger_account', 'UPDATE'),"
            " has_table_privilege(%s, 'ledger_account', 'TRUNCATE')",
            [app_role] * 4,
        )
        assert cursor.fetchone() == (True, False, True, False)


def test_the_portal_role_writes_a_transfer_through_the_service(
    books: Any, app_role: str, actor: Any
) -> None:
    source, fund = books
    with acting_as(app_role) as cursor:
        cursor.execute("SELECT current_user")
        assert cursor.fetchone()[0] == app_role
        transfer = move(actor, "as-the-portal", fund, source, 2_500)
    assert Transfer.objects.get(pk=transfer.pk).sequence == 2


def test_the_command_sets_the_role_up(books: Any, app_role: str) -> None:
    out = StringIO()
    call_command("db_roles", app_role=app_role, stdout=out)
    assert f"Role {app_role}:" in out.getvalue()
