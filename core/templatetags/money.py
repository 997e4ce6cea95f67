"""The `money` template filter: amounts held as integer minor units, shown by `display_money`."""

from __future__ import annotations

from django import template

from core.money import MISSING, display_money

register = template.Library()

__all__ = ["MISSING", "money"]


@register.filter
def money(amount_minor: object, currency: str = "USD") -> str:
    """`{{ amount_minor|money:currency }}`: "$1,250.00"; "—" when there is no amount."""
    return display_money(amount_minor, currency)
