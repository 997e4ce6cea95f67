"""Public pages of committed rounds: anyone can read the rule, the budget, the input hash, the
metrics and the anonymised grants, and download the frozen inputs to recompute the result.

Nothing personal is shown: grants are known by line number, claims by nothing else, and only
committed rounds are public (anything else answers 404).

The voting page of a participatory round: a signed-in civilian or staff member approves the
projects they want funded, one ballot per person per round, changeable until the round freezes.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe

from . import conf, rules, selectors, services
from .forms import BallotForm
from .models import RoundSnapshot, RoundState
from .services.ballots import ERR_BALLOT_CLOSED


@require_safe
def round_list(request: HttpRequest) -> HttpResponse:
    rounds = selectors.rounds_committed()[:100]
    voting = selectors.rounds_open_for_votes()[:20]
    return render(
        request,
        "allocations/round_list.html",
        {"rounds": rounds, "voting": voting},
    )


@require_safe
def round_detail(request: HttpRequest, round_id: int) -> HttpResponse:
    round_ = selectors.round_committed(round_id)
    paginator = Paginator(selectors.grants_of(round_), int(conf.get("PUBLIC_GRANTS_PER_PAGE")))
    page = paginator.get_page(request.GET.get("page"))
    snapshot = RoundSnapshot.objects.filter(round=round_).only("sha256", "claims").first()
    return render(
        request,
        "allocations/round_detail.html",
        {
            "round": round_,
            "rule_label": rules.LABELS.get(round_.rule, round_.rule),
            "metrics_table": selectors.metrics_table(round_),
            "page": page,
            "snapshot": snapshot,
            "unspent": round_.budget_minor - round_.granted_minor,
        },
    )


@require_safe
def round_snapshot(request: HttpRequest, round_id: int) -> HttpResponse:
    """The exact bytes whose SHA-256 is the round's input hash."""
    round_ = selectors.round_committed(round_id)
    data = RoundSnapshot.objects.get(round=round_).data.encode("utf-8")
    response = HttpResponse(data, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="round-{round_.pk}-snapshot.json"'
    response["Content-Length"] = str(len(data))
    return response


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def round_vote(request: HttpRequest, round_id: int) -> HttpResponse:
    """Cast or change one's approval ballot while the round is open; afterwards, see it."""
    round_ = selectors.round_for_voting(round_id)
    projects = selectors.projects_of(round_)
    choices = [(p.claim_id, f"{p.reference} — {p.cost}") for p in projects]
    ballot = selectors.ballot_of(round_, selectors.voter_ref_for(request.user))  # type: ignore[arg-type]
    chosen = list(ballot.approvals) if ballot else []
    is_open = round_.state == RoundState.OPEN
    status = 200
    if request.method == "POST" and is_open:
        form = BallotForm(request.POST, choices=choices)
        if form.is_valid():
            try:
                services.ballot_cast_own(
                    actor=request.user,  # type: ignore[arg-type]
                    round_id=round_.pk,
                    claim_ids=form.cleaned_data["projects"],
                )
            except services.RoundError as refused:
                form.add_error("projects", refused.messages[0])
            else:
                messages.success(
                    request,
                    _("Your ballot is recorded. You can change it until voting closes."),
                )
                return redirect("allocations:vote", round_id=round_.pk)
        status = 400
    else:
        if request.method == "POST":  # the round froze while the page was open
            messages.error(request, str(ERR_BALLOT_CLOSED).format(name=round_.name))
            status = 409
        form = BallotForm(initial={"projects": chosen}, choices=choices)
    return render(
        request,
        "allocations/round_vote.html",
        {
            "round": round_,
            "form": form,
            "is_open": is_open,
            "ballot": ballot,
            "chosen": [p for p in projects if p.claim_id in set(chosen)],
        },
        status=status,
    )
