"""The portal's PostgreSQL role: least privilege, owning nothing.

The database's objects belong to the owner role that runs the migrations. The portal (web,
worker, beat) connects as another role, which this module creates or brings up to date, as
the owner, idempotently:

- a login role without SUPERUSER, CREATEDB, CREATEROLE, REPLICATION or BYPASSRLS, owning no
  object (refused otherwise: a role that owns a table may disable its triggers);
- CONNECT on the database, USAGE (not CREATE) on the schema;
- SELECT, INSERT, UPDATE, DELETE on every table, except the append-only ledger tables
  (`ledger.models.APPEND_ONLY_TABLES`): SELECT and INSERT only; no TRUNCATE, REFERENCES or
  TRIGGER anywhere; USAGE and SELECT on the sequences;
- default privileges of the owner, so tables and sequences later migrations create get the
  same grants (the ledger's new append-only tables, if any, need this run again: it is run
  after every `migrate` by `make up` and `.ci/run`).

Without ownership or superuser, the role cannot UPDATE, DELETE or TRUNCATE ledger rows,
`ALTER TABLE ... DISABLE TRIGGER`, or `SET session_replication_role`.
"""

from __future__ import annotations

from typing import Any

from psycopg import sql

from ledger.models import APPEND_ONLY_TABLES

SCHEMA = "public"


class RoleError(Exception):
    """The app role cannot be set up as asked (nothing was changed)."""


def _objects_owned(cursor: Any, role: str) -> int:
    cursor.execute(
        "SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner"
        " WHERE r.rolname = %s",
        [role],
    )
    return int(cursor.fetchone()[0])


def app_role_statements(*, role: str, owner: str, database: str, password: str | None) -> list[Any]:
    """The statements that create or update `role` (see the module's docstring), in order."""
    name = sql.Identifier(role)
    attributes = sql.SQL(
        "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT"
    )
    statements: list[Any] = [
        sql.SQL(
            "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = {literal})"
            " THEN CREATE ROLE {name}; END IF; END $$"
        ).format(literal=sql.Literal(role), name=name),
        sql.SQL("ALTER ROLE {name} WITH {attributes}").format(name=name, attributes=attributes),
    ]
    if password is not None:
        statements.append(
            sql.SQL("ALTER ROLE {name} WITH PASSWORD {password}").format(
                name=name, password=sql.Literal(password)
            )
        )
    schema = sql.Identifier(SCHEMA)
    append_only = sql.SQL(", ").join(sql.Identifier(t) for t in APPEND_ONLY_TABLES)
    statements += [
        sql.SQL("GRANT CONNECT ON DATABASE {db} TO {name}").format(
            db=sql.Identifier(database), name=name
        ),
        sql.SQL("REVOKE CREATE ON SCHEMA {schema} FROM {name}").format(schema=schema, name=name),
        sql.SQL("GRANT USAGE ON SCHEMA {schema} TO {name}").format(schema=schema, name=name),
        sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {name}").format(
            schema=schema, name=name
        ),
        sql.SQL(
            "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {name}"
        ).format(schema=schema, name=name),
        sql.SQL("REVOKE UPDATE, DELETE ON {tables} FROM {name}").format(
            tables=append_only, name=name
        ),
        sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {name}").format(
            schema=schema, name=name
        ),
        sql.SQL(
            "ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {schema}"
            " GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {name}"
        ).format(owner=sql.Identifier(owner), schema=schema, name=name),
        sql.SQL(
            "ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {schema}"
            " GRANT USAGE, SELECT ON SEQUENCES TO {name}"
        ).format(owner=sql.Identifier(owner), schema=schema, name=name),
    ]
    return statements


def app_role_apply(connection: Any, *, role: str, password: str | None = None) -> None:
    """Create or update `role` on `connection`'s database, as its owner (the connection's
    user), in one transaction. Refuses a role that is the owner itself or owns objects."""
    from django.db import transaction

    if connection.vendor != "postgresql":
        raise RoleError("Database roles exist on PostgreSQL only.")
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        cursor.execute("SELECT current_user, current_database()")
        owner, database = cursor.fetchone()
        if role == owner:
            raise RoleError(f"The app role must not be the owner ({owner}).")
        if _objects_owned(cursor, role):
            raise RoleError(
                f"Role {role} owns objects in {database}: reassign them to {owner} first"
                f" (REASSIGN OWNED BY {role} TO {owner})."
            )
        for statement in app_role_statements(
            role=role, owner=owner, database=database, password=password
        ):
            cursor.execute(statement)
