"""The `money` template filter: amounts held as integer minor units, shown by `format_money`."""

from __future__ import annotations

from django import template

from ledger.money import format_money

register = template.Library()

MISSING = "—"


@register.filter
def money(amount_minor: object, currency: str = "USD") -> str:
    """`{{ amount_minor|money:currency }}`: "$1,250.00"; "—" when there is no amount."""
    if amount_minor is None or amount_minor == "" or isinstance(amount_minor, bool):
        return MISSING
    if isinstance(amount_minor, int):
        value = amount_minor
    elif isinstance(amount_minor, str) and amount_minor.strip().lstrip("-").isdigit():
        value = int(amount_minor.strip())
    else:
        return MISSING
    return format_money(value, currency)
