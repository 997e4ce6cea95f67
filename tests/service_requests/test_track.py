"""/track/: a request found by its tracking number and the email it was filed with, without an
account; rate limited; silent about which tracking numbers exist."""

from __future__ import annotations

import statistics
import time

import pytest

from service_requests.selectors import request_for_tracking
from tests.builders import submitted

TRACK = "/track/"
NOT_FOUND = "We could not find a request with that tracking number and email address."


pytestmark = pytest.mark.usefixtures("fresh_rate_limits")


@pytest.fixture
def filed(civilian, inspection):  # type: ignore[no-untyped-def]
    return submitted(civilian, inspection)


def _lookup(client, tracking_number, email, **extra):  # type: ignore[no-untyped-def]
    return client.post(TRACK, {"tracking_number": tracking_number, "email": email}, **extra)


def test_the_form_renders_for_anyone(client):
    page = client.get(TRACK)
    assert page.status_code == 200
    assert "Tracking number" in page.content.decode()
    assert page["Cache-Control"].startswith("max-age=0")


def test_the_right_number_and_email_show_the_request_without_an_account(client, filed):
    response = _lookup(client, filed.tracking_number, filed.contact_email)
    assert response.status_code == 302
    assert response["Location"] == f"/requests/{filed.tracking_number}/"
    page = client.get(response["Location"])
    assert page.status_code == 200
    text = page.content.decode()
    assert filed.tracking_number in text
    assert "We have your request. It is waiting for a reviewer." in text
    # Read-only: no forms to act on it.
    assert "/withdraw/" not in text
    assert "sign in" in text


def test_the_email_is_matched_without_case_or_spaces(client, filed):
    response = _lookup(client, filed.tracking_number.lower(), f"  {filed.contact_email.upper()} ")
    assert response.status_code == 302


def test_the_account_email_works_too(client, civilian, inspection):
    from service_requests import services

    request, _ = services.request_submit(
        actor=civilian,
        service_type=inspection,
        description="The stairs to the basement are loose.",
        contact_name="Alice",
        contact_email="other-contact@example.test",
    )
    assert _lookup(client, request.tracking_number, civilian.email).status_code == 302


def test_a_wrong_email_and_an_unknown_number_get_the_same_answer(client, filed):
    wrong_email = _lookup(client, filed.tracking_number, "someone@example.test")
    unknown = _lookup(client, "HMS-2026-999999", filed.contact_email)
    assert wrong_email.status_code == unknown.status_code == 400
    first = wrong_email.content.decode()
    second = unknown.content.decode()
    assert NOT_FOUND in first
    assert NOT_FOUND in second
    # Apart from the CSRF token and the typed values, the pages are the same.
    assert first.count("usa-error-message") == second.count("usa-error-message")
    # Nothing was granted: the request's page still wants a sign-in.
    assert client.get(f"/requests/{filed.tracking_number}/").status_code == 302


def test_a_malformed_number_gets_a_format_message(client, filed):
    response = _lookup(client, "12345", filed.contact_email)
    assert response.status_code == 400
    assert "Enter the tracking number as it appears in our email" in response.content.decode()


def test_hostile_input_is_refused_and_escaped(client, filed):
    response = _lookup(client, "<script>alert(1)</script>", "<script>@x.test")
    text = response.content.decode()
    assert response.status_code == 400
    assert "<script>alert(1)</script>" not in text
    assert "&lt;script&gt;" in text
    response = _lookup(client, filed.tracking_number + "\x00", filed.contact_email)
    assert response.status_code == 400


def test_lookups_are_rate_limited_per_client(client, filed, settings):
    settings.HMS_REQUESTS_TRACK_LIMIT_PER_CLIENT = 3
    for _ in range(3):
        assert _lookup(client, "HMS-2026-999999", "x@example.test").status_code == 400
    limited = _lookup(client, filed.tracking_number, filed.contact_email)
    assert limited.status_code == 429
    assert "Too many attempts" in limited.content.decode()
    assert int(limited["Retry-After"]) > 0
    # Another client is not held up.
    other = _lookup(client, filed.tracking_number, filed.contact_email, REMOTE_ADDR="10.9.9.9")
    assert other.status_code == 302


def test_lookups_are_rate_limited_per_tracking_number(client, filed, settings):
    """Guessing the email of one request from many addresses is stopped too; the answer is
    the same whether or not the number exists."""
    settings.HMS_REQUESTS_TRACK_LIMIT_PER_NUMBER = 2
    for number in (filed.tracking_number, "HMS-2026-999999"):
        for index in range(2):
            address = f"10.0.{len(number)}.{index}"
            response = _lookup(client, number, "guess@example.test", REMOTE_ADDR=address)
            assert response.status_code == 400
        blocked = _lookup(client, number, "guess@example.test", REMOTE_ADDR="10.1.1.1")
        assert blocked.status_code == 429


def test_the_proxy_header_names_the_client_when_configured(client, filed, settings):
    settings.HMS_REQUESTS_TRACK_LIMIT_PER_CLIENT = 1
    settings.HMS_REQUESTS_CLIENT_IP_HEADER = "HTTP_X_REAL_IP"

    def status(address: str) -> int:
        return _lookup(client, "HMS-2026-999999", "a@x.test", HTTP_X_REAL_IP=address).status_code

    assert status("1.1.1.1") == 400
    assert status("1.1.1.1") == 429
    assert status("2.2.2.2") == 400


def test_a_grant_expires(client, filed, settings):
    settings.HMS_REQUESTS_TRACK_GRANT_SECONDS = -1
    assert _lookup(client, filed.tracking_number, filed.contact_email).status_code == 302
    assert client.get(f"/requests/{filed.tracking_number}/").status_code == 302


def test_a_miss_costs_about_what_a_hit_costs(filed):
    """No shortcut on either path: the unknown number and the wrong email run the same query
    and comparisons as a hit (medians within a few milliseconds)."""

    def timed(number: str, email: str) -> float:
        samples = []
        for _ in range(40):
            start = time.perf_counter()
            request_for_tracking(tracking_number=number, email=email)
            samples.append(time.perf_counter() - start)
        return statistics.median(samples)

    hit = timed(filed.tracking_number, filed.contact_email)
    wrong = timed(filed.tracking_number, "someone@example.test")
    unknown = timed("HMS-2026-999999", filed.contact_email)
    assert abs(hit - wrong) < 0.005
    assert abs(hit - unknown) < 0.005


def test_selector_answers_none_for_a_wrong_email_or_unknown_number(filed):
    assert request_for_tracking(tracking_number=filed.tracking_number, email="") is None
    assert request_for_tracking(tracking_number="HMS-2026-999999", email="") is None
    assert (
        request_for_tracking(tracking_number=filed.tracking_number, email=filed.contact_email)
        == filed
    )
