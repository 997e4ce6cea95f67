"""The workflow screens: the inbox of cases a user may decide now, the case page with its
decision form, delegations given and received, and the auditor's authority report.

Views parse input, call one selector or service, and respond; every rule lives in services.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from core.authn.reauth import require_recent_authentication
from core.permissions import request_permissions

from . import conf, selectors, services
from .diagram import case_flowchart
from .forms import (
    AuthorityReportForm,
    DecisionForm,
    DelegationForm,
    MoneyField,
    RecallForm,
    RevokeForm,
)
from .models import CaseStatus, Delegation, Program
from .rows import InboxRows
from .subjects import subject_details

AUDIT_PERMISSION = "governance.view_delegation"


def _staff_only(request: HttpRequest) -> None:
    if not request.user.is_staff:  # type: ignore[union-attr]
        raise Http404


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None  # type: ignore[arg-type]
    except ValueError:
        return None


def _large_approval(case: Any, outcome: str) -> bool:
    return outcome == "approve" and (case.amount_minor or 0) > conf.reauthenticate_above_minor()


def _amount(value: str | None) -> int | None:
    try:
        return MoneyField().to_python(value)
    except Exception:  # a typo in a filter box only drops that filter
        return None


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    _staff_only(request)
    params = request.GET
    filters = selectors.InboxFilters(
        program=_int(params.get("program")),
        step=_int(params.get("step")),
        amount_min=_amount(params.get("amount_min")),
        amount_max=_amount(params.get("amount_max")),
        sort=params.get("sort", "due") if params.get("sort") in selectors.SORTS else "due",
    )
    now = timezone.now()
    box = selectors.case_inbox(user=request.user, filters=filters, now=now)
    show = "all" if params.get("show") == "all" else "open"
    cases = box.cases
    if show == "all":
        cases = selectors.cases_in_scope(user=request.user, inbox=box, filters=filters)
    size = conf.inbox_page_size()
    page = max(_int(params.get("page")) or 1, 1)
    cases_of_page, total = selectors.page_of(cases, (page - 1) * size, size, now)
    rows = InboxRows(show_all=show == "all").render(
        (case, box.via(case) if show == "open" else None) for case in cases_of_page
    )
    query = params.copy()
    query.pop("page", None)
    query.pop("sort", None)
    return render(
        request,
        "governance/inbox.html",
        {
            "rows": rows,
            "total": total,
            "now": now,
            "filters": filters,
            "amount_min": params.get("amount_min", ""),
            "amount_max": params.get("amount_max", ""),
            "may_audit": request.user.has_perm(AUDIT_PERMISSION),
            "programs": Program.objects.filter(pk__in=box.programs).order_by("name"),
            "sorts": [
                ("due", _("Due, overdue first")),
                ("-due", _("Due, latest first")),
                ("amount", _("Amount, smallest first")),
                ("-amount", _("Amount, largest first")),
                ("opened", _("Opened, oldest first")),
            ],
            "page": page,
            "has_next": page * size < total,
            "query": query.urlencode(),
            "delegations": box.delegations,
            "show": show,
        },
    )


def _case_context(request: HttpRequest, case: Any, **extra: Any) -> dict[str, Any]:
    steps = list(case.steps.select_related("step__group", "step__escalate_to").order_by("order"))
    return {
        "case": case,
        "steps": steps,
        "flowchart": case_flowchart(case, steps) if steps else "",
        "timeline": selectors.case_timeline(case),
        "is_maker": case.maker_id == request.user.pk,
        "subject": subject_details(case=case, viewer=request.user),
        **extra,
    }


# Mermaid draws the steps as an SVG carrying its own <style> element and style attributes, which
# no nonce can cover: this page alone allows inline styles. Scripts stay as strict as elsewhere.
CASE_PAGE_CSP = {"style-src": [UNSAFE_INLINE]}


@login_required
@require_http_methods(["GET", "POST"])
@csp_update(CASE_PAGE_CSP)  # type: ignore[arg-type]  # django-csp types views as (request) only
def case_detail(request: HttpRequest, case_id: int) -> HttpResponse:
    _staff_only(request)
    case = selectors.case_for_viewer(
        user=request.user, case_id=case_id, checker=request_permissions(request)
    )
    if case is None:
        raise Http404(_("No case you may decide has that number."))
    refusal = None
    authority = None
    if case.status == CaseStatus.OPEN or request.method == "POST":
        try:
            authority = services.case_validate_decider(actor=request.user, case=case)  # type: ignore[arg-type]
        except services.GovernanceError as error:
            refusal = error.messages[0]
    elif case.status == CaseStatus.BLOCKED:
        refusal = services.ERR_BLOCKED.format(reason=case.blocked_reason)
    step = case.current_step.step if case.current_step_id else None  # type: ignore[union-attr]
    form = DecisionForm(request.POST or None, step=step)
    status = 200
    if request.method == "POST":
        status = 400
        if refusal is None and form.is_valid():
            if _large_approval(case, form.cleaned_data["outcome"]):
                require_recent_authentication(request)
            try:
                services.case_decide(
                    actor=request.user,  # type: ignore[arg-type]
                    case_id=case.pk,
                    outcome=form.cleaned_data["outcome"],
                    reason=form.cleaned_data["reason"],
                )
            except services.GovernanceError as error:
                # Most often a concurrent decider got there first: say so, change nothing.
                form.add_error(None, error.messages[0])
            else:
                messages.success(request, _("Decision recorded for %s.") % case.subject_label)
                return redirect("governance:inbox")
    return render(
        request,
        "governance/case.html",
        _case_context(
            request,
            case,
            form=form,
            refusal=refusal,
            authority=authority,
            recall_form=RecallForm(),
        ),
        status=status,
    )


@login_required
@require_POST
def case_recall(request: HttpRequest, case_id: int) -> HttpResponse:
    _staff_only(request)
    case = selectors.case_for_viewer(
        user=request.user, case_id=case_id, checker=request_permissions(request)
    )
    if case is None:
        raise Http404
    form = RecallForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    try:
        services.case_recall(actor=request.user, case_id=case.pk, reason=reason)  # type: ignore[arg-type]
    except services.GovernanceError as error:
        messages.error(request, error.messages[0])
        return redirect("governance:case", case_id=case.pk)
    messages.success(request, _("You recalled %s.") % case.subject_label)
    return redirect("governance:case", case_id=case.pk)


@login_required
@require_http_methods(["GET", "POST"])
def delegations(request: HttpRequest) -> HttpResponse:
    _staff_only(request)
    user = request.user
    form = DelegationForm(request.POST or None, user=user)  # type: ignore[arg-type]
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.delegation_create(
                    actor=user,  # type: ignore[arg-type]
                    delegate=data["delegate"],
                    program=data["program"],
                    subject_kind=data["subject_kind"] or "",
                    scope_key=data["scope_key"] or "",
                    step_order=data["step_order"],
                    ceiling_minor=data["ceiling"],
                    starts_at=data["starts_at"],
                    ends_at=data["ends_at"],
                    reason=data["reason"],
                )
            except services.GovernanceError as error:
                form.add_error(None, error.messages[0])
            else:
                messages.success(request, _("Delegation recorded."))
                return redirect("governance:delegations")
    given, received = selectors.delegations_for(user=user)  # type: ignore[arg-type]
    return render(
        request,
        "governance/delegations.html",
        {
            "form": form,
            "given": given[:200],
            "received": received[:200],
            "now": timezone.now(),
            "may_delegate": form.fields["program"].queryset.exists(),  # type: ignore[attr-defined]
        },
        status=status,
    )


@login_required
@require_POST
def delegation_revoke(request: HttpRequest, delegation_id: int) -> HttpResponse:
    _staff_only(request)
    delegation = Delegation.objects.filter(pk=delegation_id).first()
    if delegation is None or not (
        delegation.delegator_id == request.user.pk or request.user.is_superuser  # type: ignore[union-attr]
    ):
        raise Http404
    form = RevokeForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    try:
        services.delegation_revoke(actor=request.user, delegation_id=delegation.pk, reason=reason)  # type: ignore[arg-type]
    except services.GovernanceError as error:
        messages.error(request, error.messages[0])
    else:
        messages.success(request, _("Delegation revoked: it no longer gives any authority."))
    return redirect("governance:delegations")


@login_required
def authority_report(request: HttpRequest) -> HttpResponse:
    """Auditors (and administrators): who could decide what, and through which delegation,
    at any past moment, rebuilt from history."""
    _staff_only(request)
    if not request.user.has_perm(AUDIT_PERMISSION):
        raise PermissionDenied
    form = AuthorityReportForm(request.GET or None)
    moment: datetime = timezone.now()
    if form.is_valid() and form.cleaned_data.get("moment"):
        moment = form.cleaned_data["moment"]
    rows = selectors.authority_as_of(moment=moment)
    return render(
        request,
        "governance/authority_report.html",
        {"form": form, "rows": rows, "moment": moment},
    )
