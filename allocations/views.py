"""Public pages of committed rounds: anyone can read the rule, the budget, the input hash, the
metrics and the anonymised grants, and download the frozen inputs to recompute the result.

Nothing personal is shown: grants are known by line number, claims by nothing else, and only
committed rounds are public (anything else answers 404).
"""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from . import conf, rules, selectors
from .models import RoundSnapshot


@require_safe
def round_list(request: HttpRequest) -> HttpResponse:
    rounds = selectors.rounds_committed()[:100]
    return render(
        request,
        "allocations/round_list.html",
        {"rounds": rounds, "labels": rules.LABELS},
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
