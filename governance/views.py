"""The supervisors' workflow screens: the inbox of cases they may decide, and the decision."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from . import selectors, services
from .forms import DecisionForm
from .models import CaseStatus


def _staff_only(request: HttpRequest) -> None:
    if not request.user.is_staff:  # type: ignore[union-attr]
        raise Http404


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    _staff_only(request)
    show = request.GET.get("show", "open")
    cases = selectors.case_inbox(user=request.user, include_closed=show == "all")
    return render(
        request,
        "governance/inbox.html",
        {"cases": cases[:500], "show": show},
    )


@login_required
@require_http_methods(["GET", "POST"])
def case_detail(request: HttpRequest, case_id: int) -> HttpResponse:
    _staff_only(request)
    case = selectors.case_for_decider(user=request.user, case_id=case_id)
    if case is None:
        raise Http404(_("No case you may decide has that number."))
    refusal = None
    if case.status == CaseStatus.OPEN:
        try:
            services.case_validate_decider(actor=request.user, case=case)  # type: ignore[arg-type]
        except services.GovernanceError as error:
            refusal = error.messages[0]
    form = DecisionForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if case.status != CaseStatus.OPEN:
            # A second click, or a page left open while someone else decided.
            refusal = services.ERR_NOT_OPEN.format(status=case.get_status_display().lower())
        elif refusal is None and form.is_valid():
            try:
                services.case_decide(
                    actor=request.user,  # type: ignore[arg-type]
                    case_id=case.pk,
                    outcome=form.cleaned_data["outcome"],
                    reason=form.cleaned_data["reason"],
                )
            except services.GovernanceError as error:
                form.add_error(None, error.messages[0])
            else:
                messages.success(request, _("Decision recorded for %s.") % case.subject_label)
                return redirect("governance:inbox")
    return render(
        request,
        "governance/case.html",
        {"case": case, "form": form, "refusal": refusal},
        status=status,
    )
