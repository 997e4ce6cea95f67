"""On PostgreSQL, no two cycles of a currency may claim overlapping ranges of the sequence: an
exclusion constraint (GiST over the currency and the range; `btree_gist` gives GiST its `=` on
text, and is a trusted extension: the database owner may create it). Closing also serialises on
an advisory lock per currency, so this constraint is the backstop, never the everyday refusal.
Elsewhere (SQLite) the closing service alone keeps ranges apart (its writers are serialised).
"""

from django.db import migrations

FORWARD = """
CREATE EXTENSION IF NOT EXISTS btree_gist;
ALTER TABLE ledger_clearingcycle
    ADD CONSTRAINT ledger_clearingcycle_ranges_disjoint
    EXCLUDE USING gist (
        currency WITH =,
        int8range(first_sequence, last_sequence, '[]') WITH &&
    ) WHERE (first_sequence IS NOT NULL);
"""
BACKWARD = """
ALTER TABLE ledger_clearingcycle DROP CONSTRAINT IF EXISTS ledger_clearingcycle_ranges_disjoint;
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0011_clearingcycle_range_data")]

    operations = [migrations.RunPython(forward, backward)]
