"""The exchange round's pages in a real browser: axe-core (WCAG 2.0/2.1 A and AA) on the
participant's page (listing, ranking with plain selects from the keyboard, an error, the
outcome) and the public results, in English and Spanish."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from exchange.models import ExchangeRanking
from tests.exchange import conftest as exchange_fixtures
from tests.exchange.conftest import join, make_round, rank, solved

# The exchange tests' fixtures these pages need (the browser ones come from tests/e2e).
officer = exchange_fixtures.officer

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_participant_page_and_the_results_are_accessible(
    page: Page,
    sign_in: Any,
    check_accessible: Any,
    language: str,
    civilian: Any,
    officer: Any,
    housing: Any,
) -> None:
    round_ = make_round(officer, housing)
    others = join(round_, ["ben", "cat"])
    rank(others, {0: [1], 1: [0]})
    sign_in(page, civilian)
    page.goto("/exchange/")
    if language == "es":
        page.get_by_role("button", name="Español").click()
        expect(page.locator("html")).to_have_attribute("lang", "es")
    check_accessible(page, "exchange rounds")
    page.goto(f"/exchange/{round_.pk}/")
    check_accessible(page, "exchange round, listing")

    list_button = "Publicar mi artículo" if language == "es" else "List my item"
    page.get_by_role("button", name=list_button).click()
    expect(page.locator("#error-summary")).to_be_visible()
    check_accessible(page, "exchange round, listing with an error")
    page.get_by_label("Título" if language == "es" else "Title").fill("Flat 2, Elm Court")
    page.get_by_role("button", name=list_button).click()
    expect(page.locator(".usa-alert--success")).to_be_visible()
    check_accessible(page, "exchange round, ranking")

    # Ranking by keyboard: focus each select and choose a place with the arrow keys.
    save = "Guardar mi clasificación" if language == "es" else "Save my ranking"
    ben, cat = page.get_by_label("Home BEN"), page.get_by_label("Home CAT")
    ben.select_option("1")
    cat.select_option("1")
    page.get_by_role("button", name=save).click()
    expect(page.locator("#error-summary")).to_be_visible()
    check_accessible(page, "exchange round, ranking with an error")
    page.get_by_label("Home CAT").focus()
    page.keyboard.press("ArrowDown")  # "1" → "2" without opening the list
    page.get_by_label("Home BEN").select_option("1")
    page.get_by_role("button", name=save).click()
    expect(page.locator(".usa-alert--success")).to_be_visible()
    assert list(
        ExchangeRanking.objects.filter(item__holder=civilian).values_list(
            "ranked__title", "position"
        )
    ) == [("Home BEN", 1), ("Home CAT", 2)]

    solved(round_, officer)
    page.reload()
    check_accessible(page, "exchange round, outcome")
    page.goto(f"/exchange/{round_.pk}/results/")
    check_accessible(page, "exchange results")
    expect(page.locator("h1")).to_contain_text(round_.title)
