"""Tamper evidence: `verify_ledger` names the first bad sequence number after raw SQL changes,
and signed checkpoints catch history rewritten with every hash recomputed.

The tampering runs as someone with database access would: raw SQL. On PostgreSQL the append-only
triggers refuse it, so `_tampering` switches them off inside the test's transaction (DDL is
transactional there: the rollback at the end of the test restores them too). SQLite has no such
triggers, so the same tests run on both databases.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from ledger import services, tasks
from ledger.chain import GENESIS_HASH, chain_hash
from ledger.models import LedgerCheckpoint, LedgerHead, Transfer
from ledger.services import checkpoint_write, checkpoints
from ledger.verify import key_id, verify_ledger
from tests.builders import ledger_account, move

TRIGGERS = {
    "ledger_transfer": "ledger_transfer_append_only",
    "ledger_posting": "ledger_posting_append_only",
    "ledger_ledgercheckpoint": "ledger_checkpoint_append_only",
}


@contextmanager
def _tampering(*tables: str) -> Iterator[Any]:
    """A raw cursor that may change and delete rows of the given append-only tables."""
    postgres = connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        if postgres:
            # ALTER TABLE refuses to run while deferred checks (foreign keys, balance) are pending.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            for table in tables:
                cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {TRIGGERS[table]}")
        yield cursor
        if postgres:
            for table in tables:
                cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {TRIGGERS[table]}")


def _verify_fails(first_bad: int | None) -> str:
    """Run the command, expect exit status 1 naming `first_bad`; return what it printed."""
    out = StringIO()
    with pytest.raises(CommandError) as failed:
        call_command("verify_ledger", stdout=out)
    assert failed.value.returncode == 1
    if first_bad is not None:
        assert f"first bad sequence number #{first_bad} " in str(failed.value)
    return out.getvalue()


def _id_of(sequence: int) -> int:
    return Transfer.objects.values_list("pk", flat=True).get(sequence=sequence)


@pytest.fixture
def books(actor):  # type: ignore[no-untyped-def]
    """Ten transfers of every kind: #1 funds, #2-#4 pay, #5 reserves and #6 posts it in part,
    #7 reserves and #8 voids it, #9 reverses #2, #10 pays."""
    source = ledger_account(actor, "source")
    fund = ledger_account(actor, "fund", limited=True)
    payee = ledger_account(actor, "payee")
    move(actor, "t1", source, fund, 100_000)
    second = move(actor, "t2", fund, payee, 1_000)
    move(actor, "t3", fund, payee, 2_000)
    move(actor, "t4", fund, payee, 3_000)
    held = move(actor, "t5", fund, payee, 4_000, pending=True)
    services.transfer_post_pending(
        actor=actor, idempotency_key="t6", pending_id=held.pk, amount_minor=3_500
    )
    held = move(actor, "t7", fund, payee, 500, pending=True)
    services.transfer_void_pending(actor=actor, idempotency_key="t8", pending_id=held.pk)
    services.transfer_reverse(actor=actor, idempotency_key="t9", transfer_id=second.pk)
    move(actor, "t10", fund, payee, 10)
    return {"source": source, "fund": fund, "payee": payee}


def test_a_clean_ledger_verifies_and_prints_the_head_hash(books):
    out = StringIO()
    call_command("verify_ledger", stdout=out)
    head = LedgerHead.objects.get()
    assert head.sequence == 10
    assert f"Head: #10 {head.hash}" in out.getvalue()
    assert "Checked 10 transfers, 3 accounts and 0 checkpoints." in out.getvalue()
    report = verify_ledger()
    assert report.ok
    assert report.first_bad_sequence is None
    assert report.problems == []
    assert (report.head_sequence, report.head_hash) == (10, head.hash)


def test_an_empty_ledger_verifies_at_the_genesis_hash(db):
    out = StringIO()
    call_command("verify_ledger", stdout=out)
    assert f"Head: #0 {GENESIS_HASH}" in out.getvalue()


def test_a_changed_amount_is_reported_at_its_sequence(books):
    with _tampering("ledger_transfer") as cursor:
        cursor.execute("UPDATE ledger_transfer SET amount_minor = 2500 WHERE sequence = 3")
    out = _verify_fails(first_bad=3)
    assert "Transfer #3 does not match its hash" in out
    report = verify_ledger()
    assert {p.sequence for p in report.problems} == {3}  # the links after it still hold


