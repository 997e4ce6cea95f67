"""A request's status in plain words for the civilian: what it means, what happens next, and
by when (the service type's target), in the active language."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import ServiceRequest, Status

MEANING = {
    Status.SUBMITTED: _("We have your request. It is waiting for a reviewer."),
    Status.IN_REVIEW: _("A reviewer is reading your request and checking the details."),
    Status.INFO_REQUESTED: _("The reviewer needs more information from you before going on."),
    Status.PENDING_APPROVAL: _(
        "Your request was reviewed and is now with a supervisor, who makes the decision."
    ),
    Status.APPROVED: _("Your request was approved."),
    Status.AWAITING_FUNDS: _(
        "Your request was approved, but the program’s fund cannot pay it yet."  # noqa: RUF001
    ),
    Status.FUNDED: _("Your request was approved and the money is reserved for you."),
    Status.FULFILLED: _("Your request is done."),
    Status.REJECTED: _("Your request was not approved."),
    Status.WITHDRAWN: _("You withdrew this request."),
}

NEXT_STEP = {
    Status.SUBMITTED: _(
        "A reviewer will read it and may ask you questions by email. You do not need to do "
        "anything now."
    ),
    Status.IN_REVIEW: _(
        "The reviewer either sends it to a supervisor for a decision or asks you for more "
        "information. We email you either way."
    ),
    Status.INFO_REQUESTED: _(
        "Answer the reviewer’s question on this page. "  # noqa: RUF001
        "The review goes on as soon as you answer."
    ),
    Status.PENDING_APPROVAL: _("The supervisor decides. We email you the decision."),
    Status.APPROVED: _("Staff will now carry out the service. We email you when it is done."),
    Status.AWAITING_FUNDS: _(
        "It will be paid in turn as money comes into the fund. We email you when the money "
        "is reserved for you."
    ),
    Status.FUNDED: _("Staff will send the payment. We email you when it is paid."),
    Status.FULFILLED: _("Nothing more is needed from you. Please tell us how we did."),
    Status.REJECTED: _(
        "The reason is in the timeline below. If your situation changes, you can file a new "
        "request."
    ),
    Status.WITHDRAWN: _("Nothing more will happen on it. You can file a new request at any time."),
}


@dataclass(frozen=True)
class StatusStory:
    """What the request's page says about where it stands."""

    label: str
    meaning: str
    next_step: str
    target_date: date | None
    target_days: int
    overdue: bool


def status_story(request: ServiceRequest, *, today: date | None = None) -> StatusStory:
    """The plain-words status of `request`; the target date only while it is still open."""
    status = request.status
    today = today or timezone.localdate()
    open_ = not request.is_closed
    target = request.target_date if open_ else None
    return StatusStory(
        label=str(request.get_status_display()),
        meaning=str(MEANING.get(status, request.get_status_display())),
        next_step=str(NEXT_STEP.get(status, "")),
        target_date=target,
        target_days=request.service_type.target_days,
        overdue=target is not None and today > target,
    )


def answers_for_display(request: ServiceRequest) -> list[tuple[str, str]]:
    """(question, answer) pairs of the request's extra questions, in the active language where
    the service's questions still say how; else as they were asked. A request without
    answers reads no questions."""
    if not request.answers:
        return []
    questions = {q.code: q for q in request.service_type.questions.all()}
    shown: list[tuple[str, str]] = []
    for item in request.answers or []:
        if not isinstance(item, dict):
            continue
        question = questions.get(str(item.get("code")))
        label = question.display_label if question else str(item.get("question", ""))
        answer = item.get("answer")
        values = answer if isinstance(answer, list) else [answer]
        if question is not None:
            local = {english: local for _v, english, local in question.choice_list()}
            values = [local.get(str(v), v) for v in values]
        shown.append((label, ", ".join(str(v) for v in values)))
    return shown
