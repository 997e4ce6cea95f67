"""The participant's money page, `/portfolio/`: balances, reservations, recent movements, the
running position in the open clearing cycle, and moving money (`service_requests.transfers`).

`?part=balances` answers only the part the page re-fetches every few seconds (htmx), so a
transfer shows on both sides without a reload. Moving money needs the user's authenticator code
(django-allauth MFA, TOTP); a user without one is sent to set it up first.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from allauth.mfa.models import Authenticator
from allauth.mfa.utils import is_mfa_enabled
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from core.forms import MoneyField
from core.money import format_money
from ledger import selectors as ledger_selectors
from ledger.models import Account, OwnerKind

from . import transfers

if TYPE_CHECKING:
    from django.contrib.auth.models import User

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


def _second_factor(user: User, code: str) -> bool:
    """The user's TOTP authenticator accepts `code` (each code once: allauth remembers it)."""
    authenticator = Authenticator.objects.filter(
        user_id=user.pk, type=Authenticator.Type.TOTP
    ).first()
    if authenticator is None or not code:
        return False
    valid = bool(authenticator.wrap().validate_code(code.strip()))
    if valid:
        authenticator.record_usage()
    return valid


def _context(user: User, accounts: list[Account]) -> dict[str, Any]:
    ids = [a.pk for a in accounts]
    positions = ledger_selectors.cycle_open_positions(account_ids=ids)
    return {
        "accounts": accounts,
        "positions": [positions[a.pk] for a in accounts if a.pk in positions],
        "reservations": ledger_selectors.open_reservations(account_ids=ids),
        "outgoing": ledger_selectors.open_reservations(account_ids=ids, outgoing=True),
        "transfers": ledger_selectors.transfers_touching(account_ids=ids),
        "own_ids": set(ids),
    }


def _form(user: User, accounts: list[Account], data: Any = None) -> MoveMoneyForm:
    currencies = sorted({a.currency for a in accounts}) or ["USD"]
    payees = [
        p
        for currency in currencies
        for p in ledger_selectors.payee_accounts(currency=currency, owner_kinds=LISTED_PAYEE_KINDS)
    ]
    initial = {"idempotency_key": uuid.uuid4().hex}
    return MoveMoneyForm(data, accounts=accounts, payees=payees, initial=initial)


def _move(request: HttpRequest, accounts: list[Account]) -> HttpResponse | MoveMoneyForm:
    user = request.user
    form = _form(user, accounts, request.POST)  # type: ignore[arg-type]
    if not form.is_valid():
        return form
    data = form.cleaned_data
    try:
        outcome = transfers.participant_transfer_make(
            actor=user,  # type: ignore[arg-type]
            idempotency_key=data["idempotency_key"],
            debit_account_id=data["from_account"],
            credit_account_code=data["to_code"],
            amount_minor=data["amount"],
            memo=data["memo"],
            second_factor=lambda: _second_factor(user, data["code"]),  # type: ignore[arg-type]
        )
    except ValidationError as refused:
        code = getattr(refused, "code", None) or ""
        message = REFUSALS.get(code) or refused.messages[0]
        form.add_error("code" if code == "second_factor" else None, message)
        return form
    transfer = outcome.transfer
    money = format_money(transfer.amount_minor, transfer.currency)
    if outcome.waiting:
        messages.success(
            request,
            _(
                "%(money)s is reserved and waits for a second person's approval. It moves once "
                "approved, or is released if not."
            )
            % {"money": money},
        )
    else:
        messages.success(request, _("%(money)s was sent.") % {"money": money})
    return redirect("portfolio")


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def portfolio(request: HttpRequest) -> HttpResponse:
    """The signed-in participant's money (see the module's doc). POST moves money."""
    user = request.user
    accounts = transfers.participant_accounts(user=user)  # type: ignore[arg-type]
    if request.GET.get("part") == "balances":
        context = _context(user, accounts)  # type: ignore[arg-type]
        return render(request, "service_requests/portfolio_balances.html", context)
    mfa = is_mfa_enabled(user, types=[Authenticator.Type.TOTP])  # type: ignore[arg-type]
    status = 200
    form: MoveMoneyForm | None = None
    if request.method == "POST":
        if not mfa or not accounts:
            return redirect("portfolio")
        moved = _move(request, accounts)
        if isinstance(moved, HttpResponse):
            return moved
        form, status = moved, 400
    elif mfa and accounts:
        form = _form(user, accounts)  # type: ignore[arg-type]
    # Positions, reservations and transfers only for a page to show (not a move that went).
    context = _context(user, accounts)  # type: ignore[arg-type]
    context.update({"form": form, "mfa": mfa})
    return render(request, "service_requests/portfolio.html", context, status=status)