def test_a_deleted_transfer_is_reported_at_the_gap_it_leaves(books):
    """The first bad number is the deleted one (the gap); #4 then no longer follows #2."""
    removed = _id_of(3)
    with _tampering("ledger_transfer", "ledger_posting") as cursor:
        cursor.execute("DELETE FROM ledger_posting WHERE transfer_id = %s", [removed])
        cursor.execute("DELETE FROM ledger_transfer WHERE id = %s", [removed])
    out = _verify_fails(first_bad=3)
    assert "Sequence #3 is missing: the ledger goes from #2 to #4" in out
    assert "Transfer #4 does not follow #2" in out
    assert "Account fund: stored debits_posted is" in out  # its totals still count the 2,000


def test_two_transfers_swapped_are_reported_at_the_first_of_them(books):
    with _tampering("ledger_transfer") as cursor:
        cursor.execute("UPDATE ledger_transfer SET sequence = -1 WHERE sequence = 3")
        cursor.execute("UPDATE ledger_transfer SET sequence = 3 WHERE sequence = 4")
        cursor.execute("UPDATE ledger_transfer SET sequence = 4 WHERE sequence = -1")
    out = _verify_fails(first_bad=3)
    assert "Transfer #3 does not follow #2" in out
    assert "Transfer #3 does not match its hash" in out


def test_a_changed_posting_unbalances_its_transfer_and_names_the_account(books):
    transfer_id = _id_of(4)
    with _tampering("ledger_posting") as cursor:
        cursor.execute(
            "UPDATE ledger_posting SET amount_minor = 30 "
            "WHERE transfer_id = %s AND side = 'credit'",
            [transfer_id],
        )
    out = _verify_fails(first_bad=4)
    assert "Transfer #4: postings do not balance in USD (debits 3000, credits 30)" in out
    assert "Account payee: stored credits_posted is 9510, its postings sum to 6540." in out


def test_postings_and_totals_changed_together_still_disagree_with_the_hashed_transfer(books):
    """A careful forger keeps the legs balanced and the account totals in step: the postings
    no longer match the amount the transfer's hash vouches for."""
    transfer_id = _id_of(4)
    with _tampering("ledger_posting") as cursor:
        cursor.execute(
            "UPDATE ledger_posting SET amount_minor = 30 WHERE transfer_id = %s", [transfer_id]
        )
        cursor.execute(
            "UPDATE ledger_account SET debits_posted = debits_posted - 2970 WHERE code = 'fund'"
        )
        cursor.execute(
            "UPDATE ledger_account SET credits_posted = credits_posted - 2970 WHERE code = 'payee'"
        )
    out = _verify_fails(first_bad=4)
    assert "Transfer #4: its postings are not the legs the transfer moved." in out
    assert "Account" not in out


def test_a_changed_head_is_reported(books):
    with connection.cursor() as cursor:
        cursor.execute("UPDATE ledger_ledgerhead SET hash = %s", ["e" * 64])
    out = _verify_fails(first_bad=10)
    assert "The head's hash for #10 is not the stored hash of transfer #10." in out


def test_the_last_transfer_deleted_is_caught_by_the_head(books):
    removed = _id_of(10)
    with _tampering("ledger_transfer", "ledger_posting") as cursor:
        cursor.execute("DELETE FROM ledger_posting WHERE transfer_id = %s", [removed])
        cursor.execute("DELETE FROM ledger_transfer WHERE id = %s", [removed])
    out = _verify_fails(first_bad=10)
    assert "The head names #10 but the ledger ends at #9" in out


# --- Checkpoints -------------------------------------------------------------------------------


