"""The Content-Security-Policy in a real browser: the collector every browser test relies on
sees a refused inline script, and the staff's admin pages (changelist and change page, under
unfold's widened policy) run with no violation. The public pages, the case page and the
portfolio are covered by their own browser tests through the `page` fixture."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from allauth.account.models import EmailAddress
from django.urls import reverse
from playwright.sync_api import Page, expect

from service_requests import services
from tests.e2e.conftest import csp_violations
from tests.factories import UserFactory

pytestmark = pytest.mark.e2e


def test_the_collector_reports_an_inline_script_the_policy_refuses(page: Page) -> None:
    page.goto("/")
    page.evaluate(
        "() => { const s = document.createElement('script');"
        " s.textContent = 'window.injected = true'; document.body.appendChild(s); }"
    )
    page.wait_for_function("window.__hmsCspViolations.length > 0")
    assert page.evaluate("window.injected === undefined")
    seen = csp_violations(page)
    assert [v["directive"] for v in seen] == ["script-src-elem"]
    # Seen on purpose: cleared so that the fixture's own check does not fail this test.
    seen.clear()
    page.evaluate("window.__hmsCspViolations.length = 0")


def test_the_admin_changelist_and_change_page_run_without_a_violation(
    page: Page, sign_in: Callable[[Page, Any], None], civilian: Any, inspection: Any
) -> None:
    staff = UserFactory(username="ada", is_staff=True, is_superuser=True)
    EmailAddress.objects.create(user=staff, email=staff.email, verified=True, primary=True)
    filed, _ = services.request_submit(
        actor=civilian,
        service_type=inspection,
        description="The heating has been off for a week.",
        contact_name="Alice Doe",
        contact_email="alice@example.test",
    )
    sign_in(page, staff)
    page.goto(reverse("admin:service_requests_servicerequest_changelist"))
    expect(page.get_by_role("link", name=filed.tracking_number)).to_be_visible()
    page.wait_for_load_state("networkidle")
    page.goto(reverse("admin:service_requests_servicerequest_change", args=[filed.pk]))
    page.wait_for_load_state("networkidle")
    assert filed.tracking_number in page.content()
    assert csp_violations(page) == []


def test_the_api_docs_run_without_a_violation(
    page: Page, sign_in: Callable[[Page, Any], None], civilian: Any
) -> None:
    sign_in(page, civilian)
    page.goto("/api/v1/docs/")
    expect(page.locator(".swagger-ui .info")).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert csp_violations(page) == []
