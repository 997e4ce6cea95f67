"""A request's review: staff start it, ask the civilian for information, recommend it for
approval; governance's decision approves, rejects or returns it; staff fulfil it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from allocations import services as allocations
from allocations.models import ClaimStatus
from core.money import format_money
from governance import services as governance
from governance.models import Outcome
from ledger import services as ledger
from ledger.models import OwnerKind

from .. import messages as standard
from ..errors import ERR_MESSAGE_REQUIRED, RequestError, text_validate_printable
from ..models import EventKind, ServiceRequest
from .assignment import assign_automatically
from .common import event_record, is_requester, save_with_history, step

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from governance.models import ApprovalCase, Decision

SUBJECT_KIND = "service_request"
ERR_NOTE_REQUIRED = _("Write why you recommend approval: supervisors read it before deciding.")


@transaction.atomic
def request_start_review(*, actor: User, request_id: int) -> ServiceRequest:
    """A reviewer starts reviewing a new request (assigning it to themselves if unassigned)."""
    request = step(actor=actor, request_id=request_id, transition="start_review", action="reviewed")
    if request.assignee_id is None:
        request.assignee = actor
    save_with_history(request, actor=actor, reason="review started")
    # The confirmation page promises this email ("when the review starts").
    event_record(
        request,
        kind=EventKind.REVIEW_STARTED,
        actor=actor,
        message=standard.english(standard.REVIEW_STARTED),
        notify=True,
    )
    return request


@transaction.atomic
def request_ask_info(*, actor: User, request_id: int, message: str) -> ServiceRequest:
    """Ask the civilian for more information; they are emailed the question."""
    message = (message or "").strip()
    if not message:
        raise RequestError(ERR_MESSAGE_REQUIRED, code="message")
    request = step(
        actor=actor,
        request_id=request_id,
        transition="request_info",
        action="sent back for information",
    )
    save_with_history(request, actor=actor, reason="information requested")
    event_record(request, kind=EventKind.INFO_REQUESTED, actor=actor, message=message, notify=True)
    return request


@transaction.atomic
def request_provide_info(*, actor: User, request_id: int, message: str) -> ServiceRequest:
    """The civilian answers a request for information; review resumes."""
    message = (message or "").strip()
    if not message:
        raise RequestError(ERR_MESSAGE_REQUIRED, code="message")
    request = step(
        actor=actor,
        request_id=request_id,
        transition="receive_info",
        action=str(_("answered")),
        check=is_requester,
    )
    save_with_history(request, actor=actor, reason="information provided")
    event_record(request, kind=EventKind.INFO_PROVIDED, actor=actor, message=message)
    return request


def request_validate_note(note: str) -> str:
    """The recommendation's reasons are required (a field error on `note`)."""
    note = (note or "").strip()
    if not note:
        raise RequestError({"note": [ERR_NOTE_REQUIRED]})
    text_validate_printable(note)
    return note


@transaction.atomic
def request_recommend(*, actor: User, request_id: int, note: str) -> ServiceRequest:
    """The reviewer recommends approval, giving their reasons (required, kept with the request
    and shown to supervisors): an approval case opens for the program's supervisors."""
    note = request_validate_note(note)
    request = step(actor=actor, request_id=request_id, transition="recommend", action="recommended")
    amount = ""
    if request.amount_minor is not None:
        amount = f" for {format_money(request.amount_minor, request.currency)}"
    request.approval_case = governance.case_open(
        actor=actor,
        program=request.service_type.program,
        subject_kind=SUBJECT_KIND,
        subject_label=f"{request.tracking_number} · {request.service_type.name}{amount}",
        summary=note + "\n\n" + request.description,
        amount_minor=request.amount_minor,
        currency=request.currency if request.amount_minor is not None else "",
        maker=request.requester,
        recommender=actor,
        scope_key=request.service_type.code,
    )
    request.recommended_by = actor
    request.recommendation_note = note
    save_with_history(request, actor=actor, reason="recommended for approval")
    # Emailed like every public step ("we reply by email at each step").
    event_record(
        request,
        kind=EventKind.RECOMMENDED,
        actor=actor,
        message=standard.english(standard.RECOMMENDED),
        notify=True,
    )
    return request