def _rehash_from(sequence: int) -> None:
    """Rewrite the chain from `sequence` on as a forger would: every hash recomputed, the head
    moved to the new last hash. Only a checkpoint signed before can tell."""
    rows = list(
        Transfer.objects.order_by("sequence").values(
            "id",
            "sequence",
            "idempotency_key",
            "kind",
            "pending_id",
            "reverses_id",
            "debit_account__code",
            "credit_account__code",
            "amount_minor",
            "currency",
            "expires_at",
            "reference",
            "memo",
            "created_by_id",
            "created_at",
            "prev_hash",
            "hash",
        )
    )
    sequence_of = {row["id"]: row["sequence"] for row in rows}
    prev = GENESIS_HASH
    with _tampering("ledger_transfer") as cursor:
        for row in rows:
            if row["sequence"] >= sequence:
                new = chain_hash(
                    sequence=row["sequence"],
                    idempotency_key=row["idempotency_key"],
                    kind=row["kind"],
                    pending_sequence=sequence_of.get(row["pending_id"]),
                    reverses_sequence=sequence_of.get(row["reverses_id"]),
                    debit_code=row["debit_account__code"],
                    credit_code=row["credit_account__code"],
                    amount_minor=row["amount_minor"],
                    currency=row["currency"],
                    expires_at=row["expires_at"],
                    reference=row["reference"],
                    memo=row["memo"],
                    created_by_id=row["created_by_id"],
                    created_at=row["created_at"],
                    prev_hash=prev,
                )
                cursor.execute(
                    "UPDATE ledger_transfer SET prev_hash = %s, hash = %s WHERE id = %s",
                    [prev, new, row["id"]],
                )
                row["hash"] = new
            prev = row["hash"]
        cursor.execute("UPDATE ledger_ledgerhead SET hash = %s", [prev])


def test_a_checkpoint_signs_the_head_once_a_day_and_verifies(books, actor):
    checkpoint = checkpoint_write(actor=actor)
    head = LedgerHead.objects.get()
    assert (checkpoint.sequence, checkpoint.hash) == (head.sequence, head.hash)
    assert checkpoint_write(actor=actor).pk == checkpoint.pk
    assert LedgerCheckpoint.objects.count() == 1
    key = django_settings.HMS_LEDGER_CHECKPOINT_KEY.encode()
    assert checkpoint.key_id == hashlib.sha256(key).hexdigest()[:8] == key_id()
    message = f"{checkpoint.sequence}:{checkpoint.hash}:{checkpoint.created_at.isoformat()}"
    assert checkpoint.signature == hmac.new(key, message.encode(), "sha256").hexdigest()
    out = StringIO()
    call_command("verify_ledger", stdout=out)
    assert "and 1 checkpoints." in out.getvalue()


def test_history_rewritten_with_every_hash_recomputed_is_caught_by_the_checkpoint(books, actor):
    checkpoint_write(actor=actor)
    with _tampering("ledger_transfer") as cursor:
        cursor.execute("UPDATE ledger_transfer SET amount_minor = 2500 WHERE sequence = 3")
    _rehash_from(3)
    report = verify_ledger()
    # The chain itself is consistent again: only the postings and the checkpoint disagree.
    rewritten = [p for p in report.problems if "rewritten after it was signed" in p.message]
    assert [p.sequence for p in rewritten] == [10]
    out = _verify_fails(first_bad=3)  # the postings of #3 no longer match its amount
    assert "history at or before #10 was rewritten" in out


def test_a_rewritten_memo_is_caught_only_by_the_checkpoint(books, actor):
    checkpoint_write(actor=actor)
    with _tampering("ledger_transfer") as cursor:
        cursor.execute("UPDATE ledger_transfer SET memo = 'nothing to see' WHERE sequence = 2")
    _rehash_from(2)
    out = _verify_fails(first_bad=10)
    assert "history at or before #10 was rewritten after it was signed" in out
    assert len(verify_ledger().problems) == 1


def test_a_tampered_checkpoint_signature_is_reported(books, actor):
    checkpoint_write(actor=actor)
    with _tampering("ledger_ledgercheckpoint") as cursor:
        cursor.execute("UPDATE ledger_ledgercheckpoint SET signature = %s", ["0" * 64])
    out = _verify_fails(first_bad=10)
    assert "the signature is not valid" in out


def test_a_checkpoint_under_another_key_is_reported(books, actor, settings):
    checkpoint = checkpoint_write(actor=actor)
    settings.HMS_LEDGER_CHECKPOINT_KEY = "a-rotated-key"
    out = _verify_fails(first_bad=None)
    assert f"was signed with key {checkpoint.key_id}, the current key is {key_id()}" in out


def test_a_rotated_key_kept_as_a_fallback_still_checks_the_old_checkpoints(books, actor, settings):
    old = checkpoint_write(actor=actor)
    retired = settings.HMS_LEDGER_CHECKPOINT_KEY
    settings.HMS_LEDGER_CHECKPOINT_KEY = "a-rotated-key"
    settings.HMS_LEDGER_CHECKPOINT_KEY_FALLBACKS = [retired]
    report = verify_ledger()
    assert report.ok, report.problems
    assert report.checkpoints_checked == 1
    assert old.key_id != key_id()
    # A retired key checks what it signed, and only that: an altered signature is still found.
    with _tampering("ledger_ledgercheckpoint") as cursor:
        cursor.execute("UPDATE ledger_ledgercheckpoint SET signature = %s", ["0" * 64])
    assert "the signature is not valid" in _verify_fails(first_bad=10)


