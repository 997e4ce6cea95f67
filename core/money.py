"""Money display: integer minor units beside an ISO 4217 code, formatted without floats.

The one formatter for amounts, used by the template filter, emails and service messages.
"""

from __future__ import annotations

# Digits after the decimal point, for the currencies that do not use two.
_EXPONENTS: dict[str, int] = {
    "BHD": 3,
    "CLP": 0,
    "ISK": 0,
    "JOD": 3,
    "JPY": 0,
    "KRW": 0,
    "KWD": 3,
    "OMR": 3,
    "TND": 3,
    "VND": 0,
}

# Currencies shown with a leading symbol; every other one is shown after the amount ("10.00 CAD").
_SYMBOLS: dict[str, str] = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}


def format_money(amount_minor: int, currency: str) -> str:
    """Format integer minor units: `format_money(125000, "USD")` is "$1,250.00".

    Integer arithmetic only: no float ever touches the amount.
    """
    code = (currency or "USD").upper()
    exponent = _EXPONENTS.get(code, 2)
    sign = "-" if amount_minor < 0 else ""
    units, fraction = divmod(abs(amount_minor), 10**exponent)
    number = f"{units:,}" + (f".{fraction:0{exponent}d}" if exponent else "")
    symbol = _SYMBOLS.get(code)
    if symbol:
        return f"{sign}{symbol}{number}"
    return f"{sign}{number} {code}"


MISSING = "—"


def display_money(amount_minor: object, currency: str = "USD") -> str:
    """An amount as people read it, or "—" when there is none: `None`, an empty string, a
    boolean, or text that is not a whole number of minor units. The template filter `money`
    and every screen that shows an amount outside a template use this."""
    if amount_minor is None or amount_minor == "" or isinstance(amount_minor, bool):
        return MISSING
    if isinstance(amount_minor, int):
        value = amount_minor
    elif isinstance(amount_minor, str) and amount_minor.strip().lstrip("-").isdigit():
        value = int(amount_minor.strip())
    else:
        return MISSING
    return format_money(value, currency)
