"""The participant's money form: pay a participant or move between one's own accounts."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.forms import MoneyField
from ledger.models import Account, OwnerKind

from .services import transfers

# Organisations may be listed by name to anyone; civilians are reached by account code only.
LISTED_PAYEE_KINDS: list[str] = [OwnerKind.VENDOR, OwnerKind.AGENCY]

REFUSALS: dict[str, Any] = {
    "exceeds_credits": gettext_lazy(
        "There is not enough money available in this account for that amount."
    ),
    "currency_mismatch": gettext_lazy("Both accounts must be in the same currency."),
    "account_closed": gettext_lazy("One of the two accounts is closed: no money can move."),
    "same_account": gettext_lazy("Choose another account to pay into."),
    "unknown_account": transfers.ERR_NO_PAYEE,
    "forbidden": transfers.ERR_NOT_YOURS,
    "second_factor": transfers.ERR_SECOND_FACTOR,
    "idempotency_conflict": gettext_lazy(
        "This form was already used for another transfer: reload the page and try again."
    ),
    "invalid_text": gettext_lazy(
        "The note or the account code contains characters that cannot be stored."
    ),
    "invalid_amount": gettext_lazy("Enter an amount above zero."),
    "invalid_key": transfers.ERR_KEY,
}


class MoveMoneyForm(forms.Form):
    """Pay a participant or move between one's own accounts, confirmed with the second factor."""

    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=64)
    from_account = forms.TypedChoiceField(label=gettext_lazy("From"), coerce=int)
    payee = forms.ChoiceField(
        label=gettext_lazy("To"),
        required=False,
        help_text=gettext_lazy("One of your accounts, or an organisation the bureau pays."),
    )
    account_code = forms.CharField(
        label=gettext_lazy("Or another participant's account code"),
        required=False,
        max_length=64,
        help_text=gettext_lazy("Ask the person you are paying for their account code."),
    )
    amount = MoneyField(label=gettext_lazy("Amount"))
    memo = forms.CharField(label=gettext_lazy("Note (optional)"), required=False, max_length=200)
    code = forms.CharField(
        label=gettext_lazy("Authenticator code"),
        max_length=12,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
        help_text=gettext_lazy("The 6-digit code your authenticator app shows now."),
    )

    def __init__(self, *args: Any, accounts: list[Account], payees: list[Account], **kw: Any):
        super().__init__(*args, **kw)
        source, payee = self.fields["from_account"], self.fields["payee"]
        assert isinstance(source, forms.ChoiceField)
        assert isinstance(payee, forms.ChoiceField)
        source.choices = [(a.pk, f"{a.name} ({a.code})") for a in accounts]
        own = [(a.code, _("My account: %(name)s") % {"name": a.name}) for a in accounts]
        listed = [(a.code, f"{a.name} ({a.code})") for a in payees]
        payee.choices = [("", _("Choose…")), *own, *listed]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        payee, code = data.get("payee"), (data.get("account_code") or "").strip()
        if bool(payee) == bool(code):
            raise ValidationError(
                _("Choose who to pay from the list, or enter an account code (one of the two)."),
                code="payee",
            )
        data["to_code"] = payee or code
        amount = data.get("amount")
        if amount is not None and amount <= 0:
            self.add_error("amount", REFUSALS["invalid_amount"])
        return data
