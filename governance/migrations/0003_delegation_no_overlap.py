"""PostgreSQL only: refuse two unrevoked delegations of one delegator, for the same scope,
whose windows overlap (an exclusion constraint over a time range, which needs btree_gist).

On other databases (SQLite in development) the service's own check is the only guard, and
this migration does nothing. The constraint is not declared in `Delegation.Meta` because
SQLite cannot create it; the migration state therefore does not know it, which is intended.
"""

from django.db import migrations

CREATE = """
CREATE EXTENSION IF NOT EXISTS btree_gist;
ALTER TABLE governance_delegation
  ADD CONSTRAINT governance_delegation_no_overlap
  EXCLUDE USING gist (
    delegator_id WITH =,
    program_id WITH =,
    subject_kind WITH =,
    scope_key WITH =,
    (COALESCE(step_order, 0)) WITH =,
    tstzrange(starts_at, ends_at, '[)') WITH &&
  )
  WHERE (revoked_at IS NULL);
"""

DROP = (
    "ALTER TABLE governance_delegation DROP CONSTRAINT IF EXISTS governance_delegation_no_overlap;"
)


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("governance", "0002_policies_cases_delegations")]

    operations = [migrations.RunPython(create, drop)]
