"""Browser fixtures: Debian's chromium driven by Playwright against pytest-django's live server.

The live server runs in a thread of this process while Playwright's sync API keeps an event loop
running, so Django's async-safety check is switched off while the browser is open. The front-end
assets must be built first (`npm ci && npm run build`; `make test` does it).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.conf import settings
from playwright.sync_api import Browser, Page, expect, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from core.roles import is_staff_member, sync_roles
from tests.builders import enrol_totp, totp_code
from tests.conftest import PASSWORD, require_service

ASYNC_UNSAFE = "DJANGO_ALLOW_ASYNC_UNSAFE"
CHROMIUM = Path(os.environ.get("HMS_E2E_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
USWDS_CSS = Path(settings.BASE_DIR) / "static" / "vendor" / "uswds" / "css" / "uswds.min.css"
# USWDS's primary blue (#005ea2), the background of a default `.usa-button`.
USWDS_PRIMARY = "rgb(0, 94, 162)"


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless chromium for the session; never a browser downloaded by Playwright."""
    require_service(CHROMIUM.exists(), f"Chromium ({CHROMIUM})")
    require_service(USWDS_CSS.exists(), "Built front-end assets (npm ci && npm run build)")
    previous = os.environ.get(ASYNC_UNSAFE)
    os.environ[ASYNC_UNSAFE] = "true"
    try:
        with sync_playwright() as playwright:
            launched = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
            yield launched
            launched.close()
    finally:
        if previous is None:
            os.environ.pop(ASYNC_UNSAFE, None)
        else:
            os.environ[ASYNC_UNSAFE] = previous


@pytest.fixture(autouse=True)
def _private_media(settings: Any, tmp_path: Path) -> None:
    """Documents uploaded in browser tests go to a temporary folder."""
    settings.HMS_REQUESTS_ATTACHMENTS_ROOT = str(tmp_path / "private-media")


@pytest.fixture(autouse=True)
def _roles(transactional_db: None) -> None:
    """Live-server tests are transactional: each one empties the tables, groups included, so
    the role groups the data migration made are put back before the personas are created."""
    sync_roles(django_apps)


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where page screenshots go: `HMS_E2E_SCREENSHOTS` if set, else a pytest temp dir."""
    chosen = os.environ.get("HMS_E2E_SCREENSHOTS")
    if chosen:
        path = Path(chosen)
        path.mkdir(parents=True, exist_ok=True)
        return path
    return tmp_path_factory.mktemp("screenshots")


# Every page a browser test opens reports what its Content-Security-Policy refused: the
# listener is installed before the page's own scripts, and each report reaches the test through
# a binding (kept across navigations) as well as `window.__hmsCspViolations` (this document's).
CSP_COLLECTOR = """
(() => {
  window.__hmsCspViolations = [];
  document.addEventListener("securitypolicyviolation", (event) => {
    const seen = {
      page: location.pathname,
      directive: event.effectiveDirective || event.violatedDirective,
      blocked: event.blockedURI,
      source: event.sourceFile,
      line: event.lineNumber,
      sample: event.sample,
    };
    window.__hmsCspViolations.push(seen);
    if (window.__hmsCspReport) { window.__hmsCspReport(seen); }
  });
})();
"""
CSP_VIOLATIONS = "csp_violations"


def _new_page(browser: Browser, base_url: str, *, javascript: bool = True) -> Page:
    context = browser.new_context(
        base_url=base_url,
        viewport={"width": 1280, "height": 900},
        java_script_enabled=javascript,
        locale="en-US",
    )
    context.set_default_timeout(15_000)
    violations: list[dict[str, Any]] = []
    setattr(context, CSP_VIOLATIONS, violations)

    def report(violation: dict[str, Any]) -> None:
        violations.append(violation)

    context.expose_function("__hmsCspReport", report)
    context.add_init_script(CSP_COLLECTOR)
    return context.new_page()


def csp_violations(page: Page) -> list[dict[str, Any]]:
    """What the Content-Security-Policy refused on every page this page's context opened."""
    seen: list[dict[str, Any]] = getattr(page.context, CSP_VIOLATIONS)
    if not page.is_closed():
        # The current document's list also holds a report whose binding call is still queued.
        try:
            current = page.evaluate("window.__hmsCspViolations || []")
        except PlaywrightError:  # a page that was navigating or had JavaScript off
            current = []
        seen.extend(v for v in current if v not in seen)
    return seen


def close_asserting_no_csp_violation(page: Page) -> None:
    """Close the page's context; fail the test if the portal's policy refused anything."""
    seen = csp_violations(page)
    page.context.close()
    assert seen == [], f"Content-Security-Policy violations: {seen}"


