"""The civilian's pages: file a request, list one's own requests, follow one."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from ledger import selectors as ledger_selectors
from ledger.models import OwnerKind

from . import selectors, services
from .forms import InfoForm, RequestForm
from .models import Status


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html", {"service_types": selectors.service_types_open()})


@login_required
@require_http_methods(["GET", "POST"])
def request_new(request: HttpRequest) -> HttpResponse:
    service_types = selectors.service_types_open()
    if request.method == "POST":
        form = RequestForm(request.POST, service_types=service_types)
        if form.is_valid():
            data = form.cleaned_data
            try:
                created, is_new = services.request_submit(
                    actor=request.user,  # type: ignore[arg-type]
                    service_type=data["service_type"],
                    description=data["description"],
                    contact_name=data["contact_name"],
                    contact_email=data["contact_email"],
                    contact_phone=data["contact_phone"],
                    amount_minor=data["amount"],
                    submission_token=data["submission_token"],
                )
            except services.RequestError as error:
                form.add_error(None, error.messages[0])
            else:
                if not is_new:
                    messages.info(request, _("This request was already submitted."))
                return redirect("service_requests:confirmation", created.tracking_number)
    else:
        user = request.user
        initial = {
            "submission_token": uuid.uuid4(),
            "contact_email": user.email,  # type: ignore[union-attr]
            "contact_name": user.get_full_name(),  # type: ignore[union-attr]
        }
        chosen = request.GET.get("service")
        if chosen:
            initial["service_type"] = service_types.filter(code=chosen).first()
        form = RequestForm(initial=initial, service_types=service_types)
    return render(
        request,
        "service_requests/new.html",
        {"form": form, "funding_codes": [t.pk for t in service_types if t.is_funding]},
        status=400 if form.is_bound else 200,
    )


def _own(request: HttpRequest, tracking_number: str):  # type: ignore[no-untyped-def]
    found = selectors.request_of_civilian(user=request.user, tracking_number=tracking_number)
    if found is None:
        raise Http404(_("No request of yours has that tracking number."))
    return found


@login_required
def request_confirmation(request: HttpRequest, tracking_number: str) -> HttpResponse:
    return render(
        request, "service_requests/confirmation.html", {"req": _own(request, tracking_number)}
    )


@login_required
def request_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "service_requests/list.html",
        {"requests": selectors.requests_of_civilian(user=request.user)[:200]},
    )


@login_required
def request_detail(request: HttpRequest, tracking_number: str) -> HttpResponse:
    found = _own(request, tracking_number)
    return render(
        request,
        "service_requests/detail.html",
        {
            "req": found,
            "timeline": selectors.public_timeline(request=found),
            "info_form": InfoForm() if found.status == Status.INFO_REQUESTED else None,
        },
    )


@login_required
@require_POST
def request_respond(request: HttpRequest, tracking_number: str) -> HttpResponse:
    found = _own(request, tracking_number)
    form = InfoForm(request.POST)
    if form.is_valid():
        try:
            services.request_provide_info(
                actor=request.user,  # type: ignore[arg-type]
                request_id=found.pk,
                message=form.cleaned_data["message"],
            )
        except services.RequestError as error:
            messages.error(request, error.messages[0])
        else:
            messages.success(request, _("Thank you: your answer was sent to the reviewer."))
            return redirect("service_requests:detail", found.tracking_number)
    return render(
        request,
        "service_requests/detail.html",
        {"req": found, "timeline": selectors.public_timeline(request=found), "info_form": form},
        status=400,
    )


@login_required
def portfolio(request: HttpRequest) -> HttpResponse:
    """The signed-in participant's money: balances, open reservations, recent transfers.
    `?part=balances` answers only the part the page re-fetches every few seconds."""
    accounts = list(
        ledger_selectors.accounts_owned_by(
            owner_kind=OwnerKind.CIVILIAN,
            owner_ref=str(request.user.pk),
        )
    )
    ids = [a.pk for a in accounts]
    context = {
        "accounts": accounts,
        "reservations": ledger_selectors.open_reservations(account_ids=ids),
        "transfers": ledger_selectors.transfers_touching(account_ids=ids),
        "own_ids": set(ids),
    }
    if request.GET.get("part") == "balances":
        return render(request, "service_requests/portfolio_balances.html", context)
    return render(request, "service_requests/portfolio.html", context)