def test_export_writes_json_lines_an_auditor_checks_with_a_plain_hmac(books, actor, tmp_path):
    checkpoint_write(actor=actor)
    path: Path = tmp_path / "checkpoints.jsonl"
    call_command("export_checkpoints", str(path), stderr=StringIO())
    lines = path.read_text().splitlines()
    assert len(lines) == 1
    line = json.loads(lines[0])
    assert set(line) == {"sequence", "hash", "created_at", "key_id", "signature"}
    key = django_settings.HMS_LEDGER_CHECKPOINT_KEY.encode()
    message = f"{line['sequence']}:{line['hash']}:{line['created_at']}".encode()
    assert hmac.new(key, message, hashlib.sha256).hexdigest() == line["signature"]
    assert Transfer.objects.get(sequence=line["sequence"]).hash == line["hash"]
    out = StringIO()
    call_command("export_checkpoints", stdout=out)
    assert out.getvalue().splitlines() == lines


def test_the_beat_task_signs_once_an_hour_and_never_a_ledger_that_fails(books):
    assert tasks.write_checkpoint.delay().get() == 10
    assert tasks.write_checkpoint.delay().get() == 10
    assert LedgerCheckpoint.objects.get().created_by.username == "system"
    assert django_settings.CELERY_BEAT_SCHEDULE["write-ledger-checkpoint"]["schedule"] == 3600


def test_a_checkpoint_is_written_once_per_utc_hour(books, actor, monkeypatch):
    """Within one UTC hour every call returns the hour's checkpoint; the next hour gets its
    own, and both verify."""
    start = datetime(2026, 12, 7, 19, 0, tzinfo=UTC)
    moments = iter([start + timedelta(minutes=5), start + timedelta(minutes=59, seconds=59)])
    monkeypatch.setattr(checkpoints.timezone, "now", lambda: next(moments))
    first = checkpoint_write(actor=actor)
    assert checkpoint_write(actor=actor).pk == first.pk
    assert first.hour == start
    monkeypatch.setattr(checkpoints.timezone, "now", lambda: start + timedelta(hours=1))
    move(
        actor,
        "next-hour",
        Transfer.objects.get(sequence=1).debit_account,
        Transfer.objects.get(sequence=1).credit_account,
        100,
    )
    second = checkpoint_write(actor=actor)
    assert second.pk != first.pk
    assert (second.hour, second.sequence) == (start + timedelta(hours=1), 11)
    assert LedgerCheckpoint.objects.count() == 2
    assert verify_ledger().ok


def test_the_beat_task_refuses_to_sign_a_tampered_ledger(books):
    with connection.cursor() as cursor:
        cursor.execute("UPDATE ledger_ledgerhead SET hash = %s", ["e" * 64])
    assert tasks.write_checkpoint.delay().get() is None
    assert not LedgerCheckpoint.objects.exists()


@pytest.mark.postgres
def test_postgres_refuses_to_change_a_checkpoint(require_postgres, books, actor):
    checkpoint_write(actor=actor)
    with pytest.raises(IntegrityError, match="ledger rows are immutable"):  # noqa: SIM117
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("UPDATE ledger_ledgercheckpoint SET sequence = 1")


# --- Cost ---------------------------------------------------------------------------------------


def test_verification_runs_a_fixed_number_of_queries(actor, django_assert_max_num_queries):
    source = ledger_account(actor, "source")
    payee = ledger_account(actor, "payee")
    checkpoint_write(actor=actor)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            call_command("verify_ledger", stdout=StringIO())
        return len(queries)

    move(actor, "q0", source, payee, 1)
    move(actor, "q1", source, payee, 1)
    small = count()
    for n in range(2, 200):
        move(actor, f"q{n}", source, payee, 1 + n)
    with django_assert_max_num_queries(small):
        call_command("verify_ledger", stdout=StringIO())
    # checkpoints, transfers, postings, head, accounts; a savepoint and its release in a test
    assert small <= 7
    assert verify_ledger().transfers_checked == 200
