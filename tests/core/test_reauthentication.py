"""Approving a large case, registering an API client and changing bank details ask for the
password again when the last one is older than the reauthentication window: a stale session is
sent to reauthenticate with nothing changed, and the kept request goes through after."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from core.models import SecurityEvent, SecurityEventKind
from governance.models import CaseStatus
from integrations.models import ApiClient
from ledger.models import BankAccount, BankAccountType, HolderKind
from tests.builders import pending_approval, reauthenticate
from tests.factories import UserFactory
from tests.ledger.test_clearing import participant

pytestmark = pytest.mark.django_db


def _sent_to_reauthenticate(response: Any) -> bool:
    return response.status_code == 302 and response["Location"].startswith(
        reverse("account_reauthenticate")
    )


@pytest.fixture
def large_case(civilian: Any, reviewer: Any, rent_help: Any, settings: Any) -> Any:
    settings.HMS_GOVERNANCE_REAUTHENTICATE_ABOVE_MINOR = 100_000
    return pending_approval(civilian, reviewer, rent_help, amount_minor=200_000)[1]


def _status(case: Any) -> str:
    return type(case).objects.values_list("status", flat=True).get(pk=case.pk)


def test_approving_above_the_threshold_asks_a_stale_session_to_reauthenticate(
    client: Client, supervisor: Any, large_case: Any
) -> None:
    client.force_login(supervisor)
    url = f"/workflow/cases/{large_case.pk}/"
    response = client.post(url, {"outcome": "approve", "reason": "Verified the lease"})
    assert _sent_to_reauthenticate(response)
    assert _status(large_case) == CaseStatus.OPEN

    # The password again: allauth replays the kept approval.
    response = client.post(
        f"{reverse('account_reauthenticate')}?next={url}", {"password": "correct-horse-battery"}
    )
    assert _status(large_case) == CaseStatus.APPROVED
    assert SecurityEvent.objects.filter(
        user=supervisor, kind=SecurityEventKind.REAUTHENTICATED
    ).exists()


def test_approving_above_the_threshold_after_reauthenticating_goes_straight_through(
    client: Client, supervisor: Any, large_case: Any
) -> None:
    client.force_login(supervisor)
    reauthenticate(client)
    response = client.post(
        f"/workflow/cases/{large_case.pk}/", {"outcome": "approve", "reason": "Verified"}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("governance:inbox")
    assert _status(large_case) == CaseStatus.APPROVED


@pytest.mark.parametrize("outcome", ["reject", "approve-small"])
def test_rejecting_or_approving_small_amounts_needs_no_reauthentication(
    client: Client, supervisor: Any, civilian: Any, reviewer: Any, rent_help: Any, outcome: str
) -> None:
    amount = 200_000 if outcome == "reject" else 50_000
    case = pending_approval(civilian, reviewer, rent_help, amount_minor=amount)[1]
    client.force_login(supervisor)
    response = client.post(
        f"/workflow/cases/{case.pk}/", {"outcome": outcome.split("-")[0], "reason": "Checked"}
    )
    assert response.status_code == 302
    assert not _sent_to_reauthenticate(response)


CLIENT_FORM = {"name": "Case system", "scopes": ["requests:read"], "rate": "120/min"}


def test_registering_an_api_client_asks_a_stale_session_to_reauthenticate(
    client: Client, reviewer: Any
) -> None:
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    form = {**CLIENT_FORM, "acting_username": reviewer.username}
    response = client.post(reverse("admin:integrations_apiclient_add"), form)
    assert _sent_to_reauthenticate(response)
    assert not ApiClient.objects.exists()

    reauthenticate(client)
    response = client.post(reverse("admin:integrations_apiclient_add"), form)
    assert response.status_code == 302
    assert ApiClient.objects.count() == 1


def _bank_form(account: Any) -> dict[str, Any]:
    return {
        "account": account.pk,
        "holder_name": "Dave",
        "holder_kind": HolderKind.INDIVIDUAL,
        "routing_number": "026009593",
        "account_number": "12345678",
        "account_type": BankAccountType.CHECKING,
    }


def test_changing_bank_details_asks_a_stale_session_to_reauthenticate(
    client: Client, finance_officer: Any, actor: Any
) -> None:
    account = participant(actor, "dave")
    client.force_login(finance_officer)
    response = client.post(reverse("admin:ledger_bankaccount_add"), _bank_form(account))
    assert _sent_to_reauthenticate(response)
    assert not BankAccount.objects.exists()
    # Reading the page needs nothing more.
    assert client.get(reverse("admin:ledger_bankaccount_add")).status_code == 200

    reauthenticate(client)
    response = client.post(reverse("admin:ledger_bankaccount_add"), _bank_form(account))
    assert response.status_code == 302
    assert BankAccount.objects.get(account=account).account_number == "12345678"


def test_reauthentication_expires_after_the_window(
    client: Client, finance_officer: Any, actor: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    account = participant(actor, "erin")
    client.force_login(finance_officer)
    reauthenticate(client)
    later = time.time() + 301
    monkeypatch.setattr(time, "time", lambda: later)
    response = client.post(reverse("admin:ledger_bankaccount_add"), _bank_form(account))
    assert _sent_to_reauthenticate(response)
    assert not BankAccount.objects.exists()
