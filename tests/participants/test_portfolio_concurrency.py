"""Two confirmations of one form at the same moment (a double click reaching two web processes)
move money once, on PostgreSQL with real concurrent transactions."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection

from ledger import services as ledger
from ledger.models import Account, OwnerKind, Transfer
from participants.services import transfers
from tests.builders import ledger_account, move


@pytest.mark.django_db(transaction=True)
def test_concurrent_confirmations_of_one_form_write_one_transfer(
    require_postgres: Any, actor: Any, civilian: Any, other_civilian: Any
) -> None:
    def payee(user: Any) -> Account:
        return ledger.payee_account_for(
            actor=actor,
            owner_kind=OwnerKind.CIVILIAN,
            owner_ref=str(user.pk),
            name="Payee",
            currency="USD",
        )

    alice, bob = payee(civilian), payee(other_civilian)
    move(actor, "grant", ledger_account(actor, "FUND"), alice, 10_000)
    codes = iter([True])  # the authenticator accepts its code once
    lock = threading.Lock()

    def second_factor() -> bool:
        with lock:
            return next(codes, False)

    start = threading.Barrier(2)
    outcomes: list[Any] = []

    def confirm() -> None:
        try:
            start.wait()
            outcomes.append(
                transfers.participant_transfer_make(
                    actor=civilian,
                    idempotency_key="double-click",
                    debit_account_id=alice.pk,
                    credit_account_code=bob.code,
                    amount_minor=2_000,
                    second_factor=second_factor,
                )
            )
        except Exception as error:
            outcomes.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=confirm) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert all(isinstance(o, transfers.TransferOutcome) for o in outcomes), outcomes
    assert sorted(o.replayed for o in outcomes) == [False, True]
    assert outcomes[0].transfer.pk == outcomes[1].transfer.pk
    assert Transfer.objects.filter(credit_account=bob).count() == 1
    assert Account.objects.get(pk=bob.pk).credits_posted == 2_000
