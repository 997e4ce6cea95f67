"""A request's page: status in plain words with what happens next and by when, withdrawing
before a decision, and rating the service once after closing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.formats import date_format

from service_requests import services
from service_requests.models import RequestEvent, SatisfactionResponse
from service_requests.presentation import status_story
from tests.builders import pending_approval, status_of, submitted


def _page(client, request) -> str:  # type: ignore[no-untyped-def]
    response = client.get(f"/requests/{request.tracking_number}/")
    assert response.status_code == 200
    return response.content.decode()


def _fulfilled(civilian, reviewer, supervisor, inspection):  # type: ignore[no-untyped-def]
    from governance import services as governance

    request, case = pending_approval(civilian, reviewer, inspection)
    governance.case_decide(actor=supervisor, case_id=case.pk, outcome="approve", reason="Fine.")
    return services.request_fulfil(actor=reviewer, request_id=request.pk)


def test_status_is_told_in_plain_words_with_the_next_step_and_the_target_date(
    client, civilian, inspection
):
    inspection.target_days = 12
    inspection.save()
    request = submitted(civilian, inspection)
    client.force_login(civilian)
    page = _page(client, request)
    assert "We have your request. It is waiting for a reviewer." in page
    assert "A reviewer will read it and may ask you questions by email." in page
    due = timezone.localdate(request.submitted_at) + timedelta(days=12)
    assert f"<strong>{date_format(due, 'DATE_FORMAT')}</strong>" in page
    assert "12 days after you filed it" in page


def test_an_overdue_request_says_so(civilian, inspection):
    request = submitted(civilian, inspection)
    story = status_story(request, today=request.target_date + timedelta(days=1))
    assert story.overdue
    assert not status_story(request, today=request.target_date).overdue


def test_a_closed_request_has_no_target_date(civilian, reviewer, supervisor, inspection):
    request = _fulfilled(civilian, reviewer, supervisor, inspection)
    story = status_story(request)
    assert story.target_date is None
    assert "done" in story.meaning


@pytest.mark.django_db
def test_civilian_withdraws_before_a_decision_and_is_emailed(
    client, civilian, inspection, mailoutbox, django_capture_on_commit_callbacks
):
    request = submitted(civilian, inspection)
    client.force_login(civilian)
    assert "Withdraw this request" in _page(client, request)
    url = f"/requests/{request.tracking_number}/withdraw/"

    # Without ticking the box: an error, nothing changes.
    refused = client.post(url, {"reason": "Fixed it myself."})
    assert refused.status_code == 400
    assert "Tick the box to confirm" in refused.content.decode()
    assert status_of(request) == "submitted"

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"reason": "Fixed it myself.", "confirm": "on"})
    assert response.status_code == 302
    assert status_of(request) == "withdrawn"
    event = RequestEvent.objects.get(request=request, kind="withdrawn")
    assert event.message == "Fixed it myself."
    assert event.actor == civilian
    assert request.history.first().history_change_reason == "withdrawn by the civilian"
    assert any("Withdrawn" in m.subject for m in mailoutbox)
    page = _page(client, request)
    assert "You withdrew this request." in page
    assert "Withdraw this request" not in page


def test_withdraw_is_refused_once_a_supervisor_has_the_case(client, civilian, reviewer, inspection):
    request, _case = pending_approval(civilian, reviewer, inspection)
    client.force_login(civilian)
    assert "Withdraw this request" not in _page(client, request)
    response = client.post(
        f"/requests/{request.tracking_number}/withdraw/", {"confirm": "on"}, follow=True
    )
    assert "it can no longer be withdrawn here" in response.content.decode()
    assert status_of(request) == "pending_approval"
    with pytest.raises(services.RequestError, match="can no longer be withdrawn"):
        services.request_withdraw(actor=civilian, request_id=request.pk)


def test_only_the_requester_may_withdraw(client, civilian, other_civilian, reviewer, inspection):
    request = submitted(civilian, inspection)
    with pytest.raises(services.RequestError, match="You may not do that"):
        services.request_withdraw(actor=reviewer, request_id=request.pk)
    client.force_login(other_civilian)
    response = client.post(f"/requests/{request.tracking_number}/withdraw/", {"confirm": "on"})
    assert response.status_code == 404
    client.logout()
    response = client.post(f"/requests/{request.tracking_number}/withdraw/", {"confirm": "on"})
    assert response.status_code == 302
    assert status_of(request) == "submitted"


def test_withdraw_reason_with_control_characters_is_refused(client, civilian, inspection):
    request = submitted(civilian, inspection)
    client.force_login(civilian)
    response = client.post(
        f"/requests/{request.tracking_number}/withdraw/",
        {"reason": "bad\x07bell", "confirm": "on"},
    )
    assert response.status_code == 400
    assert "invisible control characters" in response.content.decode()
    assert status_of(request) == "submitted"


def test_civilian_rates_a_closed_request_once(client, civilian, reviewer, supervisor, inspection):
    request = _fulfilled(civilian, reviewer, supervisor, inspection)
    client.force_login(civilian)
    page = _page(client, request)
    assert "How did we do?" in page
    url = f"/requests/{request.tracking_number}/rate/"

    missing = client.post(url, {"comment": "Quick."})
    assert missing.status_code == 400
    assert "Choose how satisfied you are." in missing.content.decode()
    bad = client.post(url, {"score": "9"})
    assert bad.status_code == 400
    assert "Choose one of the five answers." in bad.content.decode()
    assert not SatisfactionResponse.objects.exists()

    assert client.post(url, {"score": "4", "comment": "Quick and kind."}).status_code == 302
    answer = SatisfactionResponse.objects.get()
    assert (answer.score, answer.comment, answer.respondent) == (4, "Quick and kind.", civilian)
    assert answer.service_type == inspection
    page = _page(client, request)
    assert "You told us: Satisfied. Thank you." in page
    assert 'name="score"' not in page

    again = client.post(url, {"score": "1"}, follow=True)
    assert "already rated" in again.content.decode()
    assert SatisfactionResponse.objects.count() == 1


def test_rating_is_refused_while_the_request_is_open(client, civilian, inspection):
    request = submitted(civilian, inspection)
    client.force_login(civilian)
    assert 'name="score"' not in _page(client, request)
    response = client.post(
        f"/requests/{request.tracking_number}/rate/", {"score": "5"}, follow=True
    )
    assert "once the request is closed" in response.content.decode()
    assert not SatisfactionResponse.objects.exists()


@pytest.mark.parametrize(
    ("score", "comment", "message"),
    [
        (0, "", "Choose a rating from 1 to 5."),
        (6, "", "Choose a rating from 1 to 5."),
        (True, "", "Choose a rating from 1 to 5."),
        (3, "x" * 2001, "Keep the comment under 2000 characters."),
        (3, "null\x00byte", "invisible control characters"),
    ],
)
def test_rating_service_checks_its_input(
    civilian, reviewer, supervisor, inspection, score, comment, message
):
    request = _fulfilled(civilian, reviewer, supervisor, inspection)
    with pytest.raises(services.RequestError, match=message):
        services.request_rate(actor=civilian, request_id=request.pk, score=score, comment=comment)
    assert not SatisfactionResponse.objects.exists()


def test_hostile_text_on_the_page_is_escaped(client, civilian, inspection):
    request, _ = services.request_submit(
        actor=civilian,
        service_type=inspection,
        description='<script>alert("x")</script> and <img src=x onerror=alert(1)>',
        contact_name="<b>Alice</b>",
        contact_email=civilian.email,
    )
    client.force_login(civilian)
    page = _page(client, request)
    assert "<script>alert" not in page
    assert "<img src=x" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
