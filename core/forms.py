"""Form fields every app's forms share."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

MAX_AMOUNT = Decimal(10) ** 13


class MoneyField(forms.Field):
    """A typed amount (“1,250.50”, “$1250”) as integer minor units; never a float.

    Accepts a finite amount below 10^13 with at most two decimals; with `allow_negative`
    off (the default) a negative amount is refused too. The format message can be replaced
    through `error_messages={"format": ...}`.
    """

    widget = forms.TextInput(attrs={"inputmode": "decimal", "maxlength": "20"})
    default_error_messages = {"format": _("Enter an amount such as 1250 or 1250.50.")}

    def __init__(self, *, allow_negative: bool = False, **kwargs: object) -> None:
        self.allow_negative = allow_negative
        super().__init__(**kwargs)  # type: ignore[arg-type]

    def to_python(self, value: object) -> int | None:  # type: ignore[override]
        text = str(value or "").strip().replace(",", "").replace("$", "").replace(" ", "")
        if not text:
            return None
        refused = ValidationError(self.error_messages["format"], code="format")
        try:
            amount = Decimal(text)
        except InvalidOperation:
            raise refused from None
        # Finite and below 10^13 first: quantize() itself fails on huge exponents ("1e30").
        if not amount.is_finite() or len(text) > 20 or abs(amount) >= MAX_AMOUNT:
            raise refused
        if amount != amount.quantize(Decimal("0.01")):
            raise refused
        if amount < 0 and not self.allow_negative:
            raise refused
        return int(amount * 100)
