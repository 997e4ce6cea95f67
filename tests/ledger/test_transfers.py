"""The ledger's invariants: balanced, immutable, idempotent, two-phase, limits, hash chain."""

from __future__ import annotations

import hashlib
import itertools

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import services
from ledger.models import (
    Account,
    ImmutableRowError,
    LedgerHead,
    Posting,
    Transfer,
    TransferKind,
)
from tests.builders import ledger_account, move


@pytest.fixture
def source(actor):  # type: ignore[no-untyped-def]
    return ledger_account(actor, "source")


@pytest.fixture
def fund(actor, source):  # type: ignore[no-untyped-def]
    """A limited account holding 1,000.00."""
    account = ledger_account(actor, "fund", limited=True)
    move(actor, "fund-it", source, account, 100_000)
    return account


@pytest.fixture
def payee(actor):  # type: ignore[no-untyped-def]
    return ledger_account(actor, "payee")


def _sums(account_id: int) -> dict[str, int]:
    totals = {"debits_pending": 0, "debits_posted": 0, "credits_pending": 0, "credits_posted": 0}
    for p in Posting.objects.filter(account_id=account_id):
        totals[f"{p.side}s_{p.phase}"] += p.amount_minor
    return totals


def _assert_totals_match_postings(*accounts: Account) -> None:
    for account in accounts:
        account.refresh_from_db()
        assert _sums(account.pk) == {
            "debits_pending": account.debits_pending,
            "debits_posted": account.debits_posted,
            "credits_pending": account.credits_pending,
            "credits_posted": account.credits_posted,
        }


def test_posted_transfer_moves_both_sides_and_balances(actor, fund, payee, source):
    transfer = move(actor, "t1", fund, payee, 12_345)
    fund.refresh_from_db()
    payee.refresh_from_db()
    assert (fund.debits_posted, fund.credits_posted) == (12_345, 100_000)
    assert payee.credits_posted == 12_345
    legs = list(transfer.postings.values_list("side", "amount_minor"))
    assert sorted(legs) == [("credit", 12_345), ("debit", 12_345)]
    _assert_totals_match_postings(fund, payee, source)


def test_transfer_between_currencies_is_refused_as_unbalanced(actor, payee):
    euros = ledger_account(actor, "euros", currency="EUR")
    with pytest.raises(services.LedgerError, match="Unbalanced transfer"):
        move(actor, "mixed", euros, payee, 100)
    assert not Transfer.objects.filter(idempotency_key="mixed").exists()
    assert Posting.objects.count() == 0


@pytest.mark.parametrize("amount", [0, -5, 10**15, 1.5, True, "100"])
def test_bad_amounts_are_refused(actor, fund, payee, amount):
    before = Transfer.objects.count()
    with pytest.raises(services.LedgerError, match="whole number of minor units"):
        move(actor, f"bad-{amount!r}", fund, payee, amount)
    assert Transfer.objects.count() == before


def test_limited_account_cannot_be_overdrawn_and_the_refusal_writes_nothing(actor, fund, payee):
    move(actor, "reserve", fund, payee, 90_000, pending=True)
    with pytest.raises(services.LedgerError, match="has 10000 available; the transfer needs 10001"):
        move(actor, "too-much", fund, payee, 10_001)
    fund.refresh_from_db()
    assert fund.available_minor == 10_000
    assert not Transfer.objects.filter(idempotency_key="too-much").exists()


def test_retry_with_same_key_returns_the_first_transfer_and_a_different_payload_is_refused(
    actor, fund, payee
):
    kwargs = {
        "actor": actor,
        "idempotency_key": "once",
        "debit_account_id": fund.pk,
        "credit_account_id": payee.pk,
        "amount_minor": 500,
        "currency": "USD",
    }
    first = services.transfer_create(**kwargs)
    again = services.transfer_create(**kwargs)
    assert again.pk == first.pk
    assert Transfer.objects.filter(idempotency_key="once").count() == 1
    with pytest.raises(services.LedgerError, match="already used for a different transfer"):
        services.transfer_create(**{**kwargs, "amount_minor": 501})
    payee.refresh_from_db()
    assert payee.credits_posted == 500


def test_pending_transfer_is_posted_in_part_once_and_then_neither_posted_nor_voided(
    actor, fund, payee
):
    pending = move(actor, "p", fund, payee, 40_000, pending=True)
    fund.refresh_from_db()
    assert fund.available_minor == 60_000
    posted = services.transfer_post_pending(
        actor=actor, idempotency_key="p-post", pending_id=pending.pk, amount_minor=30_000
    )
    assert posted.kind == TransferKind.POST_PENDING
    assert posted.pending_id == pending.pk
    fund.refresh_from_db()
    payee.refresh_from_db()
    # The unposted 100.00 of the reservation is released.
    assert (fund.debits_pending, fund.debits_posted, fund.available_minor) == (0, 30_000, 70_000)
    assert (payee.credits_pending, payee.credits_posted) == (0, 30_000)
    with pytest.raises(services.LedgerError, match="was already posted"):
        services.transfer_void_pending(actor=actor, idempotency_key="p-void", pending_id=pending.pk)
    with pytest.raises(services.LedgerError, match="was already posted"):
        services.transfer_post_pending(
            actor=actor, idempotency_key="p-post2", pending_id=pending.pk
        )
    _assert_totals_match_postings(fund, payee)


