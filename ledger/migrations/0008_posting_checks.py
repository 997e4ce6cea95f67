"""Postings are checked per statement, set-based, instead of per row at commit.

Before: a deferred row trigger summed each new posting's transfer (one query per posting), and
two foreign keys looked up its transfer and its account (one query each per posting): 48,000
queries at the commit of a batch of 8,000 transfers, most of the batch's database time.

Now one statement-level trigger (transition table `new_postings`) runs after every statement
that inserts postings and refuses it unless
- every new posting names an existing transfer, is on one of that transfer's two accounts and
  is in its currency (stronger than the foreign keys it replaces: the account must be the
  transfer's, not any account);
- the new postings of each transfer balance (debits equal credits).
Postings are append-only (no UPDATE or DELETE, migration 0002), so by induction every transfer's
postings balance at every statement's end, hence at commit: a transfer's legs are written by one
statement, as the ledger's write path always does. The foreign keys' other duty, keeping the
referenced rows from going away, is already done: a transfer can never be deleted (append-only)
and the account is one of the transfer's own two, which its foreign keys protect.
The joins are forced to index look-ups (no hash or merge joins), so the check costs two index
probes per transfer whatever the size of the tables or of the statement.

Other databases rely on the ORM's refusal and the write path, as before.
"""

import django.db.models.deletion
from django.db import migrations, models

FORWARD = """
DROP TRIGGER IF EXISTS ledger_posting_balanced ON ledger_posting;
DROP FUNCTION IF EXISTS ledger_check_balanced();

CREATE OR REPLACE FUNCTION ledger_check_postings() RETURNS trigger AS $$
DECLARE
    bad record;
BEGIN
    SELECT n.transfer_id, t.id AS found
      INTO bad
      FROM new_postings n
      LEFT JOIN ledger_transfer t ON t.id = n.transfer_id
     WHERE t.id IS NULL
        OR (n.account_id <> t.debit_account_id AND n.account_id <> t.credit_account_id)
        OR n.currency <> t.currency
     LIMIT 1;
    IF FOUND THEN
        IF bad.found IS NULL THEN
            RAISE EXCEPTION 'posting refused: transfer % does not exist', bad.transfer_id
                USING ERRCODE = 'foreign_key_violation';
        END IF;
        RAISE EXCEPTION 'posting refused: not on an account of transfer % in its currency',
            bad.transfer_id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    SELECT transfer_id, min(currency) AS currency,
           SUM(CASE WHEN side = 'debit' THEN amount_minor ELSE 0 END) AS debits,
           SUM(CASE WHEN side = 'debit' THEN 0 ELSE amount_minor END) AS credits
      INTO bad
      FROM new_postings
     GROUP BY transfer_id
    HAVING SUM(CASE WHEN side = 'debit' THEN amount_minor ELSE -amount_minor END) <> 0
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'unbalanced transfer %: debits % and credits % in %',
            bad.transfer_id, bad.debits, bad.credits, bad.currency
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql
SET enable_hashjoin = off
SET enable_mergejoin = off;

CREATE TRIGGER ledger_posting_checked
    AFTER INSERT ON ledger_posting
    REFERENCING NEW TABLE AS new_postings
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_check_postings();
"""

# Back to migration 0002's deferred row trigger (the foreign keys come back with the fields).
BACKWARD = """
DROP TRIGGER IF EXISTS ledger_posting_checked ON ledger_posting;
DROP FUNCTION IF EXISTS ledger_check_postings();

CREATE OR REPLACE FUNCTION ledger_check_balanced() RETURNS trigger AS $$
DECLARE
    bad record;
BEGIN
    SELECT currency,
           SUM(CASE WHEN side = 'debit' THEN amount_minor ELSE 0 END) AS debits,
           SUM(CASE WHEN side = 'credit' THEN amount_minor ELSE 0 END) AS credits
      INTO bad
      FROM ledger_posting
     WHERE transfer_id = NEW.transfer_id
     GROUP BY currency
    HAVING SUM(CASE WHEN side = 'debit' THEN amount_minor ELSE -amount_minor END) <> 0
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'unbalanced transfer %: debits % and credits % in %',
            NEW.transfer_id, bad.debits, bad.credits, bad.currency
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE CONSTRAINT TRIGGER ledger_posting_balanced
    AFTER INSERT ON ledger_posting
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger_check_balanced();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0007_transfer_indexes")]

    operations = [
        migrations.AlterField(
            model_name="posting",
            name="account",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="postings",
                to="ledger.account",
            ),
        ),
        migrations.AlterField(
            model_name="posting",
            name="transfer",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="postings",
                to="ledger.transfer",
            ),
        ),
        migrations.RunPython(forward, backward),
    ]
