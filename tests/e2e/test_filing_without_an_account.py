"""The whole journey without an account, in English and in Spanish, in a real browser: file a
request with a document through the steps, confirm the email address with the emailed link,
track it, add it to an account, answer the reviewer's question, receive the decision and rate
the service. axe-core checks every page visited."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.core import mail
from playwright.sync_api import Page, expect

from governance import services as governance
from service_requests import selectors, services
from service_requests.models import EventKind, SatisfactionResponse, ServiceRequest
from tests.builders import pdf_bytes
from tests.e2e.test_civilian_journey import _sign_in
from tests.service_requests.conftest import fresh_rate_limits  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("fresh_rate_limits")]

Check = Callable[[Page, str], None]
PDF = pdf_bytes()
LINK = re.compile(r"https?://[^/\s]+(/requests/new/verify/[^/\s]+/)")

TEXT = {
    "en": {
        "subject": "Confirm your request",
        "received": "We received your request",
        "fulfilled": "Fulfilled",
        "in_review": "In review",
        "thanks": "Thank you",
    },
    "es": {
        "subject": "Confirme su solicitud",
        "received": "Recibimos su solicitud",
        "fulfilled": "Completada",
        "in_review": "En revisión",
        "thanks": "Gracias",
    },
}


@pytest.mark.parametrize("language", ["en", "es"])
def test_a_civilian_files_without_an_account_and_follows_it_to_the_end(
    page: Page,
    check_accessible: Check,
    language: str,
    civilian: Any,
    reviewer: Any,
    supervisor: Any,
    inspection: Any,
) -> None:
    text = TEXT[language]
    page.goto("/")
    if language == "es":
        page.get_by_role("button", name="Español").click()
        expect(page.locator("html")).to_have_attribute("lang", "es")
    check_accessible(page, "home")

    page.goto("/requests/new/")
    check_accessible(page, "catalogue")
    page.locator("a[href='/requests/new/?service=inspection']").first.click()

    # Step 1: a refused step keeps what was typed and lists each problem at the top.
    expect(page.locator("#step-indicator")).to_be_visible()
    check_accessible(page, "details step")
    page.locator("#id_description").fill("Short")
    page.locator("#continue").click()
    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    expect(summary.locator("a[href='#id_description']")).to_be_visible()
    expect(page.locator("#id_description")).to_have_value("Short")
    check_accessible(page, "details step with errors")
    page.locator("#id_description").fill("The stairs to the basement are loose and cracked.")
    page.locator("#continue").click()

    # Step 2: a file that is not what it says is refused; a real PDF is kept.
    check_accessible(page, "documents step")
    page.locator("#id_attachments").set_input_files(
        [{"name": "photo.png", "mimeType": "image/png", "buffer": b"MZ\x90\x00\x03"}]
    )
    page.locator("#continue").click()
    expect(page.locator("#error-summary")).to_be_visible()
    check_accessible(page, "documents step with errors")
    page.locator("#id_attachments").set_input_files(
        [{"name": "lease.pdf", "mimeType": "application/pdf", "buffer": PDF}]
    )
    page.locator("#continue").click()

    # Step 3 and the review: nothing is filed before the email address is confirmed.
    check_accessible(page, "contact step")
    page.locator("#id_contact_name").fill("Alice Example")
    page.locator("#id_contact_email").fill(civilian.email)
    page.locator("#continue").click()
    expect(page.locator("#review-documents")).to_contain_text("lease.pdf")
    expect(page.locator("#id_email")).to_have_value(civilian.email)
    check_accessible(page, "review step")
    page.locator("#submit-request").click()
    expect(page.locator("#sent-to")).to_contain_text(civilian.email)
    check_accessible(page, "check your email")
    assert not ServiceRequest.objects.exists()

    message = mail.outbox[-1]
    assert message.to == [civilian.email]
    assert message.subject.startswith(text["subject"])
    found = LINK.search(message.body)
    assert found is not None, message.body
    page.goto(found.group(1))
    check_accessible(page, "emailed link")
    page.locator("#submit-request").click()
    expect(page.locator("h1")).to_contain_text(text["received"])
    check_accessible(page, "confirmation")
    tracking_number = page.locator("#tracking-number").inner_text().strip()
    filed = ServiceRequest.objects.get(tracking_number=tracking_number)
    assert filed.requester.username.startswith(selectors.GUEST_PREFIX)
    assert filed.language == language
    assert [a.name for a in filed.attachments.all()] == ["lease.pdf"]

    # Following it at /track/ with the number and the email address.
    page.goto("/track/")
    check_accessible(page, "track")
    page.locator("#id_tracking_number").fill(tracking_number)
    page.locator("#id_email").fill(civilian.email)
    page.locator("#track-form button[type=submit]").click()
    expect(page).to_have_url(re.compile(rf"/requests/{tracking_number}/$"))
    check_accessible(page, "tracked request")

    # The reviewer asks a question; the civilian signs in and adds the request to the account.
    services.request_start_review(actor=reviewer, request_id=filed.pk)
    services.request_ask_info(actor=reviewer, request_id=filed.pk, message="Which days suit?")
    _sign_in(page, civilian)
    page.goto("/requests/")
    expect(page.locator("#claimable")).to_contain_text(tracking_number)
    check_accessible(page, "list with a request to claim")
    page.locator("#claimable button[type=submit]").click()
    expect(page).to_have_url(re.compile(rf"/requests/{tracking_number}/$"))
    assert ServiceRequest.objects.get(pk=filed.pk).requester == civilian
    assert filed.events.filter(kind=EventKind.CLAIMED).exists()
    check_accessible(page, "claimed request, information needed")
    page.locator("#id_message").fill("Any morning.")
    page.locator("form[action$='/respond/'] button[type=submit]").click()
    expect(page.locator(".usa-alert--success")).to_contain_text(text["thanks"])
    expect(page.locator("#request-status")).to_have_text(text["in_review"])
    check_accessible(page, "answered request")

    # The decision reaches the civilian by email, in their language; then they rate.
    recommended = services.request_recommend(
        actor=reviewer, request_id=filed.pk, note="Meets the criteria."
    )
    assert recommended.approval_case is not None
    governance.case_decide(
        actor=supervisor, case_id=recommended.approval_case.pk, outcome="approve", reason="Fine."
    )
    services.request_fulfil(actor=reviewer, request_id=filed.pk)
    assert mail.outbox[-1].subject == f"{tracking_number}: {text['fulfilled']}"
    assert mail.outbox[-1].to == [civilian.email]
    page.goto(f"/requests/{tracking_number}/")
    expect(page.locator("#request-status")).to_have_text(text["fulfilled"])
    check_accessible(page, "closed request")
    page.locator("label[for='id_score_1']").click()
    page.locator("form[action$='/rate/'] button[type=submit]").click()
    expect(page.locator(".usa-alert--success")).to_be_visible()
    check_accessible(page, "rated request")
    answer = SatisfactionResponse.objects.get()
    assert (answer.score, answer.language, answer.respondent) == (4, language, civilian)
