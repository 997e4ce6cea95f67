"""The requests admin's actions: each calls one service per request, for reviewers only."""

from __future__ import annotations

import pytest

from service_requests import services
from service_requests.models import EventKind, ServiceRequest, Status
from tests.admin.helpers import CHANGELIST, act, change_url, fresh, messages_of

pytestmark = pytest.mark.django_db


def history_count(request: ServiceRequest) -> int:
    return ServiceRequest.history.filter(id=request.pk).count()


def latest_history(request: ServiceRequest):  # type: ignore[no-untyped-def]
    return ServiceRequest.history.filter(id=request.pk).latest("history_id")


@pytest.fixture
def new_request(submit, inspection) -> ServiceRequest:  # type: ignore[no-untyped-def]
    return submit(inspection)


@pytest.fixture
def in_review(new_request, reviewer) -> ServiceRequest:  # type: ignore[no-untyped-def]
    return services.request_start_review(actor=reviewer, request_id=new_request.pk)


@pytest.fixture
def pending_approval(in_review, reviewer) -> ServiceRequest:  # type: ignore[no-untyped-def]
    return services.request_recommend(
        actor=reviewer, request_id=in_review.pk, note="Meets the criteria."
    )


def test_assign_to_me_assigns_the_reviewer(client, reviewer, new_request):
    client.force_login(reviewer)
    response = act(client, "assign_to_me", new_request)
    assert response.status_code == 200
    new_request = fresh(new_request)
    assert new_request.assignee == reviewer
    assert latest_history(new_request).history_user == reviewer
    assert "1 request assigned to you." in messages_of(response)


def test_start_review_moves_the_request_into_review(client, reviewer, new_request):
    client.force_login(reviewer)
    response = act(client, "start_review", new_request)
    new_request = fresh(new_request)
    assert new_request.status == Status.IN_REVIEW
    assert latest_history(new_request).history_user == reviewer
    assert "Review started on 1 request." in messages_of(response)


def test_ask_for_information_shows_the_message_page_then_sends(client, reviewer, in_review):
    client.force_login(reviewer)
    page = act(client, "ask_for_information", in_review)
    assert page.status_code == 200
    assert page.templates[0].name == "admin/service_requests/servicerequest/ask_info.html"
    assert in_review.tracking_number in page.content.decode()
    in_review = fresh(in_review)
    assert in_review.status == Status.IN_REVIEW

    response = act(
        client, "ask_for_information", in_review, apply="1", message="Send your lease, please."
    )
    in_review = fresh(in_review)
    assert in_review.status == Status.INFO_REQUESTED
    assert latest_history(in_review).history_user == reviewer
    event = in_review.events.get(kind=EventKind.INFO_REQUESTED)
    assert event.message == "Send your lease, please."
    assert "Information asked on 1 request." in messages_of(response)


def test_ask_for_information_refuses_an_empty_message(client, reviewer, in_review):
    client.force_login(reviewer)
    before = history_count(in_review)
    response = act(client, "ask_for_information", in_review, apply="1", message="   ")
    assert response.status_code == 200
    assert response.context["form"].errors["message"]
    in_review = fresh(in_review)
    assert in_review.status == Status.IN_REVIEW
    assert history_count(in_review) == before


def test_recommend_opens_an_approval_case(client, reviewer, in_review):
    client.force_login(reviewer)
    act(client, "recommend", in_review, apply="1", note="Meets the criteria.")
    in_review = fresh(in_review)
    assert in_review.recommendation_note == "Meets the criteria."
    assert in_review.status == Status.PENDING_APPROVAL
    assert in_review.approval_case is not None
    assert in_review.recommended_by == reviewer
    assert latest_history(in_review).history_user == reviewer


def test_mark_fulfilled_closes_an_approved_request(client, reviewer, pending_approval, approve):
    approved = approve(pending_approval)
    assert approved.status == Status.APPROVED
    client.force_login(reviewer)
    response = act(client, "mark_fulfilled", approved)
    approved = fresh(approved)
    assert approved.status == Status.FULFILLED
    assert latest_history(approved).history_user == reviewer
    assert "1 request marked fulfilled." in messages_of(response)


def test_mark_fulfilled_pays_a_funded_request(client, reviewer, submit, rent_help, approve):
    funded = submit(rent_help, amount_minor=100_000)
    services.request_start_review(actor=reviewer, request_id=funded.pk)
    services.request_recommend(actor=reviewer, request_id=funded.pk, note="Meets the criteria.")
    funded = approve(funded)
    assert funded.status == Status.FUNDED
    client.force_login(reviewer)
    act(client, "mark_fulfilled", funded)
    funded = fresh(funded)
    assert funded.status == Status.FULFILLED
    page = client.get(change_url(funded))
    assert page.status_code == 200
    assert "$1,000.00" in page.content.decode()


def test_stale_action_reports_the_request_and_changes_nothing(client, reviewer, pending_approval):
    client.force_login(reviewer)
    before = history_count(pending_approval)
    response = act(client, "start_review", pending_approval)
    pending_approval = fresh(pending_approval)
    assert pending_approval.status == Status.PENDING_APPROVAL
    assert history_count(pending_approval) == before
    [message] = messages_of(response)
    assert message.startswith(f"{pending_approval.tracking_number} is now “Awaiting approval”")
    assert "Nothing was changed" in message


def test_one_refusal_does_not_stop_the_other_requests(
    client, reviewer, pending_approval, submit, inspection
):
    newer = submit(inspection)
    client.force_login(reviewer)
    response = act(client, "start_review", pending_approval, newer)
    newer = fresh(newer)
    assert newer.status == Status.IN_REVIEW
    texts = messages_of(response)
    assert any(pending_approval.tracking_number in t for t in texts)
    assert "Review started on 1 request." in texts


@pytest.mark.parametrize(
    "action", ["assign_to_me", "start_review", "ask_for_information", "recommend"]
)
def test_auditor_has_no_actions_and_posting_one_changes_nothing(
    client, auditor, new_request, action
):
    client.force_login(auditor)
    changelist = client.get(CHANGELIST)
    assert changelist.status_code == 200
    assert changelist.context["action_form"] is None
    before = history_count(new_request)
    act(client, action, new_request, apply="1", message="Hello")
    new_request = fresh(new_request)
    assert new_request.status == Status.SUBMITTED
    assert new_request.assignee is None
    assert history_count(new_request) == before


def test_outsider_reviewer_cannot_act_on_another_programs_request(
    client, outsider_reviewer, new_request
):
    client.force_login(outsider_reviewer)
    before = history_count(new_request)
    act(client, "start_review", new_request)
    new_request = fresh(new_request)
    assert new_request.status == Status.SUBMITTED
    assert history_count(new_request) == before


def test_anonymous_action_is_sent_to_the_login(client, new_request):
    response = client.post(
        CHANGELIST, {"action": "start_review", "_selected_action": [new_request.pk]}
    )
    assert response.status_code == 302
    assert "login" in response["Location"]
    new_request = fresh(new_request)
    assert new_request.status == Status.SUBMITTED
