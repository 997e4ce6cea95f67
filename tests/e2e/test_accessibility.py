"""axe-core (WCAG 2.0 and 2.1, A and AA) on every public page, in English and in Spanish,
against the live server; and each page usable 320 px wide. Zero violations allowed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from governance import services as governance
from service_requests import services
from service_requests.models import QuestionKind, ServiceQuestion
from tests.builders import pending_approval, submitted

pytestmark = pytest.mark.e2e

Check = Callable[[Page, str], None]
SignIn = Callable[[Page, Any], None]


def _states(civilian: Any, reviewer: Any, supervisor: Any, rent_help: Any, inspection: Any):  # type: ignore[no-untyped-def]
    """One request in each state a civilian's page looks different in; the rent help form
    asks an extra question of each kind."""
    new = submitted(civilian, rent_help, amount_minor=120_000)
    asked = submitted(civilian, inspection)
    services.request_start_review(actor=reviewer, request_id=asked.pk)
    services.request_ask_info(actor=reviewer, request_id=asked.pk, message="Which days suit you?")
    closed, case = pending_approval(civilian, reviewer, inspection)
    governance.case_decide(actor=supervisor, case_id=case.pk, outcome="approve", reason="Fine.")
    services.request_fulfil(actor=reviewer, request_id=closed.pk)
    rows = [
        ("people", "How many people live with you?", QuestionKind.NUMBER, ""),
        ("since", "Since when are you behind?", QuestionKind.DATE, ""),
        ("income", "Where does your income come from?", QuestionKind.MULTIPLE, "Work\nBenefits"),
        ("lease", "Is the lease in your name?", QuestionKind.CHOICE, "Yes\nNo"),
        ("notes", "Anything else?", QuestionKind.TEXT, ""),
    ]
    for position, (code, label, kind, choices) in enumerate(rows):
        ServiceQuestion.objects.create(
            service_type=rent_help,
            code=code,
            label=label,
            kind=kind,
            choices=choices,
            position=position,
            required=code != "notes",
        )
    return new, asked, closed


@pytest.mark.parametrize("language", ["en", "es"])
def test_every_public_page_passes_axe(
    page: Page,
    sign_in: SignIn,
    check_accessible: Check,
    shoot: Callable[[Page, str], Any],
    live_server: Any,
    language: str,
    civilian: Any,
    reviewer: Any,
    supervisor: Any,
    rent_help: Any,
    inspection: Any,
) -> None:
    new, asked, closed = _states(civilian, reviewer, supervisor, rent_help, inspection)
    page.goto("/")
    if language == "es":
        page.get_by_role("button", name="Español").click()
        expect(page.locator("html")).to_have_attribute("lang", "es")
    check_accessible(page, "home")
    shoot(page, f"a11y-{language}-home")

    page.goto("/requests/new/")
    check_accessible(page, "catalogue")
    shoot(page, f"a11y-{language}-catalogue")
    page.goto("/requests/new/?q=zzzz")
    check_accessible(page, "catalogue, no match")

    page.goto("/track/")
    check_accessible(page, "track")
    page.locator("#id_tracking_number").fill("HMS-2026-999999")
    page.locator("#id_email").fill("nobody@example.test")
    page.locator("#track-form button[type=submit]").click()
    expect(page.locator("#error-summary")).to_be_visible()
    check_accessible(page, "track, not found")
    page.locator("#id_tracking_number").fill(new.tracking_number)
    page.locator("#id_email").fill(new.contact_email)
    page.locator("#track-form button[type=submit]").click()
    expect(page.locator("#request-status")).to_be_visible()
    check_accessible(page, "detail, tracked without an account")
    shoot(page, f"a11y-{language}-tracked")

    page.goto("/accounts/login/")
    check_accessible(page, "sign-in")
    sign_in(page, civilian) if language == "en" else _sign_in_es(page, civilian)

    page.goto("/requests/")
    check_accessible(page, "list")
    page.goto("/requests/new/?service=rent-help")
    check_accessible(page, "form, first step")
    page.locator("#continue").click()
    expect(page.locator("#error-summary")).to_be_visible()
    check_accessible(page, "form, first step with errors")
    page.goto(f"/requests/{new.tracking_number}/confirmation/")
    check_accessible(page, "confirmation")
    for request, name in ((new, "new"), (asked, "information needed"), (closed, "closed")):
        page.goto(f"/requests/{request.tracking_number}/")
        check_accessible(page, f"detail, {name}")
        shoot(page, f"a11y-{language}-detail-{name}")
    page.goto(f"/requests/{asked.tracking_number}/")
    page.locator("form[action$='/respond/'] button[type=submit]").click()
    expect(page.locator("#error-summary")).to_be_visible()
    check_accessible(page, "detail, answer with errors")
    page.goto(f"/requests/{closed.tracking_number}/")
    page.locator("form[action$='/rate/'] button[type=submit]").click()
    expect(page.locator("#error-summary")).to_be_visible()
    check_accessible(page, "detail, rating with errors")


def _sign_in_es(page: Page, user: Any) -> None:
    from tests.conftest import PASSWORD

    page.goto("/accounts/login/")
    page.locator("#id_login").fill(user.email)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("main form button[type=submit]").first.click()
    expect(page.get_by_role("button", name="Cerrar sesión")).to_be_visible()