def _fund_claim(request: ServiceRequest, *, actor: User) -> None:
    """Make the approved request's claim on its fund and move the request on accordingly."""
    service_type = request.service_type
    fund = service_type.fund
    if fund is None or request.amount_minor is None:
        raise RequestError("Only a funding request with an amount can claim funds.", code="state")
    payee = ledger.payee_account_for(
        actor=actor,
        owner_kind=OwnerKind.CIVILIAN,
        owner_ref=str(request.requester_id),
        name=f"Payable to {request.contact_name}",
        currency=request.currency,
    )
    claim = allocations.claim_submit(
        actor=actor,
        fund=fund,
        reference=request.tracking_number,
        amount_minor=request.amount_minor,
        currency=request.currency,
        payee_account=payee,
    )
    request.claim = claim
    if claim.status == ClaimStatus.GRANTED:
        request.fund()
        kind, message = (
            EventKind.FUNDED,
            standard.english(
                standard.FUNDED, amount=format_money(claim.granted_minor, claim.currency)
            ),
        )
    else:
        request.wait_for_funds()
        kind, message = (
            EventKind.AWAITING_FUNDS,
            standard.english(standard.AWAITING_FUNDS),
        )
    save_with_history(request, actor=actor, reason=kind)
    event_record(request, kind=kind, actor=actor, message=message, notify=True)


def request_on_decision(case: ApprovalCase, decision: Decision, actor: User) -> None:
    """Governance's final outcome on a request's case (runs inside the decision's transaction).

    Approve and reject end the request's approval; return (a supervisor sends it back with a
    reason) and recall (the submitter withdraws it before any decision) put it back in review,
    where a new recommendation opens a new case.
    """
    request = (
        ServiceRequest.objects.select_for_update(of=("self",))
        .select_related("service_type__fund")
        .get(approval_case=case)
    )
    if decision.outcome in (Outcome.RETURN, Outcome.RECALL):
        request.send_back()
        returned = decision.outcome == Outcome.RETURN
        save_with_history(
            request, actor=actor, reason="returned to review" if returned else "recalled"
        )
        # Affinity: it goes back to whoever had it, while they can take it.
        assign_automatically(
            request,
            affinity_id=request.assignee_id or request.recommended_by_id,
            why="returned",
        )
        event_record(
            request,
            kind=EventKind.REVIEW_STARTED,
            actor=actor,
            public=not returned,
            message=(
                f"Returned to review by {decision.decided_by_label}: {decision.reason}"
                if returned
                else standard.english(standard.RECALLED)
            ),
        )
        return
    if decision.outcome == Outcome.REJECT:
        request.reject()
        save_with_history(request, actor=actor, reason="rejected")
        event_record(
            request, kind=EventKind.REJECTED, actor=actor, message=decision.reason, notify=True
        )
        return
    request.approve()
    save_with_history(request, actor=actor, reason="approved")
    if request.service_type.is_funding:
        event_record(
            request,
            kind=EventKind.APPROVED,
            actor=actor,
            message=standard.english(standard.APPROVED),
        )
        _fund_claim(request, actor=actor)
    else:
        event_record(
            request,
            kind=EventKind.APPROVED,
            actor=actor,
            message=standard.english(standard.APPROVED_STAFF),
            notify=True,
        )


@transaction.atomic
def request_fulfil(*, actor: User, request_id: int) -> ServiceRequest:
    """Staff mark the request fulfilled; for a funded request the obligation is posted."""
    request = step(actor=actor, request_id=request_id, transition="fulfil", action="fulfilled")
    message = standard.english(standard.FULFILLED)
    if request.claim_id is not None:
        claim = allocations.claim_pay(actor=actor, claim_id=request.claim_id)
        message = standard.english(
            standard.PAID, amount=format_money(claim.granted_minor, claim.currency)
        )
    save_with_history(request, actor=actor, reason="fulfilled")
    event_record(request, kind=EventKind.FULFILLED, actor=actor, message=message, notify=True)
    return request
