"""Transfer: the idempotency key's uniqueness becomes a named constraint and the reference's
index a named index, so PostgreSQL no longer keeps a `varchar_pattern_ops` index beside each.

Django adds such a `*_like` index to every unique or indexed CharField on PostgreSQL, for LIKE
queries; nothing runs one on these columns (lookups are by equality, the admin searches them
with `iexact`), and each cost every insert an index entry (issue 7: 20 ms of a batch of 8,000
for the three, `hash` included, which migration 0009 changes). Uniqueness is unchanged; the
key's unique index is rebuilt once by this migration.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("ledger", "0006_clearing")]

    operations = [
        migrations.AlterField(
            model_name="transfer",
            name="idempotency_key",
            field=models.CharField(max_length=128),
        ),
        migrations.AlterField(
            model_name="transfer",
            name="reference",
            field=models.CharField(blank=True, max_length=128),
        ),
        migrations.AddConstraint(
            model_name="transfer",
            constraint=models.UniqueConstraint(
                fields=("idempotency_key",), name="ledger_transfer_idempotency_key_unique"
            ),
        ),
        migrations.AddIndex(
            model_name="transfer",
            index=models.Index(fields=["reference"], name="ledger_transfer_reference_idx"),
        ),
    ]
