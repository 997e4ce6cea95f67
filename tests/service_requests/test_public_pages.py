"""The civilian's pages: who sees what, and what bad input gets back."""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse

from service_requests.models import RequestEvent, ServiceRequest
from tests.builders import filing_form, submitted

NEW = "/requests/new/"


def _form(chosen, **overrides):  # type: ignore[no-untyped-def]
    return filing_form(
        chosen,
        **{
            "description": "My hours were cut and I am two months behind on rent.",
            "amount": "1,250.50",
            **overrides,
        },
    )


def test_anonymous_visitor_is_sent_to_sign_in(client, rent_help):
    for url in ("/requests/", "/requests/HMS-2026-000001/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login"))
    # The catalogue itself is open to everyone.
    assert client.get(NEW).status_code == 200
    response = client.post(NEW, _form(rent_help))
    assert response.status_code == 302
    assert not ServiceRequest.objects.exists()


def test_home_and_the_form_render(client, civilian, rent_help, inspection):
    assert client.get("/").status_code == 200
    client.force_login(civilian)
    response = client.get(NEW)
    assert response.status_code == 200
    assert rent_help.name in response.content.decode()


def test_civilian_files_a_request_and_gets_a_tracking_number_by_page_and_email(
    client, civilian, rent_help, django_capture_on_commit_callbacks
):
    client.force_login(civilian)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(NEW, _form(rent_help))
    request = ServiceRequest.objects.get()
    assert request.amount_minor == 125_050
    assert request.requester == civilian
    assert response.status_code == 302
    assert response["Location"] == f"/requests/{request.tracking_number}/confirmation/"
    page = client.get(response["Location"]).content.decode()
    assert request.tracking_number in page
    assert len(mail.outbox) == 1
    assert request.tracking_number in mail.outbox[0].subject
    assert mail.outbox[0].to == ["alice@example.test"]
    assert request.history.get().history_user == civilian


def test_double_clicked_submit_makes_one_request(client, civilian, rent_help):
    client.force_login(civilian)
    data = _form(rent_help)
    first = client.post(NEW, data)
    second = client.post(NEW, data)
    assert ServiceRequest.objects.count() == 1
    assert first["Location"] == second["Location"]
    assert RequestEvent.objects.count() == 1


def test_civilian_sees_only_their_own_requests(client, civilian, other_civilian, rent_help):
    mine = submitted(civilian, rent_help, amount_minor=10_000)
    theirs = submitted(other_civilian, rent_help, amount_minor=20_000)
    client.force_login(civilian)
    listing = client.get("/requests/").content.decode()
    assert mine.tracking_number in listing
    assert theirs.tracking_number not in listing
    assert client.get(f"/requests/{mine.tracking_number}/").status_code == 200
    for suffix in ("", "confirmation/"):
        assert client.get(f"/requests/{theirs.tracking_number}/{suffix}").status_code == 404
    response = client.post(f"/requests/{theirs.tracking_number}/respond/", {"message": "hi"})
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"description": ""}, "This field is required"),
        ({"description": "x" * 5001}, "at most 5000 characters"),
        ({"description": "short"}, "at least 10 characters"),
        ({"contact_name": "n" * 121}, "at most 120 characters"),
        ({"contact_email": "not-an-email"}, "valid email"),
        ({"contact_phone": "call me maybe"}, "Enter a phone number"),
        ({"amount": "-5"}, "Enter an amount between 0.01 and"),
        ({"amount": "0"}, "Enter an amount between 0.01 and"),
        ({"amount": "5000.01"}, "Enter an amount between 0.01 and $5,000.00"),
        ({"amount": "99999999999999999999"}, "Enter an amount such as"),
        ({"amount": "1e30"}, "Enter an amount such as"),
        ({"amount": "12.345"}, "Enter an amount such as"),
        ({"amount": "NaN"}, "Enter an amount such as"),
        ({"amount": ""}, "Enter the amount you are asking for"),
        ({"service_type": "999999"}, "Choose one of the services listed"),
        ({"service_type": "abc"}, "Choose one of the services listed"),
        ({"submission_token": ""}, "This field is required"),
    ],
)
def test_bad_input_gets_a_clear_message_and_writes_nothing(
    client, civilian, rent_help, overrides, message
):
    client.force_login(civilian)
    response = client.post(NEW, _form(rent_help, **overrides))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not ServiceRequest.objects.exists()
    assert not RequestEvent.objects.exists()


def test_amount_on_a_service_that_pays_nothing_is_refused(client, civilian, inspection):
    client.force_login(civilian)
    response = client.post(NEW, _form(inspection, amount="100"))
    assert response.status_code == 400
    assert "does not pay out money" in response.content.decode()
    assert not ServiceRequest.objects.exists()


def test_inactive_service_type_is_refused(client, civilian, inspection):
    inspection.active = False
    inspection.save()
    client.force_login(civilian)
    response = client.post(NEW, _form(inspection, amount=""))
    assert response.status_code == 400
    assert not ServiceRequest.objects.exists()


def test_civilian_answers_a_request_for_information(client, civilian, reviewer, inspection):
    from service_requests import services

    request = submitted(civilian, inspection)
    services.request_start_review(actor=reviewer, request_id=request.pk)
    services.request_ask_info(actor=reviewer, request_id=request.pk, message="Send the lease.")
    client.force_login(civilian)
    page = client.get(f"/requests/{request.tracking_number}/").content.decode()
    assert "Send the lease." in page
    url = f"/requests/{request.tracking_number}/respond/"
    assert client.post(url, {"message": ""}).status_code == 400
    response = client.post(url, {"message": "Lease attached to my email."})
    assert response.status_code == 302
    assert ServiceRequest.objects.values_list("status", flat=True).get(pk=request.pk) == "in_review"
    # The second click finds the request moved on and says so; nothing changes.
    again = client.post(url, {"message": "Lease attached to my email."}, follow=True)
    assert "cannot be answered" in again.content.decode()
    assert RequestEvent.objects.filter(request=request, kind="info_provided").count() == 1
