"""A broken hash chain met on a request's write path answers 503 with a clear message, on a
page and in the API, writes nothing and alerts staff; it used to be a 500 (on PostgreSQL, the
database's chain check raised an IntegrityError out of the view).

The tampering changes the stored hash of the last transfer with raw SQL, as someone with
database access would (`test_verify._tampering` switches the append-only triggers off inside
the test's transaction on PostgreSQL).
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, hotp_value
from django.core import mail
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from ledger import services as ledger
from ledger.models import OwnerKind, Transfer
from tests.builders import ledger_account, move
from tests.ledger.test_verify import _tampering

pytestmark = pytest.mark.django_db

MESSAGE = "The ledger failed its integrity check; staff have been alerted; no money moved."
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@pytest.fixture
def books(actor: Any, civilian: Any, other_civilian: Any) -> dict[str, Any]:
    """A fund paying Alice 500.00; then the last transfer's stored hash is changed."""
    source = ledger_account(actor, "SOURCE")
    fund = ledger_account(actor, "FUND", limited=True)
    move(actor, "fund-it", source, fund, 100_000)

    def payee(user: Any, name: str) -> Any:
        return ledger.payee_account_for(
            actor=actor,
            owner_kind=OwnerKind.CIVILIAN,
            owner_ref=str(user.pk),
            name=name,
            currency="USD",
        )

    alice, bob = payee(civilian, "Payable to Alice"), payee(other_civilian, "Payable to Bob")
    last = move(actor, "grant-alice", fund, alice, 50_000)
    with _tampering("ledger_transfer") as cursor:
        cursor.execute("UPDATE ledger_transfer SET hash = %s WHERE id = %s", ["f" * 64, last.pk])
    return {"fund": fund, "alice": alice, "bob": bob}


def test_the_write_path_refuses_to_chain_onto_a_broken_head(
    actor: Any, books: dict[str, Any]
) -> None:
    before = Transfer.objects.count()
    with pytest.raises(ledger.LedgerIntegrityError, match="hash chain is broken"):
        move(actor, "after-tamper", books["fund"], books["alice"], 100)
    assert Transfer.objects.count() == before


def test_the_api_answers_503_with_the_message(
    finance_officer: Any, books: dict[str, Any], settings: Any
) -> None:
    settings.ADMINS = [("Ops", "ops@example.org")]
    token, _ = Token.objects.get_or_create(user=finance_officer)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    before = Transfer.objects.count()
    item = {
        "debit_account": "FUND",
        "credit_account": "SOURCE",
        "amount_minor": 100,
        "currency": "USD",
        "idempotency_key": "after-tamper",
    }
    response = api.post("/api/v1/ledger/transfers/", item, format="json")
    assert response.status_code == 503
    assert response.json() == {"error": {"code": "ledger_integrity", "message": MESSAGE}}
    assert Transfer.objects.count() == before
    assert "[Django] The ledger failed its integrity check" in [m.subject for m in mail.outbox]


def test_the_portfolio_page_answers_503_with_the_message(
    client: Any, civilian: Any, books: dict[str, Any]
) -> None:
    TOTP.activate(civilian, SECRET)
    client.force_login(civilian)
    before = Transfer.objects.count()
    response = client.post(
        "/portfolio/",
        {
            "idempotency_key": "k" * 32,
            "from_account": books["alice"].pk,
            "payee": "",
            "account_code": books["bob"].code,
            "amount": "25.00",
            "memo": "rent share",
            "code": format_hotp_value(hotp_value(SECRET, int(time.time()) // 30)),
        },
    )
    assert response.status_code == 503
    assert MESSAGE in response.content.decode()
    assert Transfer.objects.count() == before
