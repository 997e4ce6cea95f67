"""The `money` template filter: integer minor units shown as the civilian reads them."""

from __future__ import annotations

import pytest
from django.template import Context, Template

from core.templatetags.money import money


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        (125_000, "USD", "$1,250.00"),
        (0, "USD", "$0.00"),
        (5, "USD", "$0.05"),
        (-125_050, "USD", "-$1,250.50"),
        (10_000_000_000, "USD", "$100,000,000.00"),
        (99, "usd", "$0.99"),
        (125_000, "CAD", "1,250.00 CAD"),
        (1_250, "JPY", "¥1,250"),
        (1_250_125, "KWD", "1,250.125 KWD"),
        ("125000", "USD", "$1,250.00"),
    ],
)
def test_money_formats_minor_units(amount: object, currency: str, shown: str) -> None:
    assert money(amount, currency) == shown


def test_money_defaults_to_dollars_without_a_currency() -> None:
    assert money(250) == "$2.50"


@pytest.mark.parametrize("amount", [None, "", "abc", 12.5, True])
def test_money_shows_a_dash_when_there_is_no_whole_amount(amount: object) -> None:
    assert money(amount, "USD") == "—"


def test_money_is_exact_for_amounts_floats_would_round() -> None:
    assert money(9_007_199_254_740_993, "USD") == "$90,071,992,547,409.93"


def test_money_filter_in_a_template() -> None:
    rendered = Template("{% load money %}{{ amount|money:currency }}").render(
        Context({"amount": 125_000, "currency": "USD"})
    )
    assert rendered == "$1,250.00"
