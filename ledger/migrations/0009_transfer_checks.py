"""PostgreSQL checks each new transfer's place in the chain, per statement, set-based.

A statement-level trigger (transition table `new_transfers`) refuses any statement inserting
transfers unless
- each new transfer's `prev_hash` is the stored hash of the transfer numbered one before it
  (`GENESIS_HASH`, 64 zeros, for #1): a transfer can only be appended right after the last one,
  linked to it, so no gap and no fork can be written;
- a `pending` or `reverses` link names an existing transfer numbered before it.

It replaces what cost the most and checked the least:
- `hash` is no longer UNIQUE. That index took every insert into a random place of a tree as
  large as the ledger (40 ms of a batch of 8,000 at 200,000 transfers, growing with it) and
  enforced nothing the chain does not: each hash is SHA-256 over content that includes the
  transfer's unique sequence number, and `verify_ledger` recomputes every one.
- the two self-referencing foreign keys (`pending`, `reverses`): the trigger checks the same on
  insert (the transfer named must exist, and before), and what the keys added on the other side
  the append-only trigger already refuses (a transfer is never updated or deleted). They cost
  an empty foreign-key event per transfer at commit, 16,000 per batch. Their indexes stay, and
  `reverses` stays unique (a transfer is reversed at most once).
Checked by index look-ups only (no hash or merge joins): one probe of the sequence index per
new transfer, one of the primary key per link.
"""

import django.db.models.deletion
from django.db import migrations, models

FORWARD = """
CREATE OR REPLACE FUNCTION ledger_check_transfers() RETURNS trigger AS $$
DECLARE
    bad record;
BEGIN
    SELECT n.sequence
      INTO bad
      FROM new_transfers n
      LEFT JOIN ledger_transfer p ON p.sequence = n.sequence - 1
     WHERE CASE WHEN n.sequence = 1 THEN n.prev_hash <> repeat('0', 64)
                ELSE p.hash IS NULL OR p.hash <> n.prev_hash END
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'transfer #% refused: its previous hash is not the hash of #%',
            bad.sequence, bad.sequence - 1
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    SELECT n.sequence
      INTO bad
      FROM new_transfers n
      LEFT JOIN ledger_transfer r ON r.id = n.pending_id
     WHERE n.pending_id IS NOT NULL AND (r.id IS NULL OR r.sequence >= n.sequence)
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'transfer #% refused: the pending transfer it resolves is not before it',
            bad.sequence
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    SELECT n.sequence
      INTO bad
      FROM new_transfers n
      LEFT JOIN ledger_transfer r ON r.id = n.reverses_id
     WHERE n.reverses_id IS NOT NULL AND (r.id IS NULL OR r.sequence >= n.sequence)
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'transfer #% refused: the transfer it reverses is not before it',
            bad.sequence
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql
SET enable_hashjoin = off
SET enable_mergejoin = off;

CREATE TRIGGER ledger_transfer_checked
    AFTER INSERT ON ledger_transfer
    REFERENCING NEW TABLE AS new_transfers
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_check_transfers();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS ledger_transfer_checked ON ledger_transfer;
DROP FUNCTION IF EXISTS ledger_check_transfers();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0008_posting_checks")]

    operations = [
        migrations.AlterField(
            model_name="transfer",
            name="hash",
            field=models.CharField(max_length=64),
        ),
        migrations.AlterField(
            model_name="transfer",
            name="pending",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="resolutions",
                to="ledger.transfer",
            ),
        ),
        migrations.AlterField(
            model_name="transfer",
            name="reverses",
            field=models.OneToOneField(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="reversal",
                to="ledger.transfer",
            ),
        ),
        migrations.RunPython(forward, backward),
    ]
