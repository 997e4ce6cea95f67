"""Forms of the public pages. Rules a civilian should see as field errors run here, through the
same validators the services use."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from .models import MAX_DESCRIPTION, ServiceType
from .services import RequestError, request_validate_amount

ERR_AMOUNT_FORMAT = _("Enter an amount such as 1250 or 1250.50.")


class MoneyField(forms.Field):
    """Parses a typed amount (“1,250.50”, “$1250”) into integer minor units; never a float."""

    widget = forms.TextInput(attrs={"inputmode": "decimal", "maxlength": "20"})

    def to_python(self, value: object) -> int | None:  # type: ignore[override]
        text = str(value or "").strip().replace(",", "").replace("$", "").replace(" ", "")
        if not text:
            return None
        try:
            amount = Decimal(text)
        except InvalidOperation:
            raise ValidationError(ERR_AMOUNT_FORMAT, code="format") from None
        # Finite, below 10^13 and with at most two decimals: checked in that order, since
        # quantize() itself fails on huge exponents such as "1e30".
        if not amount.is_finite() or len(text) > 20 or abs(amount) >= Decimal(10) ** 13:
            raise ValidationError(ERR_AMOUNT_FORMAT, code="format")
        if amount != amount.quantize(Decimal("0.01")):
            raise ValidationError(ERR_AMOUNT_FORMAT, code="format")
        return int(amount * 100)


class RequestForm(forms.Form):
    """File a request. `submission_token` is issued with the page; resubmitting the same page
    returns the request the first submit made."""

    service_type = forms.ModelChoiceField(
        queryset=ServiceType.objects.none(),
        label=_("Service"),
        empty_label=_("- Select -"),
        error_messages={"invalid_choice": _("Choose one of the services listed.")},
    )
    description = forms.CharField(
        label=_("What do you need?"),
        max_length=MAX_DESCRIPTION,
        min_length=10,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("At least 10 characters, at most 5,000."),
    )
    amount = MoneyField(
        label=_("Amount requested (USD)"),
        required=False,
        help_text=_("Only for services that pay out money."),
    )
    contact_name = forms.CharField(label=_("Your full name"), max_length=120)
    contact_email = forms.EmailField(label=_("Email"), max_length=254)
    contact_phone = forms.RegexField(
        label=_("Phone (optional)"),
        required=False,
        max_length=32,
        regex=r"^[0-9+()\-. ]{7,32}$",
        error_messages={"invalid": _("Enter a phone number using digits, spaces and + ( ) - .")},
    )
    submission_token = forms.UUIDField(widget=forms.HiddenInput)

    def __init__(self, *args: object, service_types: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["service_type"].queryset = service_types  # type: ignore[attr-defined]

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        service_type = data.get("service_type")
        if service_type is not None and "amount" not in self.errors:
            try:
                request_validate_amount(service_type=service_type, amount_minor=data.get("amount"))
            except RequestError as error:
                self.add_error("amount", error.messages[0])
        return data


class InfoForm(forms.Form):
    message = forms.CharField(
        label=_("Your answer"), max_length=MAX_DESCRIPTION, widget=forms.Textarea(attrs={"rows": 5})
    )
