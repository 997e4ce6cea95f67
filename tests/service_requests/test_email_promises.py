"""Every sentence on the civilian's pages that says we email them is kept: each is listed here
with the test that the email goes out, and a new such sentence fails until it is listed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail

from service_requests import services
from service_requests.models import RequestEvent
from tests.builders import submitted

pytestmark = pytest.mark.django_db

TEMPLATES = Path(settings.BASE_DIR) / "templates" / "service_requests"

# Each promise: (template, a phrase of the sentence, the test below that keeps it).
PROMISES = [
    ("confirmation.html", "We email you at {{ email }} when the review starts.", "review_started"),
    ("confirmation.html", "If we need more information, we ask you by email", "info_requested"),
    ("confirmation.html", "We tell you the outcome and, if approved, when the service", "decision"),
    ("new.html", "We read every request and reply by email at each step.", "every_step"),
    ("step_details.html", "We read every request and reply by email at each step.", "every_step"),
    ("verify_sent.html", "We sent a link to", "draft_link"),
    ("track.html", "It is in the email we sent when you filed the request", "received"),
    (
        "step_review.html",
        "we first check that this email address is yours: we send it a link",
        "draft_link",
    ),
]
# Sentences that promise email: "we email", "by email", "we send", "we sent", "we tell you".
PROMISE_RE = re.compile(r"[^.>{}]*\b(we email|by email|we send|we sent|we tell you)\b[^.<]*", re.I)


def _pages() -> list[Path]:
    return sorted(TEMPLATES.glob("*.html"))


def test_every_promise_on_the_civilian_pages_is_listed_here():
    listed = {(name, phrase) for name, phrase, _test in PROMISES}
    for page in _pages():
        text = page.read_text()
        for match in PROMISE_RE.finditer(text):
            sentence = match.group(0)
            assert any(
                name == page.name and (phrase in sentence or sentence.strip() in phrase)
                for name, phrase in listed
            ), f"{page.name}: “{sentence.strip()}” promises an email no test here keeps"


def test_the_listed_promises_are_still_on_their_pages():
    for name, phrase, _test in PROMISES:
        assert phrase in (TEMPLATES / name).read_text(), (name, phrase)


def _sent_for(request, django_capture_on_commit_callbacks, step) -> list[str]:  # type: ignore[no-untyped-def]
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        step()
    return [m.subject for m in mail.outbox if m.to == [request.contact_email]]


def test_received_is_emailed_with_the_tracking_number(
    civilian, inspection, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        request = submitted(civilian, inspection)
    assert [m.subject for m in mail.outbox] == [f"{request.tracking_number}: Received"]


def test_review_started_is_emailed(
    civilian, inspection, reviewer, django_capture_on_commit_callbacks
):
    request = submitted(civilian, inspection)
    sent = _sent_for(
        request,
        django_capture_on_commit_callbacks,
        lambda: services.request_start_review(actor=reviewer, request_id=request.pk),
    )
    assert sent == [f"{request.tracking_number}: In review"]
    assert "A reviewer is looking at your request." in mail.outbox[0].body


def test_info_requested_is_emailed(
    civilian, inspection, reviewer, django_capture_on_commit_callbacks
):
    request = submitted(civilian, inspection)
    services.request_start_review(actor=reviewer, request_id=request.pk)
    sent = _sent_for(
        request,
        django_capture_on_commit_callbacks,
        lambda: services.request_ask_info(
            actor=reviewer, request_id=request.pk, message="Send the lease."
        ),
    )
    assert sent == [f"{request.tracking_number}: Information needed"]
    assert "Send the lease." in mail.outbox[0].body


def test_decision_and_what_follows_are_emailed(
    civilian, inspection, reviewer, supervisor, django_capture_on_commit_callbacks
):
    from governance import services as governance

    request = submitted(civilian, inspection)
    services.request_start_review(actor=reviewer, request_id=request.pk)
    case = services.request_recommend(
        actor=reviewer, request_id=request.pk, note="Fine."
    ).approval_case
    sent = _sent_for(
        request,
        django_capture_on_commit_callbacks,
        lambda: governance.case_decide(
            actor=supervisor, case_id=case.pk, outcome="approve", reason="ok"
        ),
    )
    assert sent == [f"{request.tracking_number}: Approved"]
    sent = _sent_for(
        request,
        django_capture_on_commit_callbacks,
        lambda: services.request_fulfil(actor=reviewer, request_id=request.pk),
    )
    assert sent == [f"{request.tracking_number}: Fulfilled"]


def test_every_public_step_is_emailed(
    civilian, inspection, reviewer, supervisor, django_capture_on_commit_callbacks
):
    from governance import services as governance

    with django_capture_on_commit_callbacks(execute=True):
        request = submitted(civilian, inspection)
        services.request_start_review(actor=reviewer, request_id=request.pk)
        services.request_ask_info(actor=reviewer, request_id=request.pk, message="Lease?")
        services.request_provide_info(actor=civilian, request_id=request.pk, message="Sent.")
        case = services.request_recommend(
            actor=reviewer, request_id=request.pk, note="Ok."
        ).approval_case
        governance.case_decide(actor=supervisor, case_id=case.pk, outcome="reject", reason="No.")
    # The civilian's own answer is theirs, not a step we reply to.
    silent = RequestEvent.objects.filter(request=request, public=True, notify="none")
    assert list(silent.values_list("kind", flat=True)) == ["info_provided"]
    assert RequestEvent.objects.filter(request=request, notify="pending").count() == 0


def test_draft_link_is_emailed(client, inspection, django_capture_on_commit_callbacks):
    """The link of a filing without an account: `verify_sent.html` and `step_review.html`."""
    from service_requests.models import RequestDraft

    draft = RequestDraft.objects.create(data={}, language="en")
    with django_capture_on_commit_callbacks(execute=True):
        services.draft_request_verification(actor=None, draft_id=draft.pk, email="new@example.test")
    assert [m.to for m in mail.outbox] == [["new@example.test"]]
