"""The whole path over HTTP, one persona per client: a civilian signs up and files a funding
request, a reviewer works it in the admin, a supervisor approves it in the workflow screen, the
fund's money is reserved and then paid on the ledger, and the civilian is emailed at each step.

Transactional, so every commit (and every on-commit task) happens as in production.
"""

from __future__ import annotations

import re
import uuid

import pytest
from django.core import mail
from django.test import Client

from governance.models import ApprovalCase, Decision
from ledger.models import Account, Transfer, TransferKind
from service_requests.models import ServiceRequest

pytestmark = pytest.mark.django_db(transaction=True)

CHANGELIST = "/admin/service_requests/servicerequest/"
EMAIL = "maria@example.test"
PASSWORD = "a-long-and-unusual-passphrase"


def _status(request: ServiceRequest) -> str:
    return ServiceRequest.objects.values_list("status", flat=True).get(pk=request.pk)


def _admin_action(client: Client, action: str, request: ServiceRequest, **extra: str):  # type: ignore[no-untyped-def]
    return client.post(
        CHANGELIST,
        {"action": action, "_selected_action": [str(request.pk)], "index": "0", **extra},
        follow=True,
    )


def _sign_up_and_verify(client: Client) -> None:
    response = client.post(
        "/accounts/signup/", {"email": EMAIL, "password1": PASSWORD, "password2": PASSWORD}
    )
    assert response.status_code == 302
    # Unverified: signing in is held back until the emailed link is followed.
    assert len(mail.outbox) == 1
    link = re.search(r"https?://[^/\s]+(/accounts/confirm-email/[^/\s]+/)", mail.outbox[0].body)
    assert link, mail.outbox[0].body
    assert client.post(link.group(1)).status_code == 302
    response = client.post("/accounts/login/", {"login": EMAIL, "password": PASSWORD})
    assert response.status_code == 302
    mail.outbox.clear()


def test_request_travels_from_the_public_form_to_a_posted_ledger_transfer(
    reviewer, supervisor, rent_help, rent_fund
):
    civilian_client, reviewer_client, supervisor_client = Client(), Client(), Client()

    # 1. The civilian signs up (email verified) and files a funding request.
    _sign_up_and_verify(civilian_client)
    response = civilian_client.post(
        "/requests/new/",
        {
            "service_type": str(rent_help.pk),
            "description": "I am two months behind on rent after my hours were cut.",
            "amount": "1,200.00",
            "contact_name": "Maria Lopez",
            "contact_email": EMAIL,
            "contact_phone": "555-0100",
            "submission_token": str(uuid.uuid4()),
        },
    )
    assert response.status_code == 302
    request = ServiceRequest.objects.get()
    civilian = request.requester
    assert re.fullmatch(r"HMS-\d{4}-\d{6}", request.tracking_number)
    confirmation = civilian_client.get(response["Location"]).content.decode()
    assert request.tracking_number in confirmation
    assert [m.subject for m in mail.outbox] == [f"{request.tracking_number}: Received"]
    assert request.tracking_number in civilian_client.get("/requests/").content.decode()

    # 2. The reviewer assigns it, starts review and asks for information; the civilian answers.
    reviewer_client.force_login(reviewer)
    page = reviewer_client.get(CHANGELIST, {"q": request.tracking_number}).content.decode()
    assert request.tracking_number in page
    _admin_action(reviewer_client, "assign_to_me", request)
    _admin_action(reviewer_client, "start_review", request)
    assert _status(request) == "in_review"
    _admin_action(
        reviewer_client, "ask_for_information", request, apply="1", message="Please send the lease."
    )
    assert _status(request) == "info_requested"
    assert "Please send the lease." in mail.outbox[-1].body
    detail = f"/requests/{request.tracking_number}/"
    assert "Please send the lease." in civilian_client.get(detail).content.decode()
    civilian_client.post(f"{detail}respond/", {"message": "Lease sent by post today."})
    assert _status(request) == "in_review"
    _admin_action(reviewer_client, "recommend", request, apply="1", note="Lease checked.")
    assert _status(request) == "pending_approval"

    # A reviewer cannot decide: the workflow screen does not offer them the case.
    case = ApprovalCase.objects.get()
    assert reviewer_client.get(f"/workflow/cases/{case.pk}/").status_code == 404

    # 3. The supervisor approves in the workflow screen, with a reason.
    supervisor_client.force_login(supervisor)
    inbox = supervisor_client.get("/workflow/").content.decode()
    assert request.tracking_number in inbox
    refused = supervisor_client.post(
        f"/workflow/cases/{case.pk}/", {"outcome": "approve", "reason": ""}
    )
    assert refused.status_code == 400
    assert not Decision.objects.exists()
    response = supervisor_client.post(
        f"/workflow/cases/{case.pk}/", {"outcome": "approve", "reason": "Income verified."}
    )
    assert response.status_code == 302

    # 4. The grant reserved the money: a pending transfer from the fund to the payee.
    assert _status(request) == "funded"
    fund = Account.objects.get(pk=rent_fund.account_id)
    obligation = Transfer.objects.get(kind=TransferKind.PENDING, reference=request.tracking_number)
    payee = obligation.credit_account
    assert obligation.debit_account_id == fund.pk
    assert obligation.amount_minor == 120_000
    assert (fund.debits_pending, fund.available_minor) == (120_000, 1_000_000 - 120_000)
    assert (payee.credits_pending, payee.credits_posted) == (120_000, 0)
    assert payee.owner_ref == str(civilian.pk)

    # The reviewer marks it fulfilled: the obligation is posted.
    _admin_action(reviewer_client, "mark_fulfilled", request)
    assert _status(request) == "fulfilled"
    fund.refresh_from_db()
    payee.refresh_from_db()
    assert (fund.debits_pending, fund.debits_posted) == (0, 120_000)
    assert (payee.credits_pending, payee.credits_posted) == (0, 120_000)
    posted = Transfer.objects.get(kind=TransferKind.POST_PENDING, pending=obligation)
    assert posted.prev_hash == obligation.hash

    # 5. An email at every step the civilian should know of, and nothing else.
    subjects = [m.subject.split(": ", 1)[1] for m in mail.outbox]
    assert subjects == [
        "Received",
        "In review",
        "Information needed",
        "Awaiting approval",
        "Approved, funds reserved",
        "Fulfilled",
    ]
    assert all(m.to == [EMAIL] for m in mail.outbox)

    # The history names who did each step.
    history = [
        (h.status, h.history_user, h.history_change_reason)
        for h in ServiceRequest.objects.get(pk=request.pk).history.order_by("history_id")
    ]
    assert [(s, u) for s, u, _ in history] == [
        ("submitted", civilian),
        ("submitted", reviewer),
        ("in_review", reviewer),
        ("info_requested", reviewer),
        ("in_review", civilian),
        ("pending_approval", reviewer),
        ("approved", supervisor),
        ("funded", supervisor),
        ("fulfilled", reviewer),
    ]
    assert case.history.latest().history_user == supervisor
    assert Decision.objects.get().decided_by == supervisor