@pytest.fixture
def page(browser: Browser, live_server: Any) -> Iterator[Page]:
    """A fresh browser context (no cookies) on the live server; the test fails on any
    Content-Security-Policy violation on the pages it opened."""
    opened = _new_page(browser, live_server.url)
    yield opened
    close_asserting_no_csp_violation(opened)


@pytest.fixture
def page_without_js(browser: Browser, live_server: Any) -> Iterator[Page]:
    """The same, with JavaScript switched off: the forms must still work."""
    opened = _new_page(browser, live_server.url, javascript=False)
    yield opened
    close_asserting_no_csp_violation(opened)


@pytest.fixture
def sign_in() -> Callable[[Page, Any], None]:
    """Sign `user` in through allauth's sign-in form, as a person would."""

    def _sign_in(page: Page, user: Any) -> None:
        staff = is_staff_member(user)
        if staff:
            enrol_totp(user)
        page.goto("/accounts/login/")
        page.get_by_label("Email").fill(user.email)
        page.get_by_label("Password").fill(PASSWORD)
        page.locator("main").get_by_role("button", name="Sign In").click()
        if staff:
            # Staff pass a second factor: the code their authenticator app shows now.
            page.locator("input[name=code]").fill(totp_code())
            page.locator("main").get_by_role("button", name="Sign In").click()
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()

    return _sign_in


@pytest.fixture
def sign_out() -> Callable[[Page], None]:
    """Sign out with the header's button (allauth signs out on POST only)."""

    def _sign_out(page: Page) -> None:
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("link", name="Sign in")).to_be_visible()

    return _sign_out


@pytest.fixture
def shoot(screenshot_dir: Path) -> Callable[[Page, str], Path]:
    """Save a full-page screenshot named after the page, after checking USWDS styled it."""

    def _shoot(page: Page, name: str) -> Path:
        assert_uswds_styled(page)
        path = screenshot_dir / f"{re.sub(r'[^a-z0-9-]+', '-', name.lower())}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return _shoot


def assert_uswds_styled(page: Page) -> None:
    """USWDS's stylesheet loaded and applies: the banner and a primary button look like USWDS."""
    expect(page.locator(".usa-banner")).to_be_visible()
    font = page.evaluate("getComputedStyle(document.querySelector('.usa-banner')).fontFamily")
    assert "Source Sans Pro Web" in font, font
    colour = page.evaluate(
        "(() => { const b = document.createElement('button'); b.className = 'usa-button';"
        " document.body.appendChild(b); const c = getComputedStyle(b).backgroundColor;"
        " b.remove(); return c; })()"
    )
    assert colour == USWDS_PRIMARY, colour


AXE_JS = Path(__file__).resolve().parent / "assets" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


@pytest.fixture(scope="session")
def axe_source() -> str:
    """axe-core's script, copied from npm by `npm run build` (never served by the portal)."""
    require_service(AXE_JS.exists(), "axe-core (npm ci && npm run build)")
    return AXE_JS.read_text(encoding="utf-8")


def axe_violations(page: Page, source: str) -> list[dict[str, Any]]:
    """Run axe-core on the page at the WCAG 2.0/2.1 A and AA tags; its violations, each with
    the rule, impact and the first few offending elements."""
    # Evaluated through the DevTools protocol, not as a <script> the page's policy would refuse.
    page.evaluate(source)
    result = page.evaluate(
        """async (tags) => {
            const r = await axe.run(document, {runOnly: {type: "tag", values: tags},
                                               resultTypes: ["violations"]});
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ") + " :: "
                                                   + n.failureSummary)}));
        }""",
        AXE_TAGS,
    )
    return list(result)


@pytest.fixture
def check_accessible(axe_source: str) -> Callable[[Page, str], None]:
    """Assert the page has no axe violation and, at 320 px wide, no sideways scrolling."""

    def _check(page: Page, name: str) -> None:
        page.wait_for_load_state("load")
        violations = axe_violations(page, axe_source)
        assert violations == [], f"{name} ({page.url}): {violations}"
        size = page.viewport_size
        page.set_viewport_size({"width": 320, "height": 640})
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        wide = page.evaluate(
            """() => { const edge = document.documentElement.clientWidth + 1;
                return [...document.querySelectorAll("body *")]
                  .filter(e => e.getBoundingClientRect().right > edge)
                  .slice(0, 5).map(e => e.tagName + "." + e.className); }"""
        )
        narrow = axe_violations(page, axe_source)
        if size:
            page.set_viewport_size(size)
        assert overflow <= 0, f"{name} scrolls sideways by {overflow}px at 320px wide: {wide}"
        assert narrow == [], f"{name} at 320px ({page.url}): {narrow}"

    return _check
