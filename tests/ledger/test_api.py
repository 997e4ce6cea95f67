"""The ledger API: token authentication, finance-only writes, idempotency keys, refusal codes."""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from ledger.models import Account, Transfer
from tests.builders import ledger_account, move

URL = "/api/v1/ledger/transfers/"


def _client(user) -> APIClient:  # type: ignore[no-untyped-def]
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def books(actor):  # type: ignore[no-untyped-def]
    """A fund holding 1,000.00 (never overdrawn) and a payee."""
    source = ledger_account(actor, "SOURCE")
    fund = ledger_account(actor, "FUND", limited=True)
    move(actor, "fund-it", source, fund, 100_000)
    return fund, ledger_account(actor, "PAYEE")


def _item(key: str | None = "t-1", amount: int = 2_500, **extra):  # type: ignore[no-untyped-def]
    item = {"debit_account": "FUND", "credit_account": "PAYEE", "amount_minor": amount}
    item["currency"] = "USD"
    if key:
        item["idempotency_key"] = key
    return {**item, **extra}


def test_anonymous_and_staff_without_the_right_are_refused(client, reviewer, auditor, books):
    assert client.get(URL).status_code == 401
    response = _client(reviewer).post(URL, _item(), format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    # Auditors read, but do not move money.
    assert _client(auditor).get(URL).status_code == 200
    assert _client(auditor).post(URL, _item(), format="json").status_code == 403
    assert Transfer.objects.count() == 1


def test_finance_posts_a_transfer_and_a_retry_returns_it(finance_officer, books):
    api = _client(finance_officer)
    first = api.post(URL, _item(), format="json")
    assert first.status_code == 201, first.content
    body = first.json()
    assert (body["debit_account"], body["credit_account"], body["amount_minor"]) == (
        "FUND",
        "PAYEE",
        2_500,
    )
    again = api.post(URL, _item(), format="json")
    assert again.json()["sequence"] == body["sequence"]
    assert Transfer.objects.filter(idempotency_key="t-1").count() == 1
    conflict = api.post(URL, _item(amount=2_501), format="json")
    assert conflict.status_code == 409
    assert conflict.json()["error"]["code"] == "idempotency_conflict"
    assert Account.objects.get(code="PAYEE").credits_posted == 2_500
    assert Transfer.objects.get(idempotency_key="t-1").created_by == finance_officer


def test_the_idempotency_key_may_come_in_the_header(finance_officer, books):
    api = _client(finance_officer)
    response = api.post(URL, _item(key=None), format="json", HTTP_IDEMPOTENCY_KEY="hdr-7")
    assert response.status_code == 201
    assert response.json()["idempotency_key"] == "hdr-7"
    missing = api.post(URL, _item(key=None), format="json")
    assert missing.status_code == 400
    assert missing.json()["error"]["code"] == "invalid"
    assert "idempotency_key" in missing.json()["error"]["fields"]


def test_a_batch_is_all_or_none_and_names_the_item_that_failed(finance_officer, books):
    api = _client(finance_officer)
    batch = {"transfers": [_item("b-0", 40_000), _item("b-1", 40_000), _item("b-2", 30_000)]}
    refused = api.post(URL, batch, format="json")
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "exceeds_credits"
    assert refused.json()["error"]["index"] == 2
    assert not Transfer.objects.filter(idempotency_key__startswith="b-").exists()
    done = api.post(URL, {"transfers": batch["transfers"][:2]}, format="json")
    assert done.status_code == 201
    assert [t["idempotency_key"] for t in done.json()] == ["b-0", "b-1"]
    keyed = api.post(
        URL,
        {"transfers": [_item(None, 10), _item(None, 20)]},
        format="json",
        HTTP_IDEMPOTENCY_KEY="batch-9",
    )
    assert [t["idempotency_key"] for t in keyed.json()] == ["batch-9:0", "batch-9:1"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (_item(amount=0), "amount_minor"),
        (_item(amount=-5), "amount_minor"),
        (_item(amount="12.50"), "amount_minor"),
        (_item(currency="usd"), "currency"),
        (_item(debit_account="NOPE"), "accounts"),
        ({"transfers": []}, "transfers"),
    ],
)
def test_malformed_input_is_refused_with_the_field_named(finance_officer, books, payload, field):
    response = _client(finance_officer).post(URL, payload, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert Transfer.objects.count() == 1


def test_transfers_and_balances_are_readable_with_fixed_queries(
    finance_officer, books, actor, django_assert_max_num_queries
):
    fund, payee = books
    for n in range(12):
        move(actor, f"r-{n}", fund, payee, 100 + n)
    api = _client(finance_officer)
    with django_assert_max_num_queries(6):
        page = api.get(URL, {"account": "PAYEE"})
    assert page.status_code == 200
    assert len(page.json()["results"]) == 12
    account = api.get("/api/v1/ledger/accounts/FUND/").json()
    assert account["available_minor"] == 100_000 - sum(100 + n for n in range(12))
    assert api.get("/api/v1/ledger/accounts/NOPE/").json()["error"]["code"] == "not_found"


def test_the_schema_and_its_docs_are_served(client, finance_officer):
    client.force_login(finance_officer)
    schema = client.get("/api/v1/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/ledger/transfers/" in schema.content
    assert client.get("/api/v1/docs/").status_code == 200
