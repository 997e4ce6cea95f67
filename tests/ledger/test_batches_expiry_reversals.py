"""Atomic batches, expiring reservations and reversing transfers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from ledger import services
from ledger.models import Transfer, TransferKind
from ledger.tasks import void_expired_pending
from tests.builders import ledger_account, move


@pytest.fixture
def books(actor):  # type: ignore[no-untyped-def]
    """A fund holding 1,000.00 (never overdrawn) and two payees."""
    source = ledger_account(actor, "source")
    fund = ledger_account(actor, "fund", limited=True)
    move(actor, "fund-it", source, fund, 100_000)
    return fund, ledger_account(actor, "payee-a"), ledger_account(actor, "payee-b")


def _spec(key: str, debit, credit, amount: int, **extra) -> services.TransferSpec:  # type: ignore[no-untyped-def]
    return services.TransferSpec(
        idempotency_key=key,
        debit_account_id=debit.pk,
        credit_account_id=credit.pk,
        amount_minor=amount,
        currency="USD",
        **extra,
    )


def test_a_batch_is_written_whole_or_not_at_all(actor, books):
    fund, a, b = books
    before = Transfer.objects.count()
    specs = [
        _spec("b1", fund, a, 40_000),
        _spec("b2", fund, b, 40_000),
        _spec("b3", fund, a, 30_000),
    ]
    with pytest.raises(services.LedgerError, match="Item 2: Account fund has 20000") as refused:
        services.transfers_create(actor=actor, specs=specs)
    assert refused.value.code == "exceeds_credits"
    assert Transfer.objects.count() == before
    fund.refresh_from_db()
    assert fund.available_minor == 100_000

    written = services.transfers_create(actor=actor, specs=specs[:2])
    again = services.transfers_create(actor=actor, specs=specs[:2])
    assert [t.pk for t in again] == [t.pk for t in written]
    assert [t.sequence for t in written] == [before + 1, before + 2]
    fund.refresh_from_db()
    assert fund.available_minor == 20_000


def test_a_batch_larger_than_the_limit_is_refused(actor, books):
    fund, a, _ = books
    specs = [_spec(f"x{n}", fund, a, 1) for n in range(services.MAX_BATCH + 1)]
    with pytest.raises(services.LedgerError) as refused:
        services.transfers_create(actor=actor, specs=specs)
    assert refused.value.code == "batch_too_large"


def test_expiry_belongs_to_pending_transfers_in_the_future(actor, books):
    fund, a, _ = books
    soon = timezone.now() + timedelta(hours=1)
    with pytest.raises(services.LedgerError) as refused:
        services.transfer_create(
            actor=actor,
            idempotency_key="e1",
            debit_account_id=fund.pk,
            credit_account_id=a.pk,
            amount_minor=100,
            currency="USD",
            expires_at=soon,
        )
    assert refused.value.code == "expiry_not_pending"
    with pytest.raises(services.LedgerError) as refused:
        services.transfer_create(
            actor=actor,
            idempotency_key="e2",
            debit_account_id=fund.pk,
            credit_account_id=a.pk,
            amount_minor=100,
            currency="USD",
            pending=True,
            expires_at=timezone.now() - timedelta(seconds=1),
        )
    assert refused.value.code == "expiry_in_past"


def test_an_expired_reservation_cannot_be_posted_and_beat_voids_it_once(actor, books, monkeypatch):
    fund, a, _ = books
    pending = services.transfer_create(
        actor=actor,
        idempotency_key="p",
        debit_account_id=fund.pk,
        credit_account_id=a.pk,
        amount_minor=25_000,
        currency="USD",
        pending=True,
        expires_at=timezone.now() + timedelta(minutes=5),
    )
    later = timezone.now() + timedelta(minutes=10)
    monkeypatch.setattr(timezone, "now", lambda: later)
    with pytest.raises(services.LedgerError) as refused:
        services.transfer_post_pending(actor=actor, idempotency_key="p-post", pending_id=pending.pk)
    assert refused.value.code == "pending_expired"
    assert void_expired_pending() == 1
    assert void_expired_pending() == 0
    void = Transfer.objects.get(pending=pending)
    assert void.kind == TransferKind.VOID_PENDING
    fund.refresh_from_db()
    a.refresh_from_db()
    assert fund.available_minor == 100_000
    assert (a.credits_pending, a.credits_posted) == (0, 0)


def test_a_reversal_restores_the_balances_once(actor, books):
    fund, a, _ = books
    paid = move(actor, "pay", fund, a, 30_000)
    reversal = services.transfer_reverse(actor=actor, idempotency_key="undo", transfer_id=paid.pk)
    assert (reversal.debit_account_id, reversal.credit_account_id) == (a.pk, fund.pk)
    assert reversal.reverses_id == paid.pk
    assert reversal.reference == paid.reference
    fund.refresh_from_db()
    a.refresh_from_db()
    assert fund.available_minor == 100_000
    assert a.posted_balance_minor == 0
    retry = services.transfer_reverse(actor=actor, idempotency_key="undo", transfer_id=paid.pk)
    assert retry.pk == reversal.pk
    with pytest.raises(services.LedgerError) as refused:
        services.transfer_reverse(actor=actor, idempotency_key="undo-2", transfer_id=paid.pk)
    assert refused.value.code == "already_reversed"
    assert "already reversed by #" in refused.value.messages[0]


def test_only_posted_money_can_be_reversed(actor, books):
    fund, a, _ = books
    pending = services.transfer_create(
        actor=actor,
        idempotency_key="p",
        debit_account_id=fund.pk,
        credit_account_id=a.pk,
        amount_minor=1_000,
        currency="USD",
        pending=True,
    )
    with pytest.raises(services.LedgerError) as refused:
        services.transfer_reverse(actor=actor, idempotency_key="r", transfer_id=pending.pk)
    assert refused.value.code == "not_reversible"
    posted = services.transfer_post_pending(
        actor=actor, idempotency_key="p-post", pending_id=pending.pk, amount_minor=600
    )
    reversal = services.transfer_reverse(actor=actor, idempotency_key="r2", transfer_id=posted.pk)
    assert reversal.amount_minor == 600


def test_an_expiry_given_in_another_time_zone_verifies(actor, books):
    """The chain hashes times in UTC, as the database returns them."""
    from zoneinfo import ZoneInfo

    from ledger.verify import verify_ledger

    fund, a, _ = books
    new_york = (timezone.now() + timedelta(days=1)).astimezone(ZoneInfo("America/New_York"))
    services.transfer_create(
        actor=actor,
        idempotency_key="tz",
        debit_account_id=fund.pk,
        credit_account_id=a.pk,
        amount_minor=100,
        currency="USD",
        pending=True,
        expires_at=new_york,
    )
    assert verify_ledger().ok
