"""The voting page in a real browser: axe-core (WCAG 2.0/2.1 A and AA) in English and Spanish,
with and without errors, before and after the round freezes, and at 320 px wide."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from allocations import services
from allocations.models import AllocationBallot
from tests.allocations import conftest as allocation_fixtures
from tests.allocations.conftest import make_claims, open_voting_round

# The allocation tests' fixtures this page needs (the browser ones come from tests/e2e).
officer = allocation_fixtures.officer
round_fund = allocation_fixtures.round_fund

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_voting_page_is_accessible_and_works(
    page: Page,
    sign_in: Any,
    check_accessible: Any,
    shoot: Any,
    language: str,
    civilian: Any,
    officer: Any,
    actor: Any,
    round_fund: Any,
) -> None:
    projects = make_claims(actor, round_fund, [400_000, 300_000, 300_000], prefix="PB-")
    round_ = open_voting_round(officer, round_fund)
    sign_in(page, civilian)
    page.goto("/rounds/")
    if language == "es":
        page.get_by_role("button", name="Español").click()
        expect(page.locator("html")).to_have_attribute("lang", "es")
    check_accessible(page, "rounds with one open for votes")
    page.goto(f"/rounds/{round_.pk}/vote/")
    check_accessible(page, "voting page")
    shoot(page, f"vote-{language}")

    submit = "Emitir mi voto" if language == "es" else "Cast my ballot"
    page.get_by_role("button", name=submit).click()
    expect(page.locator("#error-summary")).to_be_visible()
    check_accessible(page, "voting page with an error")

    # USWDS draws its own box over the visually hidden input: click the label, as a person does.
    page.locator("label", has_text="PB-00002").click()
    page.locator("label", has_text="PB-00003").click()
    page.get_by_role("button", name=submit).click()
    expect(page.locator(".usa-alert--success")).to_be_visible()
    check_accessible(page, "voting page after voting")
    assert AllocationBallot.objects.get().approvals == [projects[1].pk, projects[2].pk]
    expect(page.get_by_label("PB-00002")).to_be_checked()

    services.round_freeze(actor=officer, round_id=round_.pk)
    page.reload()
    check_accessible(page, "voting page, closed")
    expect(page.get_by_text("PB-00003")).to_be_visible()
