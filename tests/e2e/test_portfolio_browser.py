"""The portfolio in a real browser: accessible in English and Spanish with the transfer form, and
a payment shows on the payee's open page within seconds, without a reload (htmx polling)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, hotp_value
from playwright.sync_api import Browser, Page, expect

from ledger import services as ledger
from ledger.models import Account, OwnerKind
from tests.builders import ledger_account, move
from tests.e2e.conftest import _new_page, close_asserting_no_csp_violation

pytestmark = pytest.mark.e2e

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@pytest.fixture
def other_page(browser: Browser, live_server: Any) -> Iterator[Page]:
    opened = _new_page(browser, live_server.url)
    yield opened
    close_asserting_no_csp_violation(opened)


def _payee(actor: Any, user: Any) -> Account:
    return ledger.payee_account_for(
        actor=actor,
        owner_kind=OwnerKind.CIVILIAN,
        owner_ref=str(user.pk),
        name=f"Payable to {user.first_name or user.username}",
        currency="USD",
    )


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_portfolio_with_its_transfer_form_passes_axe(
    page: Page,
    sign_in: Callable[[Page, Any], None],
    check_accessible: Callable[[Page, str], None],
    shoot: Callable[[Page, str], Any],
    actor: Any,
    civilian: Any,
    language: str,
) -> None:
    alice = _payee(actor, civilian)
    move(actor, "grant", ledger_account(actor, "FUND"), alice, 50_000)
    sign_in(page, civilian)
    page.goto("/portfolio/")
    if language == "es":
        page.get_by_role("button", name="Español").click()
    check_accessible(page, f"portfolio without MFA ({language})")
    TOTP.activate(civilian, SECRET)
    page.goto("/portfolio/")
    expect(page.locator("#move-money-form")).to_be_visible()
    check_accessible(page, f"portfolio ({language})")
    page.locator("#move-money-form button[type=submit]").click()
    expect(page.locator("#error-summary")).to_be_visible()
    check_accessible(page, f"portfolio, form errors ({language})")
    shoot(page, f"portfolio-errors-{language}")


def test_a_payment_shows_on_the_payees_open_page_without_a_reload(
    page: Page,
    other_page: Page,
    sign_in: Callable[[Page, Any], None],
    actor: Any,
    civilian: Any,
    other_civilian: Any,
) -> None:
    alice, bob = _payee(actor, civilian), _payee(actor, other_civilian)
    move(actor, "grant", ledger_account(actor, "FUND"), alice, 50_000)
    sign_in(other_page, other_civilian)
    other_page.goto("/portfolio/")
    expect(other_page.locator(f"#posted-{bob.code}")).to_have_text("$0.00")

    sign_in(page, civilian)
    TOTP.activate(civilian, SECRET)
    page.goto("/portfolio/")
    page.get_by_label("Or another participant's account code").fill(bob.code)
    page.get_by_label("Amount").fill("42.50")
    code = format_hotp_value(hotp_value(SECRET, int(time.time()) // 30))
    page.get_by_label("Authenticator code").fill(code)
    page.get_by_role("button", name="Confirm and send").click()
    expect(page.get_by_text("$42.50 was sent.")).to_be_visible()
    expect(page.locator(f"#available-{alice.code}")).to_have_text("$457.50")
    # The payee's page, open all along, updates by itself.
    expect(other_page.locator(f"#posted-{bob.code}")).to_have_text("$42.50", timeout=12_000)
