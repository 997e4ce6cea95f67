"""`/oversight/`: the bureau's figures for supervisors, finance officers, auditors and
administrators (the `view_outcomes` permission; 403 for anyone else, civilians and reviewers
included). Staff pages sit behind the second factor (`core.authn`). Each figure is a tile or
a table, readable without JavaScript and printable; the period and program are GET filters
checked by `oversight.query`."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from governance import selectors as governance

from . import selectors
from .figures import outcomes
from .query import QueryError, parse_query


@login_required
def overview(request: HttpRequest) -> HttpResponse:
    if not selectors.may_view_outcomes(request.user):
        raise PermissionDenied
    visible = selectors.program_ids_visible_to(request.user)
    programs = governance.programs_for_ids(program_ids=visible)
    asked = {name: request.GET.get(name, "").strip() for name in ("since", "until", "program")}
    try:
        query = parse_query(
            since=asked["since"],
            until=asked["until"],
            program=asked["program"],
            visible_program_ids=visible,
        )
    except QueryError as error:
        refused = {"errors": error.errors, "asked": asked, "programs": programs}
        return render(request, "oversight/overview.html", refused, status=400)
    figures = outcomes(since=query.since, until=query.until, program_ids=query.program_ids)
    context: dict[str, Any] = {
        "figures": figures,
        "json": figures.as_json(),
        "times": [
            (_("First response"), figures.first_response),
            (_("Decision"), figures.decision),
            (_("Resolution"), figures.resolution),
        ],
        "workload": sorted(figures.open_by_reviewer.items()),
        "asked": asked,
        "programs": programs,
    }
    return render(request, "oversight/overview.html", context)
