"""PostgreSQL itself refuses what the write path never writes: checks on every statement that
inserts transfers or postings (migrations 0008 and 0009), whatever client runs it."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from ledger.chain import GENESIS_HASH
from ledger.models import LedgerHead, Posting, Transfer, TransferKind
from tests.builders import ledger_account, move

pytestmark = pytest.mark.postgres


@pytest.fixture
def books(require_postgres: None, actor: Any) -> dict[str, Any]:
    source, payee = ledger_account(actor, "source"), ledger_account(actor, "payee")
    paid = move(actor, "paid", source, payee, 5_000)
    reserved = move(actor, "reserved", source, payee, 700, pending=True)
    return {"source": source, "payee": payee, "paid": paid, "reserved": reserved}


def _by_hand(actor: Any, books: dict[str, Any], **fields: Any) -> Transfer:
    """A posted transfer written with the ORM at the head of the chain (unless told otherwise),
    without its postings."""
    head = LedgerHead.objects.get()
    values: dict[str, Any] = {
        "sequence": head.sequence + 1,
        "idempotency_key": "by-hand",
        "kind": TransferKind.POSTED,
        "debit_account": books["source"],
        "credit_account": books["payee"],
        "amount_minor": 50,
        "currency": "USD",
        "created_by": actor,
        "created_at": timezone.now(),
        "payload_digest": "x" * 64,
        "prev_hash": head.hash,
        "hash": "f" * 64,
    }
    values.update(fields)
    transfer = Transfer(**values)
    transfer.save()
    return transfer


def _legs(transfer: Transfer, *legs: tuple[Any, str, int, str]) -> None:
    """Insert the given legs (account, side, amount, currency) in one statement."""
    Posting.objects.bulk_create(
        [
            Posting(
                transfer=transfer,
                account=account,
                side=side,
                phase="posted",
                amount_minor=amount,
                currency=currency,
            )
            for account, side, amount, currency in legs
        ]
    )


def _refused(match: str) -> Any:
    return pytest.raises(IntegrityError, match=match)


def test_a_transfer_written_at_the_head_with_balanced_legs_is_accepted(
    actor: Any, books: dict[str, Any]
) -> None:
    with transaction.atomic():
        transfer = _by_hand(actor, books)
        _legs(
            transfer, (books["source"], "debit", 50, "USD"), (books["payee"], "credit", 50, "USD")
        )
    assert Posting.objects.filter(transfer=transfer).count() == 2


def test_a_transfer_not_linked_to_the_one_before_is_refused(
    actor: Any, books: dict[str, Any]
) -> None:
    with _refused("previous hash is not the hash of"), transaction.atomic():
        _by_hand(actor, books, prev_hash="e" * 64)


def test_a_transfer_that_skips_a_sequence_number_is_refused(
    actor: Any, books: dict[str, Any]
) -> None:
    head = LedgerHead.objects.get()
    with _refused(f"transfer #{head.sequence + 2} refused"), transaction.atomic():
        _by_hand(actor, books, sequence=head.sequence + 2)


def test_the_first_transfer_links_to_the_genesis_hash(require_postgres: None, actor: Any) -> None:
    books = {"source": ledger_account(actor, "a"), "payee": ledger_account(actor, "b")}
    LedgerHead.objects.get_or_create(id=1)
    with _refused("transfer #1 refused"), transaction.atomic():
        _by_hand(actor, books, prev_hash="1" * 64)
    with transaction.atomic():
        _by_hand(actor, books, prev_hash=GENESIS_HASH)


def test_a_resolution_or_reversal_must_name_an_earlier_transfer(
    actor: Any, books: dict[str, Any]
) -> None:
    with _refused("the pending transfer it resolves is not before it"), transaction.atomic():
        _by_hand(actor, books, kind=TransferKind.VOID_PENDING, pending_id=10**9)
    with _refused("the transfer it reverses is not before it"), transaction.atomic():
        _by_hand(actor, books, reverses_id=10**9)
    with transaction.atomic():
        _by_hand(actor, books, kind=TransferKind.VOID_PENDING, pending=books["reserved"])


def test_a_posting_of_a_transfer_that_does_not_exist_is_refused(books: dict[str, Any]) -> None:
    with _refused("transfer .* does not exist"), transaction.atomic(), connection.cursor() as c:
        c.execute(
            "INSERT INTO ledger_posting (transfer_id, account_id, side, phase, amount_minor,"
            " currency) VALUES (%s, %s, 'debit', 'posted', 5, 'USD'),"
            " (%s, %s, 'credit', 'posted', 5, 'USD')",
            [10**9, books["source"].pk, 10**9, books["payee"].pk],
        )


def test_a_posting_on_an_account_not_of_its_transfer_is_refused(
    actor: Any, books: dict[str, Any]
) -> None:
    other = ledger_account(actor, "other")
    with _refused("not on an account of transfer"), transaction.atomic():
        transfer = _by_hand(actor, books)
        _legs(transfer, (books["source"], "debit", 50, "USD"), (other, "credit", 50, "USD"))


def test_a_posting_in_another_currency_than_its_transfer_is_refused(
    actor: Any, books: dict[str, Any]
) -> None:
    with _refused("not on an account of transfer"), transaction.atomic():
        transfer = _by_hand(actor, books)
        _legs(
            transfer, (books["source"], "debit", 50, "EUR"), (books["payee"], "credit", 50, "EUR")
        )


def test_the_legs_of_a_transfer_are_written_balanced_by_one_statement(
    actor: Any, books: dict[str, Any]
) -> None:
    """Each statement's legs must balance per transfer: one leg now and its mirror in a later
    statement is refused at the first (postings are append-only, so nothing unbalanced can be
    committed)."""
    with _refused("unbalanced transfer"), transaction.atomic():
        transfer = _by_hand(actor, books)
        _legs(transfer, (books["source"], "debit", 50, "USD"))
        _legs(transfer, (books["payee"], "credit", 50, "USD"))
    assert not Transfer.objects.filter(idempotency_key="by-hand").exists()
