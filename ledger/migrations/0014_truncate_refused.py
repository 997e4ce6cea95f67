"""PostgreSQL refuses TRUNCATE of the append-only ledger tables (transfers, postings,
checkpoints): TRUNCATE fires no row trigger, so the UPDATE/DELETE refusals of 0002 and 0005
never see it. A `BEFORE TRUNCATE ... FOR EACH STATEMENT` trigger on each raises instead.

The portal's own database role holds no TRUNCATE privilege at all (`manage.py db_roles`);
this refuses the owner too, short of dropping the trigger. Other databases: nothing to do.
"""

from django.db import migrations

TABLES = {
    "ledger_transfer": "ledger_transfer_no_truncate",
    "ledger_posting": "ledger_posting_no_truncate",
    "ledger_ledgercheckpoint": "ledger_checkpoint_no_truncate",
}

FORWARD = """
CREATE OR REPLACE FUNCTION ledger_refuse_truncate() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'ledger rows are immutable: TRUNCATE on % refused', TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;
""" + "".join(
    f"CREATE TRIGGER {trigger} BEFORE TRUNCATE ON {table}"
    " FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_truncate();\n"
    for table, trigger in TABLES.items()
)

BACKWARD = (
    "".join(f"DROP TRIGGER IF EXISTS {trigger} ON {table};\n" for table, trigger in TABLES.items())
    + "DROP FUNCTION IF EXISTS ledger_refuse_truncate();\n"
)


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0013_delete_cyclemembership")]

    operations = [migrations.RunPython(forward, backward)]
