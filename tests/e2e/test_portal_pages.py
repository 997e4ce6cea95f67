"""The civilian's and the supervisor's pages in a real browser: filing a request, bad input,
a decision in the workflow screens, and how the pages look (screenshots)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from playwright.sync_api import Page, expect

from service_requests import services
from service_requests.models import RequestEvent, ServiceRequest, Status
from tests.builders import pdf_bytes

pytestmark = pytest.mark.e2e

TRACKING = re.compile(r"^HMS-\d{4}-\d{6,}$")
DESCRIPTION = "My hours were cut and I am two months behind on rent."
PDF = pdf_bytes()

SignIn = Callable[[Page, Any], None]
Shoot = Callable[[Page, str], Path]


def _stored_status(tracking_number: str) -> str:
    return ServiceRequest.objects.values_list("status", flat=True).get(
        tracking_number=tracking_number
    )


def test_civilian_files_a_funding_request_and_follows_it(
    page: Page, sign_in: SignIn, shoot: Shoot, civilian: Any, rent_help: Any, inspection: Any
) -> None:
    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator(".usa-logo")).to_have_text(settings.HMS_BUREAU_NAME)
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    expect(page.get_by_role("heading", name=rent_help.name)).to_be_visible()
    shoot(page, "home")

    sign_in(page, civilian)
    page.goto("/")
    page.get_by_role("link", name=re.compile(rf"^Request this service\W+{rent_help.name}$")).click()
    expect(page).to_have_url(re.compile(r"/requests/new/\?service=rent-help$"))
    service = page.get_by_label("Service")
    amount = page.get_by_label("Amount requested (USD)")
    expect(service).to_have_value(str(rent_help.pk))
    expect(amount).to_be_visible()

    # The amount belongs to funding services only.
    service.select_option(str(inspection.pk))
    expect(amount).to_be_hidden()
    service.select_option(str(rent_help.pk))
    expect(amount).to_be_visible()

    page.get_by_label("What do you need?").fill(DESCRIPTION)
    amount.fill("1,250.50")
    shoot(page, "request-new")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("#step-heading")).to_have_text("Documents")
    page.get_by_role("button", name="Continue").click()
    # Signed in: the contact step is prefilled from the account.
    expect(page.get_by_label("Email")).to_have_value(civilian.email)
    page.get_by_label("Your full name").fill("Alice Example")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("#review-summary")).to_contain_text("$1,250.50")
    expect(page.locator("#review-description")).to_have_text(DESCRIPTION)
    shoot(page, "request-review")
    page.get_by_role("button", name="Submit request").click()

    expect(page).to_have_url(re.compile(r"/requests/HMS-\d{4}-\d+/confirmation/$"))
    tracking_number = page.locator("#tracking-number").inner_text().strip()
    assert TRACKING.match(tracking_number), tracking_number
    stored = ServiceRequest.objects.get(tracking_number=tracking_number)
    assert stored.requester == civilian
    assert stored.amount_minor == 125_050
    expect(page.get_by_role("heading", name="What happens next")).to_be_visible()
    shoot(page, "request-confirmation")

    page.get_by_role("link", name="My requests").first.click()
    expect(page).to_have_url(re.compile(r"/requests/$"))
    row = page.get_by_role("row").filter(has_text=tracking_number)
    expect(row).to_contain_text(rent_help.name)
    expect(row).to_contain_text("Received")
    shoot(page, "request-list")

    row.get_by_role("link", name=tracking_number).click()
    expect(page).to_have_url(re.compile(rf"/requests/{tracking_number}/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Request {tracking_number}")
    expect(page.locator("#request-status")).to_have_text("Received")
    expect(page.locator("#request-amount")).to_have_text("$1,250.50")
    expect(page.locator("#timeline")).to_contain_text("Received")
    shoot(page, "request-detail")


def test_bad_input_shows_the_error_summary_keeps_the_values_and_creates_nothing(
    page: Page, sign_in: SignIn, shoot: Shoot, civilian: Any, rent_help: Any
) -> None:
    sign_in(page, civilian)
    page.goto("/requests/new/?service=rent-help")
    page.get_by_label("Amount requested (USD)").fill("99999")
    page.get_by_role("button", name="Continue").click()

    summary = page.locator("#error-summary")
    expect(summary).to_be_visible()
    expect(summary).to_be_focused()
    expect(page).to_have_title(re.compile(r"^Error:"))
    description_link = summary.get_by_role("link", name=re.compile("What do you need"))
    amount_link = summary.get_by_role("link", name=re.compile("Amount requested"))
    expect(description_link).to_have_attribute("href", "#id_description")
    expect(amount_link).to_have_attribute("href", "#id_amount")
    expect(amount_link).to_contain_text("5,000.00")

    # Each error is tied to its field for screen readers.
    description = page.get_by_label("What do you need?")
    expect(description).to_have_attribute("aria-invalid", "true")
    expect(description).to_have_attribute("aria-describedby", re.compile(r"id_description-error"))
    expect(page.locator("#id_description-error")).to_contain_text("required")

    # What was typed is still there.
    expect(page.get_by_label("Amount requested (USD)")).to_have_value("99999")
    expect(page.get_by_label("Service")).to_have_value(str(rent_help.pk))
    shoot(page, "request-new-errors")

    amount_link.click()
    expect(page.get_by_label("Amount requested (USD)")).to_be_focused()

    # A later step's error keeps its values, and the earlier steps are kept on the server.
    page.get_by_label("Amount requested (USD)").fill("300")
    page.get_by_label("What do you need?").fill(DESCRIPTION)
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Your full name").fill("Alice Example")
    page.get_by_label("Phone (optional)").fill("call me")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("#error-summary")).to_contain_text("Enter a phone number")
    expect(page.get_by_label("Your full name")).to_have_value("Alice Example")
    expect(page.get_by_label("Phone (optional)")).to_have_value("call me")
    page.locator("#back").click()
    page.locator("#back").click()
    expect(page.get_by_label("What do you need?")).to_have_value(DESCRIPTION)
    assert not ServiceRequest.objects.exists()
    assert not RequestEvent.objects.exists()


def test_the_form_works_without_javascript(
    page_without_js: Page, sign_in: SignIn, civilian: Any, rent_help: Any
) -> None:
    page = page_without_js
    sign_in(page, civilian)
    # The catalogue's search is a plain form: it narrows the cards without JavaScript.
    page.goto("/requests/new/")
    page.get_by_label("Search our services").fill("rent")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page).to_have_url(re.compile(r"/requests/new/\?q=rent$"))
    expect(page.locator("#search-results")).to_contain_text("1 service matches")
    page.get_by_role("link", name=f"Request {rent_help.name}").click()
    expect(page.get_by_label("Service")).to_have_value(str(rent_help.pk))
    page.get_by_label("Service").select_option(str(rent_help.pk))
    expect(page.get_by_label("Amount requested (USD)")).to_be_visible()
    page.get_by_label("What do you need?").fill(DESCRIPTION)
    page.get_by_label("Amount requested (USD)").fill("300")
    page.get_by_role("button", name="Continue").click()
    page.locator("#id_attachments").set_input_files(
        [{"name": "lease.pdf", "mimeType": "application/pdf", "buffer": PDF}]
    )
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Your full name").fill("Alice Example")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("#review-documents")).to_contain_text("lease.pdf")
    page.get_by_role("button", name="Submit request").click()
    tracking_number = page.locator("#tracking-number").inner_text().strip()
    assert TRACKING.match(tracking_number), tracking_number
    filed = ServiceRequest.objects.get()
    assert filed.amount_minor == 30_000
    assert [a.name for a in filed.attachments.all()] == ["lease.pdf"]


def test_supervisor_approves_a_case_and_the_request_shows_as_funded(
    page: Page,
    sign_in: SignIn,
    sign_out: Callable[[Page], None],
    shoot: Shoot,
    civilian: Any,
    reviewer: Any,
    supervisor: Any,
    rent_help: Any,
) -> None:
    filed, _ = services.request_submit(
        actor=civilian,
        service_type=rent_help,
        description=DESCRIPTION,
        contact_name="Alice Example",
        contact_email=civilian.email,
        amount_minor=125_000,
    )
    services.request_start_review(actor=reviewer, request_id=filed.pk)
    recommended = services.request_recommend(
        actor=reviewer, request_id=filed.pk, note="Meets the criteria."
    )
    case = recommended.approval_case
    assert case is not None

    sign_in(page, supervisor)
    page.get_by_role("link", name="Workflow").click()
    expect(page).to_have_url(re.compile(r"/workflow/$"))
    row = page.get_by_role("row").filter(has_text=case.subject_label)
    expect(row).to_contain_text("$1,250.00")
    expect(row).to_contain_text("Awaiting decision")
    shoot(page, "workflow-inbox")

    row.get_by_role("link", name=f"Case {case.pk}").click()
    expect(page).to_have_url(re.compile(rf"/workflow/cases/{case.pk}/$"))
    expect(page.locator("#refusal")).to_have_count(0)
    shoot(page, "workflow-case")

    # A decision without a reason is sent back with the error, not recorded.
    page.get_by_text("Approve", exact=True).click()
    page.get_by_role("button", name="Record decision").click()
    expect(page.locator("#error-summary")).to_contain_text("Give a reason for the decision.")
    expect(page.get_by_label("Approve")).to_be_checked()
    assert _stored_status(filed.tracking_number) == Status.PENDING_APPROVAL

    page.get_by_label("Reason").fill("Income loss documented; within the program's limits.")
    page.get_by_role("button", name="Record decision").click()
    expect(page).to_have_url(re.compile(r"/workflow/$"))
    expect(page.locator(".usa-alert--success")).to_contain_text("Decision recorded")
    expect(page.get_by_role("row").filter(has_text=case.subject_label)).to_have_count(0)
    assert _stored_status(filed.tracking_number) == Status.FUNDED

    page.get_by_role("link", name="Show decided cases too").click()
    expect(page.get_by_role("row").filter(has_text=case.subject_label)).to_contain_text("Approved")

    sign_out(page)
    sign_in(page, civilian)
    page.goto(f"/requests/{filed.tracking_number}/")
    expect(page.locator("#request-status")).to_have_text("Approved, funds reserved")
    expect(page.locator("#timeline")).to_contain_text("Approved")


def _file_inspection(civilian: Any, inspection: Any) -> Any:
    """A request for a home inspection filed by `civilian` (no amount)."""
    filed, _ = services.request_submit(
        actor=civilian,
        service_type=inspection,
        description="The stairs to the basement are loose and one step is missing.",
        contact_name="Alice Example",
        contact_email=civilian.email,
    )
    return filed


def test_civilian_answers_the_reviewers_question(
    page: Page, sign_in: SignIn, shoot: Shoot, civilian: Any, reviewer: Any, inspection: Any
) -> None:
    filed = _file_inspection(civilian, inspection)
    services.request_start_review(actor=reviewer, request_id=filed.pk)
    services.request_ask_info(
        actor=reviewer, request_id=filed.pk, message="Which days can an inspector visit?"
    )

    sign_in(page, civilian)
    page.goto(f"/requests/{filed.tracking_number}/")
    expect(page.locator("#request-status")).to_have_text("Information needed")
    expect(page.locator("#timeline")).to_contain_text("Which days can an inspector visit?")
    expect(page.locator("#request-amount")).to_have_count(0)
    shoot(page, "request-detail-info-needed")

    page.get_by_role("button", name="Send my answer").click()
    expect(page.locator("#error-summary")).to_be_visible()
    assert _stored_status(filed.tracking_number) == Status.INFO_REQUESTED

    page.get_by_role("textbox", name="Your answer").fill("Any weekday morning.")
    page.get_by_role("button", name="Send my answer").click()
    expect(page.locator(".usa-alert--success")).to_contain_text("Thank you")
    expect(page.locator("#request-status")).to_have_text("In review")
    expect(page.get_by_role("button", name="Send my answer")).to_have_count(0)
    expect(page.locator("#timeline")).to_contain_text("Any weekday morning.")
    assert _stored_status(filed.tracking_number) == Status.IN_REVIEW


def test_another_civilians_request_is_not_found(
    page: Page, sign_in: SignIn, civilian: Any, other_civilian: Any, inspection: Any
) -> None:
    filed = _file_inspection(civilian, inspection)
    sign_in(page, other_civilian)
    response = page.goto(f"/requests/{filed.tracking_number}/")
    assert response is not None
    assert response.status == 404
    page.goto("/requests/")
    expect(page.get_by_text(filed.tracking_number)).to_have_count(0)
    expect(page.get_by_role("link", name="Workflow")).to_have_count(0)


def test_sign_in_page_uses_the_portal_layout(page: Page, shoot: Shoot, civilian: Any) -> None:
    page.goto("/accounts/login/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign In")
    expect(page.get_by_role("link", name="Skip to main content")).to_be_attached()
    expect(page.locator("header.usa-header")).to_be_visible()
    shoot(page, "sign-in")

    page.get_by_label("Email").fill(civilian.email)
    page.get_by_label("Password").fill("not-the-password")
    page.locator("main").get_by_role("button", name="Sign In").click()
    expect(page.locator("main .usa-alert--error")).to_be_visible()
    shoot(page, "sign-in-error")

    page.get_by_role("link", name="sign up").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign Up")
    page.get_by_label("Email").fill("new.resident@example.test")
    page.locator("#id_password1").fill("a-long-and-unusual-passphrase")
    page.locator("#id_password2").fill("a-long-and-unusual-passphrase")
    shoot(page, "sign-up")
    page.locator("main").get_by_role("button", name="Sign Up").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Verify Your Email Address")
    shoot(page, "verify-email")
