"""The participant's page of an exchange round (list an item, rank the others, withdraw, read
the outcome and why) and the public results (counts, cycles by length, the rule, seed and
hashes: no names, no descriptions).

Every change goes through `exchange.services`; a refusal shows beside the field it concerns
and changes nothing.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from . import selectors, services
from .forms import ItemForm, RankingForm, add_refusal
from .models import ExchangeRound, ExchangeState


@require_safe
def round_list(request: HttpRequest) -> HttpResponse:
    rounds = selectors.rounds_for_participants()[:100]
    return render(request, "exchange/round_list.html", {"rounds": rounds})


def _ranking_open(round_: ExchangeRound) -> bool:
    now = timezone.now()
    return round_.state == ExchangeState.OPEN and round_.opens_at <= now < round_.closes_at


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def round_page(request: HttpRequest, round_id: int) -> HttpResponse:
    """`action` in a POST: `list` (list my item), `rank` (save my ranking), `withdraw`."""
    round_ = selectors.round_for_participant(round_id)
    user: Any = request.user
    own = selectors.item_of(round_, user)
    others = selectors.items_to_rank(round_, own) if own else []
    item_form = ItemForm()
    ranking_form = None
    if own is not None and own.withdrawn_at is None:
        initial = {f"rank_{k}": str(v) for k, v in selectors.ranking_of(own).items()}
        ranking_form = RankingForm(initial=initial, items=others)
    status = 200
    action = request.POST.get("action") if request.method == "POST" else None
    if action == "list":
        item_form = ItemForm(request.POST, request.FILES)
        if item_form.is_valid():
            try:
                services.item_list(
                    actor=user, round_id=round_.pk, holder=user, **item_form.cleaned_data
                )
            except services.ExchangeError as refused:
                add_refusal(item_form, refused)
            else:
                messages.success(request, _("Your item is listed. Now rank the others."))
                return redirect("exchange:round", round_id=round_.pk)
        status = 400
    elif action == "rank" and own is not None:
        ranking_form = RankingForm(request.POST, items=others)
        if ranking_form.is_valid():
            try:
                services.rankings_set(
                    actor=user, item_id=own.pk, ranked_ids=ranking_form.ranked_ids()
                )
            except services.ExchangeError as refused:
                add_refusal(ranking_form, refused)
            else:
                messages.success(
                    request, _("Your ranking is saved. You can change it until ranking closes.")
                )
                return redirect("exchange:round", round_id=round_.pk)
        status = 409 if not _ranking_open(round_) else 400
    elif action == "withdraw" and own is not None:
        try:
            services.item_withdraw(actor=user, item_id=own.pk)
        except services.ExchangeError as refused:
            messages.error(request, " ".join(refused.messages))
            status = 409
        else:
            messages.success(request, _("Your item is withdrawn from the round."))
            return redirect("exchange:round", round_id=round_.pk)
    elif action is not None:
        status = 400
    assignment, explanation = selectors.outcome_of(own) if own else (None, "")
    return render(
        request,
        "exchange/round_page.html",
        {
            "round": round_,
            "own": own,
            "item_form": item_form,
            "ranking_form": ranking_form,
            "can_list": own is None
            and round_.state == ExchangeState.OPEN
            and round_.closes_at > timezone.now(),
            "ranking_open": _ranking_open(round_),
            "assignment": assignment,
            "explanation": explanation,
            "published": round_.state in selectors.SOLVED_STATES,
            "others": others,
        },
        status=status,
    )


@never_cache
@login_required
@require_safe
def item_photo(request: HttpRequest, round_id: int, item_id: int) -> HttpResponseBase:
    """An item's photo, to the round's participants and to staff who may see items; anyone
    else gets 404. Served inline as the image type its first bytes say, in a sandbox."""
    user: Any = request.user  # signed in: login_required
    item = selectors.photo_for(user=user, round_id=round_id, item_id=item_id)
    if item is None:
        raise Http404(_("No such photo."))
    kind = "png" if (item.photo.name or "").endswith(".png") else "jpeg"
    response = FileResponse(item.photo.open("rb"), content_type=f"image/{kind}")
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_safe
def round_results(request: HttpRequest, round_id: int) -> HttpResponse:
    round_ = selectors.round_published(round_id)
    return render(
        request,
        "exchange/round_results.html",
        {"round": round_, "results": selectors.results_of(round_)},
    )


@require_safe
def round_snapshot(request: HttpRequest, round_id: int) -> HttpResponse:
    """The exact bytes whose SHA-256 is the round's input hash in force."""
    round_ = selectors.round_published(round_id)
    data = selectors.snapshot_in_force(round_).data.encode("utf-8")
    response = HttpResponse(data, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="exchange-{round_.pk}-snapshot.json"'
    return response
