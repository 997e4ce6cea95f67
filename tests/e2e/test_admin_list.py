"""The requests changelist in a real browser: the compact rows (core/templatetags/portal_list.py)
keep the row checkboxes working with the admin's actions, draw the status badges and change
links, show each cell's column name on a narrow screen, and the list table has no axe violation
(the rest of the page is unfold's)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from allauth.account.models import EmailAddress
from django.urls import reverse
from playwright.sync_api import Page, expect

from service_requests import services
from tests.e2e.conftest import AXE_TAGS
from tests.factories import UserFactory

pytestmark = pytest.mark.e2e


def _table_violations(page: Page, source: str) -> list[dict[str, Any]]:
    page.evaluate(source)
    return list(
        page.evaluate(
            """async (tags) => {
                const r = await axe.run("#result_list", {runOnly: {type: "tag", values: tags},
                                                         resultTypes: ["violations"]});
                return r.violations.map(v => ({id: v.id, nodes: v.nodes.length}));
            }""",
            AXE_TAGS,
        )
    )


def test_the_compact_rows_select_link_and_pass_axe(
    page: Page,
    sign_in: Callable[[Page, Any], None],
    civilian: Any,
    inspection: Any,
    axe_source: str,
) -> None:
    staff = UserFactory(username="ada", is_staff=True, is_superuser=True)
    EmailAddress.objects.create(user=staff, email=staff.email, verified=True, primary=True)
    filed = [
        services.request_submit(
            actor=civilian,
            service_type=inspection,
            description="The heating has been off for a week.",
            contact_name=f"Alice Doe {n}",
            contact_email="alice@example.test",
        )[0]
        for n in range(2)
    ]
    sign_in(page, staff)
    page.goto(reverse("admin:service_requests_servicerequest_changelist"))
    link = page.get_by_role("link", name=filed[0].tracking_number)
    expect(link).to_be_visible()
    expect(page.locator("#result_list .portal-badge").first).to_have_text("Received")
    boxes = page.locator("#result_list input.action-select")
    expect(boxes).to_have_count(2)
    boxes.first.check()
    expect(page.locator("#result_list tr.selected")).to_have_count(1)
    assert _table_violations(page, axe_source) == []
    page.set_viewport_size({"width": 400, "height": 800})
    label = page.evaluate(
        """() => getComputedStyle(
            document.querySelector('#result_list tr.data-row td[data-label]'), '::before'
        ).content"""
    )
    assert label.strip('"') == "service"
    link.click()
    change = reverse("admin:service_requests_servicerequest_change", args=[filed[0].pk])
    expect(page).to_have_url(re.compile(re.escape(change)))
