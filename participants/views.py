"""The participant's money page, `/portfolio/`: balances, reservations, recent movements, the
running position in the open clearing cycle, and moving money (`participants.services`).

`?part=balances` answers only the part the page re-fetches every few seconds (htmx), so a
transfer shows on both sides without a reload. Moving money needs the user's authenticator code
(django-allauth MFA, TOTP); a user without one is sent to set it up first.
"""

from __future__ import annotations

import uuid
from typing import Any

from allauth.mfa.models import Authenticator
from allauth.mfa.utils import is_mfa_enabled
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from core.money import format_money
from ledger import selectors as ledger_selectors
from ledger.models import Account

from . import selectors, services
from .forms import LISTED_PAYEE_KINDS, REFUSALS, MoveMoneyForm


def _context(accounts: list[Account]) -> dict[str, Any]:
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


def _form(accounts: list[Account], data: Any = None) -> MoveMoneyForm:
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
    form = _form(accounts, request.POST)
    if not form.is_valid():
        return form
    data = form.cleaned_data
    try:
        outcome = services.participant_transfer_make(
            actor=user,  # type: ignore[arg-type]
            idempotency_key=data["idempotency_key"],
            debit_account_id=data["from_account"],
            credit_account_code=data["to_code"],
            amount_minor=data["amount"],
            memo=data["memo"],
            second_factor=lambda: services.totp_code_accept(
                actor=user,  # type: ignore[arg-type]
                code=data["code"],
            ),
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
    accounts = selectors.participant_accounts(user=user)  # type: ignore[arg-type]
    if request.GET.get("part") == "balances":
        context = _context(accounts)
        return render(request, "participants/portfolio_balances.html", context)
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
        form = _form(accounts)
    # Positions, reservations and transfers only for a page to show (not a move that went).
    context = _context(accounts)
    context |= {"form": form, "mfa": mfa}
    return render(request, "participants/portfolio.html", context, status=status)