def test_posting_more_than_reserved_is_refused(actor, fund, payee):
    pending = move(actor, "p", fund, payee, 1_000, pending=True)
    with pytest.raises(services.LedgerError, match="reserved 1000"):
        services.transfer_post_pending(
            actor=actor, idempotency_key="p-post", pending_id=pending.pk, amount_minor=1_001
        )


def test_void_releases_the_reservation(actor, fund, payee):
    pending = move(actor, "p", fund, payee, 1_000, pending=True)
    services.transfer_void_pending(actor=actor, idempotency_key="v", pending_id=pending.pk)
    fund.refresh_from_db()
    payee.refresh_from_db()
    assert fund.available_minor == 100_000
    assert (payee.credits_pending, payee.credits_posted) == (0, 0)
    _assert_totals_match_postings(fund, payee)


def test_orm_refuses_to_change_or_delete_ledger_rows(actor, fund, payee):
    transfer = Transfer.objects.first()
    assert transfer is not None
    transfer.memo = "rewritten"
    with pytest.raises(ImmutableRowError):
        transfer.save()
    with pytest.raises(ImmutableRowError):
        transfer.delete()
    with pytest.raises(ImmutableRowError):
        Transfer.objects.filter(pk=transfer.pk).update(amount_minor=1)
    with pytest.raises(ImmutableRowError):
        Posting.objects.all().delete()
    assert Transfer.objects.get(pk=transfer.pk).memo != "rewritten"


def test_every_transfer_is_chained_to_the_one_before(actor, fund, payee):
    for n in range(3):
        move(actor, f"c{n}", fund, payee, 100 + n)
    chain = list(Transfer.objects.order_by("sequence"))
    assert [t.sequence for t in chain] == list(range(1, len(chain) + 1))
    assert chain[0].prev_hash == "0" * 64
    for before, after in itertools.pairwise(chain):
        assert after.prev_hash == before.hash
    assert len({t.hash for t in chain}) == len(chain)
    head = LedgerHead.objects.get()
    assert (head.sequence, head.hash) == (chain[-1].sequence, chain[-1].hash)
    assert all(len(t.hash) == len(hashlib.sha256().hexdigest()) for t in chain)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    moves=st.lists(
        st.tuples(
            st.integers(min_value=1, max_value=60_000),
            st.sampled_from(["posted", "pending", "post", "void"]),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_any_sequence_of_transfers_keeps_the_books_balanced_and_the_limit(
    actor, fund, payee, source, moves
):
    """Whatever is tried, the sum of all postings is zero per side and the fund never goes
    below zero available; refused moves leave no trace."""
    open_pending: list[int] = []
    refusals: list[str] = []
    for n, (amount, how) in enumerate(moves):
        key = f"h{Transfer.objects.count()}-{n}"
        try:
            if how in ("posted", "pending"):
                t = move(actor, key, fund, payee, amount, pending=how == "pending")
                if how == "pending":
                    open_pending.append(t.pk)
            elif open_pending:
                pending_id = open_pending.pop()
                if how == "post":
                    services.transfer_post_pending(
                        actor=actor, idempotency_key=key, pending_id=pending_id
                    )
                else:
                    services.transfer_void_pending(
                        actor=actor, idempotency_key=key, pending_id=pending_id
                    )
        except services.LedgerError as refused:
            refusals.append(refused.code)
        fund.refresh_from_db()
        assert fund.available_minor >= 0
        debits = sum(p.amount_minor for p in Posting.objects.filter(side="debit"))
        credits = sum(p.amount_minor for p in Posting.objects.filter(side="credit"))
        assert debits == credits
    assert set(refusals) <= {"exceeds_credits"}
    _assert_totals_match_postings(fund, payee, source)


# --- PostgreSQL refuses in the database itself -----------------------------------------------


@pytest.mark.postgres
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE ledger_transfer SET amount_minor = amount_minor + 1",
        "DELETE FROM ledger_transfer",
        "UPDATE ledger_posting SET amount_minor = 1",
        "DELETE FROM ledger_posting",
    ],
)
def test_postgres_refuses_raw_update_and_delete_of_posted_rows(
    require_postgres, actor, fund, payee, sql
):
    move(actor, "raw", fund, payee, 777)
    before = list(Transfer.objects.values_list("pk", "amount_minor").order_by("pk"))
    with pytest.raises(IntegrityError, match="ledger rows are immutable"):  # noqa: SIM117
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
    assert list(Transfer.objects.values_list("pk", "amount_minor").order_by("pk")) == before


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_postgres_refuses_to_commit_an_unbalanced_transfer(require_postgres, actor, fund, payee):
    """A transfer written by hand with a missing leg is refused (by the statement writing its
    legs, before any commit): nothing of it stays."""

    def write_one_leg_only() -> None:
        with transaction.atomic():
            head = LedgerHead.objects.select_for_update().get()
            transfer = Transfer(
                sequence=head.sequence + 1,
                idempotency_key="by-hand",
                kind=TransferKind.POSTED,
                debit_account=fund,
                credit_account=payee,
                amount_minor=50,
                currency="USD",
                created_by=actor,
                created_at=timezone.now(),
                payload_digest="x" * 64,
                prev_hash=head.hash,
                hash="f" * 64,
            )
            transfer.save()
            Posting.objects.create(
                transfer=transfer,
                account=fund,
                side="debit",
                phase="posted",
                amount_minor=50,
                currency="USD",
            )

    with pytest.raises(IntegrityError, match="unbalanced transfer"):
        write_one_leg_only()
    assert not Transfer.objects.filter(idempotency_key="by-hand").exists()
