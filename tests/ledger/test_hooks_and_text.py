"""The `transfer.posted` hook (listeners told inside the writer's transaction, once per posted
transfer, never for a rolled-back one) and text PostgreSQL cannot store, refused up front."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from django.db import transaction
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from core import events
from integrations.models import Event, Subscription
from ledger import services as ledger
from ledger.models import Account, Transfer
from tests.builders import ledger_account, move
from tests.integrations.conftest import ALL_SCOPES, register_client

pytestmark = pytest.mark.django_db

SURROGATE = "\ud800"


@pytest.fixture
def heard() -> Iterator[list[list[int]]]:
    """The sequence numbers each listener call was given."""
    calls: list[list[int]] = []

    def listener(transfers: Sequence[Transfer]) -> None:
        calls.append([t.sequence for t in transfers])

    events.subscribe(events.TRANSFERS_POSTED, listener)
    try:
        yield calls
    finally:
        events.unsubscribe(events.TRANSFERS_POSTED, listener)


def test_each_write_path_tells_the_listeners_of_what_it_posted(actor: Any, heard: Any) -> None:
    source, fund = ledger_account(actor, "SRC"), ledger_account(actor, "FND")
    one = move(actor, "h-1", source, fund, 500)
    assert heard == [[one.sequence]]
    move(actor, "h-1", source, fund, 500)  # a replay writes nothing and tells no one
    held = move(actor, "h-2", source, fund, 700, pending=True)
    assert len(heard) == 1  # a reservation moves no posted money
    posted = ledger.transfer_post_pending(actor=actor, idempotency_key="h-3", pending_id=held.pk)
    assert heard[-1] == [posted.sequence]
    batch = ledger.transfers_create(
        actor=actor,
        specs=[
            ledger.TransferSpec(
                idempotency_key=f"h-b{i}",
                debit_account_id=source.pk,
                credit_account_id=fund.pk,
                amount_minor=100 + i,
                currency="USD",
                pending=i == 2,
            )
            for i in range(3)
        ],
    )
    assert heard[-1] == [batch[0].sequence, batch[1].sequence]
    reversal = ledger.transfer_reverse(actor=actor, idempotency_key="h-r", transfer_id=one.pk)
    assert heard[-1] == [reversal.sequence]
    held2 = move(actor, "h-4", source, fund, 300, pending=True)
    calls = len(heard)
    ledger.transfer_void_pending(actor=actor, idempotency_key="h-5", pending_id=held2.pk)
    assert len(heard) == calls


def test_a_listener_that_raises_refuses_the_write(actor: Any) -> None:
    source, fund = ledger_account(actor, "SRC"), ledger_account(actor, "FND")

    def refuse(transfers: Sequence[Transfer]) -> None:
        raise RuntimeError("no")

    events.subscribe(events.TRANSFERS_POSTED, refuse)
    try:
        with pytest.raises(RuntimeError):
            move(actor, "r-1", source, fund, 500)
    finally:
        events.unsubscribe(events.TRANSFERS_POSTED, refuse)
    assert not Transfer.objects.filter(idempotency_key="r-1").exists()
    assert Account.objects.get(pk=fund.pk).credits_posted == 0


@pytest.fixture
def subscribed(finance_officer: Any) -> Subscription:
    client = register_client(finance_officer, ALL_SCOPES, name="books")
    return Subscription.objects.create(
        client=client.api_client,
        event_types=["transfer.posted"],
        target_url="https://receiver.example/hook",
    )


def test_a_posted_transfer_gives_one_outbox_event_and_a_rolled_back_one_none(
    actor: Any, subscribed: Subscription
) -> None:
    source, fund = ledger_account(actor, "SRC"), ledger_account(actor, "FND")
    posted = move(actor, "e-1", source, fund, 500)
    (event,) = Event.objects.filter(type="transfer.posted")
    assert event.payload["sequence"] == posted.sequence
    assert (event.payload["debit_account"], event.payload["credit_account"]) == ("SRC", "FND")
    assert event.deliveries.count() == 1
    move(actor, "e-1", source, fund, 500)  # the retry: same transfer, no second event
    assert Event.objects.filter(type="transfer.posted").count() == 1

    def fails_after_the_ledger_wrote() -> None:
        with transaction.atomic():
            move(actor, "e-2", source, fund, 800)
            raise RuntimeError("the caller fails after the ledger wrote")

    with pytest.raises(RuntimeError):
        fails_after_the_ledger_wrote()
    assert not Transfer.objects.filter(idempotency_key="e-2").exists()
    assert Event.objects.filter(type="transfer.posted").count() == 1


@pytest.mark.parametrize(
    "field", ["idempotency_key", "memo", "reference"], ids=["key", "memo", "reference"]
)
def test_text_postgres_cannot_store_is_refused_before_the_write(actor: Any, field: str) -> None:
    source, fund = ledger_account(actor, "SRC"), ledger_account(actor, "FND")
    values = {"idempotency_key": "t-1", "memo": "", "reference": ""}
    values[field] = f"bad {SURROGATE} text"
    with pytest.raises(ledger.LedgerError) as refused:
        ledger.transfer_create(
            actor=actor,
            debit_account_id=source.pk,
            credit_account_id=fund.pk,
            amount_minor=100,
            currency="USD",
            **values,
        )
    assert refused.value.code == "invalid_text"
    assert "cannot be stored" in refused.value.messages[0]
    spec = ledger.TransferSpec(
        idempotency_key="b-0",
        debit_account_id=source.pk,
        credit_account_id=fund.pk,
        amount_minor=100,
        currency="USD",
    )
    bad = ledger.TransferSpec(**{**spec.__dict__, **values, "idempotency_key": "b-1"})
    if field == "idempotency_key":
        bad = ledger.TransferSpec(**{**spec.__dict__, "idempotency_key": values[field]})
    with pytest.raises(ledger.LedgerError) as in_batch:
        ledger.transfers_create(actor=actor, specs=[spec, bad])
    assert in_batch.value.code == "invalid_text"
    assert in_batch.value.messages[0].startswith("Item 1:")
    assert Transfer.objects.count() == 0
    # The transaction is still usable: nothing reached the database.
    assert move(actor, "ok", source, fund, 100).sequence == 1


def test_a_nul_and_surrogates_elsewhere_are_refused_too(actor: Any) -> None:
    source, fund = ledger_account(actor, "SRC"), ledger_account(actor, "FND")
    held = move(actor, "p-1", source, fund, 100, pending=True)
    for call in (
        lambda: ledger.transfer_post_pending(
            actor=actor, idempotency_key="p-2", pending_id=held.pk, memo=SURROGATE
        ),
        lambda: ledger.transfer_void_pending(
            actor=actor, idempotency_key=f"p-3{SURROGATE}", pending_id=held.pk
        ),
        lambda: ledger.transfer_reverse(
            actor=actor, idempotency_key="p-4", transfer_id=held.pk, memo="a\x00b"
        ),
        lambda: ledger_account(actor, f"ACC{SURROGATE}"),
    ):
        with pytest.raises(ledger.LedgerError) as refused:
            call()
        assert refused.value.code == "invalid_text"
    assert Transfer.objects.count() == 1
    assert ledger.text_is_storable("Zoë 支付 ✓")


def test_the_api_refuses_such_text_with_a_clear_error(finance_officer: Any, actor: Any) -> None:
    fund = ledger_account(actor, "FUND")
    ledger_account(actor, "PAYEE")
    move(actor, "seed", ledger_account(actor, "SRC"), fund, 10_000)
    token, _ = Token.objects.get_or_create(user=finance_officer)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    item = {
        "idempotency_key": "api-1",
        "debit_account": "FUND",
        "credit_account": "PAYEE",
        "amount_minor": 100,
        "currency": "USD",
    }
    # JSON carries a lone surrogate as an escape (json.dumps writes "\\ud800").
    for field in ("memo", "idempotency_key", "debit_account"):
        body = json.dumps({**item, field: f"x{SURROGATE}"})
        response = api.post("/api/v1/ledger/transfers/", body, content_type="application/json")
        assert response.status_code == 400, (field, response.content)
        error = response.json()["error"]
        assert error["code"] == "invalid"
        assert "cannot be stored" in error["fields"][field][0]
    batch = {"transfers": [item, {**item, "idempotency_key": "api-2", "memo": SURROGATE}]}
    refused = api.post(
        "/api/v1/ledger/transfers/", json.dumps(batch), content_type="application/json"
    )
    assert refused.status_code == 400
    assert "cannot be stored" in str(refused.json()["error"]["fields"])
    listed = api.get("/api/v1/ledger/transfers/", {"reference": "a\x00b"})
    assert listed.status_code == 400
    assert api.get("/api/v1/ledger/accounts/A%00B/").status_code in (400, 404)
    assert not Transfer.objects.filter(idempotency_key__startswith="api-").exists()
