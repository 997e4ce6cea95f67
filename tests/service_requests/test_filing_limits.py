"""How often a request may be filed: per account (10 an hour, 3 a minute) and per client
address, on the web form (steps and one page), the emailed link and the API for a person;
over a limit the filing is refused with the wait, and nothing is written."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail

from service_requests.filing_limits import FilingRefusal
from service_requests.models import RequestDraft, ServiceRequest
from tests.builders import filing_form
from tests.integrations.conftest import bearer, register_client

pytestmark = pytest.mark.usefixtures("fresh_rate_limits")

STEP = "/requests/new/{}/"
LIMITED = "You have filed several requests in a short time"


@pytest.fixture
def limits(settings):  # type: ignore[no-untyped-def]
    """The shipped limits, except the short window made as long as the hour's so that a test
    crossing a minute boundary does not reset it."""
    settings.HMS_REQUESTS_FILING_LIMIT_PER_ACCOUNT_SHORT = 3
    settings.HMS_REQUESTS_FILING_ACCOUNT_SHORT_WINDOW_SECONDS = 3600
    settings.HMS_REQUESTS_FILING_LIMIT_PER_ACCOUNT_LONG = 10
    settings.HMS_REQUESTS_FILING_LIMIT_PER_CLIENT = 30
    return settings


def _file_one_page(client, service_type, **extra):  # type: ignore[no-untyped-def]
    return client.post("/requests/new/", filing_form(service_type), **extra)


def _to_review(client, service_type) -> None:  # type: ignore[no-untyped-def]
    """Walk the filing steps up to the review page."""
    client.post(
        STEP.format("details"),
        {
            "service_type": str(service_type.pk),
            "description": "The stairs are loose.",
            "amount": "",
        },
    )
    client.post(STEP.format("documents"), {"attachments": []})
    client.post(
        STEP.format("contact"),
        {"contact_name": "Alice", "contact_email": "alice@example.test", "contact_phone": ""},
    )


def test_the_eleventh_filing_within_the_hour_is_refused_and_writes_nothing(
    client, limits, civilian, other_civilian, inspection
):
    limits.HMS_REQUESTS_FILING_LIMIT_PER_ACCOUNT_SHORT = 100
    client.force_login(civilian)
    for _ in range(10):
        assert _file_one_page(client, inspection).status_code == 302
    refused = _file_one_page(client, inspection)
    assert refused.status_code == 429
    assert LIMITED in refused.content.decode()
    assert re.search(r"file again in \d+ minutes?", refused.content.decode())
    assert 0 < int(refused["Retry-After"]) <= 3601
    assert ServiceRequest.objects.filter(requester=civilian).count() == 10
    # Another account (from another address) is not affected.
    client.force_login(other_civilian)
    assert _file_one_page(client, inspection, REMOTE_ADDR="10.9.8.7").status_code == 302
    assert ServiceRequest.objects.filter(requester=other_civilian).count() == 1


def test_the_fourth_filing_in_the_short_window_is_refused(client, limits, civilian, inspection):
    client.force_login(civilian)
    for _ in range(3):
        assert _file_one_page(client, inspection).status_code == 302
    assert _file_one_page(client, inspection).status_code == 429
    assert ServiceRequest.objects.count() == 3


def test_a_retry_of_a_filing_already_made_is_neither_counted_nor_refused(
    client, limits, civilian, inspection
):
    client.force_login(civilian)
    form = filing_form(inspection)
    for _ in range(5):
        assert client.post("/requests/new/", form).status_code == 302
    assert ServiceRequest.objects.count() == 1
    for _ in range(2):
        assert _file_one_page(client, inspection).status_code == 302
    assert ServiceRequest.objects.count() == 3


def test_the_review_step_is_refused_over_the_limit_and_the_draft_stays(
    client, limits, civilian, inspection
):
    limits.HMS_REQUESTS_FILING_LIMIT_PER_ACCOUNT_SHORT = 0
    client.force_login(civilian)
    _to_review(client, inspection)
    draft = RequestDraft.objects.get()
    refused = client.post(STEP.format("review"), {"submission_token": str(draft.submission_token)})
    assert refused.status_code == 429
    assert "Retry-After" in refused
    assert LIMITED in refused.content.decode()
    assert ServiceRequest.objects.count() == 0
    assert RequestDraft.objects.filter(pk=draft.pk).exists()


def test_filings_from_one_address_are_limited_whoever_files(
    client, limits, civilian, other_civilian, inspection
):
    limits.HMS_REQUESTS_FILING_LIMIT_PER_CLIENT = 2
    for user in (civilian, other_civilian):
        client.force_login(user)
        assert _file_one_page(client, inspection, REMOTE_ADDR="192.0.2.1").status_code == 302
    assert _file_one_page(client, inspection, REMOTE_ADDR="192.0.2.1").status_code == 429
    assert _file_one_page(client, inspection, REMOTE_ADDR="192.0.2.2").status_code == 302
    assert ServiceRequest.objects.count() == 3


def test_the_emailed_link_files_nothing_over_the_address_limit(
    client, limits, inspection, django_capture_on_commit_callbacks
):
    limits.HMS_REQUESTS_FILING_LIMIT_PER_CLIENT = 0
    _to_review(client, inspection)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(STEP.format("review"), {"email": "alice@example.test"})
    link = re.search(r"http://[^/\s]+(/requests/new/verify/[^/\s]+/)", mail.outbox[-1].body)
    assert link is not None
    users = get_user_model().objects.count()
    refused = client.post(link.group(1))
    assert refused.status_code == 429
    assert LIMITED in refused.content.decode()
    assert ServiceRequest.objects.count() == 0
    assert get_user_model().objects.count() == users  # no guest filer made


def test_the_api_refuses_a_person_over_the_limit_with_retry_after(
    client, limits, civilian, inspection
):
    limits.HMS_REQUESTS_FILING_LIMIT_PER_ACCOUNT_SHORT = 1
    client.force_login(civilian)
    payload = {
        "service_type": "inspection",
        "description": "The boiler leaks.",
        "contact_name": "Alice",
        "contact_email": "alice@example.test",
    }
    first = client.post(
        "/api/v1/requests/", payload, content_type="application/json", HTTP_IDEMPOTENCY_KEY="a"
    )
    assert first.status_code == 201, first.content
    again = client.post(
        "/api/v1/requests/", payload, content_type="application/json", HTTP_IDEMPOTENCY_KEY="b"
    )
    assert again.status_code == 429
    assert again.json()["error"]["code"] == "throttled"
    assert LIMITED in again.json()["error"]["message"]
    assert int(again["Retry-After"]) > 0
    assert ServiceRequest.objects.count() == 1


def test_an_oauth_client_files_under_its_own_rate_only(limits, civilian, inspection):
    limits.HMS_REQUESTS_FILING_LIMIT_PER_ACCOUNT_SHORT = 1
    limits.HMS_REQUESTS_FILING_LIMIT_PER_CLIENT = 1
    api = bearer(register_client(civilian, "requests:read requests:write"))
    payload = {
        "service_type": "inspection",
        "description": "The boiler leaks.",
        "contact_name": "Alice",
        "contact_email": "alice@example.test",
    }
    for key in ("a", "b", "c"):
        response = api.post("/api/v1/requests/", payload, format="json", HTTP_IDEMPOTENCY_KEY=key)
        assert response.status_code == 201, response.content
    assert ServiceRequest.objects.count() == 3


def test_the_refusal_says_how_long_to_wait() -> None:
    assert "in 1 minute." in FilingRefusal(retry_after=30).message
    assert "in 2 minutes." in FilingRefusal(retry_after=61).message
