"""Filing a request and the civilian's own steps on it before a decision: validation of what
they ask, the tracking number, assignment to staff, withdrawal."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core import events
from core.audit import record_history
from core.money import format_money

from .. import messages as standard
from ..errors import ERR_NOT_ALLOWED, RequestError, text_validate_printable
from ..models import (
    MAX_AMOUNT_MINOR,
    WITHDRAWABLE_STATUSES,
    EventKind,
    QuestionKind,
    ServiceRequest,
    ServiceType,
)
from .assignment import assign_automatically
from .common import event_record, is_requester, is_reviewer, locked, refuse_stale, save_with_history

if TYPE_CHECKING:
    from django.contrib.auth.models import User

ERR_UNKNOWN_SERVICE = _("Choose one of the services listed.")
ERR_AMOUNT_REQUIRED = _("Enter the amount you are asking for.")
ERR_AMOUNT_NOT_ALLOWED = _("This service does not pay out money: leave the amount empty.")
ERR_AMOUNT_RANGE = _("Enter an amount between 0.01 and {maximum}.")
ERR_ANSWER_REQUIRED = _("Answer the question “{question}”.")
ERR_KEY_REUSED = "This Idempotency-Key was used for a different request."
ERR_NOT_WITHDRAWABLE = _(
    "{tracking_number} is now “{status}”: it can no longer be withdrawn here. Nothing was "
    "changed. To stop it now, contact the bureau and quote the tracking number."
)


def request_validate_amount(*, service_type: ServiceType, amount_minor: int | None) -> None:
    """The amount rules a form shows as field errors and the service enforces again."""
    if not service_type.is_funding:
        if amount_minor is not None:
            raise RequestError(ERR_AMOUNT_NOT_ALLOWED, code="amount_not_allowed")
        return
    if amount_minor is None:
        raise RequestError(ERR_AMOUNT_REQUIRED, code="amount_required")
    maximum = min(service_type.max_amount_minor or MAX_AMOUNT_MINOR, MAX_AMOUNT_MINOR)
    if amount_minor <= 0 or amount_minor > maximum:
        raise RequestError(
            ERR_AMOUNT_RANGE.format(maximum=format_money(maximum, service_type.currency)),
            code="amount_range",
        )


def request_answers(
    *, service_type: ServiceType, values: dict[str, object]
) -> list[dict[str, object]]:
    """The answers as stored with the request: per question, in order, its code, its English
    text and the answer (choices by their English text; dates as YYYY-MM-DD; numbers as text)."""
    stored: list[dict[str, object]] = []
    for question in service_type.questions.all():
        value = values.get(question.code)
        if value in (None, "", []):
            continue
        if question.kind in (QuestionKind.CHOICE, QuestionKind.MULTIPLE):
            english = {v: en for v, en, _shown in question.choice_list()}
            chosen = value if isinstance(value, list) else [value]
            answer: object = [english[str(v)] for v in chosen if str(v) in english]
            if question.kind == QuestionKind.CHOICE:
                answer = answer[0] if answer else ""  # type: ignore[index]
        elif hasattr(value, "isoformat"):
            answer = value.isoformat()
        else:
            answer = str(value).strip()
        stored.append({"code": question.code, "question": question.label, "answer": answer})
    return stored


def request_validate_answers(
    *, service_type: ServiceType, answers: list[dict[str, object]]
) -> None:
    """Every required question of the service is answered (the form checks each answer's
    kind; this is the service's last word)."""
    given = {a.get("code") for a in answers if a.get("answer") not in (None, "", [])}
    for question in service_type.questions.all():
        if question.required and question.code not in given:
            raise RequestError(
                ERR_ANSWER_REQUIRED.format(question=question.display_label), code="answers"
            )


def _reserve_request_id() -> int:
    """The id the new request will have; its tracking number is built from it.

    On PostgreSQL the id comes from the table's own identity sequence: no lock is held, so
    concurrent submissions never wait on each other (a rolled-back submission leaves a gap in
    the numbers). SQLite runs one writer at a time (IMMEDIATE transactions), so reading the next
    id inside the write transaction is safe there.
    """
    table = ServiceRequest._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id'))", [table])
        else:
            cursor.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table}")  # noqa: S608
        (next_id,) = cursor.fetchone()
    return int(next_id)


def tracking_number_for(*, request_id: int, year: int) -> str:
    """`HMS-2026-000123`: the submission year and the request's id, at least six digits."""
    return f"HMS-{year}-{request_id:06d}"


def request_submit(
    *,
    actor: User,
    service_type: ServiceType,
    description: str,
    contact_name: str,
    contact_email: str,
    contact_phone: str = "",
    amount_minor: int | None = None,
    submission_token: uuid.UUID | None = None,
    language: str = "en",
    answers: list[dict[str, object]] | None = None,
) -> tuple[ServiceRequest, bool]:
    """File a request for the signed-in `actor`. Returns the request and whether it is new.

    The form's one-time `submission_token` makes a double-clicked or retried submit return the
    request the first click made: the token is unique in the database, so the second insert
    fails, its transaction rolls back whole (tracking number included), and the first request
    is handed back.
    """
    token = submission_token or uuid.uuid4()
    try:
        return _submit(
            actor=actor,
            service_type=service_type,
            description=description,
            contact_name=contact_name,
            contact_email=contact_email,
            contact_phone=contact_phone,
            amount_minor=amount_minor,
            token=token,
            language=language,
            answers=answers or [],
        ), True
    except IntegrityError:
        earlier = ServiceRequest.objects.filter(submission_token=token).first()
        if earlier is None:
            raise
    if earlier.requester_id != actor.pk:
        raise RequestError(ERR_NOT_ALLOWED.format(tracking_number="—"), code="forbidden")
    return earlier, False


def request_validate_resubmission(earlier: ServiceRequest, fields: Mapping[str, Any]) -> None:
    """Refuse a retry whose submission token (an API's Idempotency-Key) names an earlier request
    that `fields` (the keyword arguments given to `request_submit`) would not have filed: one key
    names one request, and a retry must repeat it exactly. The service strips text, so it is
    compared stripped."""
    same = (
        earlier.service_type_id == fields["service_type"].pk
        and earlier.description == fields["description"].strip()
        and earlier.contact_name == fields["contact_name"].strip()
        and earlier.contact_email == fields["contact_email"].strip()
        and earlier.contact_phone == fields["contact_phone"].strip()
        and earlier.amount_minor == fields["amount_minor"]
    )
    if not same:
        raise RequestError(ERR_KEY_REUSED, code="idempotency_conflict")


@transaction.atomic
def _submit(
    *,
    actor: User,
    service_type: ServiceType,
    description: str,
    contact_name: str,
    contact_email: str,
    contact_phone: str,
    amount_minor: int | None,
    token: uuid.UUID,
    language: str = "en",
    answers: list[dict[str, object]] | None = None,
) -> ServiceRequest:
    if not service_type.active:
        raise RequestError(ERR_UNKNOWN_SERVICE, code="unknown_service")
    request_validate_amount(service_type=service_type, amount_minor=amount_minor)
    request_validate_answers(service_type=service_type, answers=answers or [])
    request_id = _reserve_request_id()
    request = ServiceRequest(
        id=request_id,
        tracking_number=tracking_number_for(request_id=request_id, year=timezone.localdate().year),
        service_type=service_type,
        requester=actor,
        contact_name=contact_name.strip(),
        contact_email=contact_email.strip(),
        contact_phone=contact_phone.strip(),
        description=description.strip(),
        amount_minor=amount_minor,
        currency=service_type.currency,
        submission_token=token,
        language=language if language in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE,
        answers=answers or [],
    )
    # Field rules here; keys, uniqueness and check constraints are the database's to enforce.
    request.full_clean(
        exclude=["status", "submission_token", "service_type", "requester"],
        validate_unique=False,
        validate_constraints=False,
    )
    record_history(request, actor=actor, reason="submitted")
    request.save(force_insert=True)
    events.announce(events.REQUEST_SUBMITTED, request=request)
    event_record(
        request,
        kind=EventKind.SUBMITTED,
        actor=actor,
        message=standard.english(standard.RECEIVED, service=service_type.name),
        notify=True,
    )
    # In the arrival's transaction: a request is never filed without its assignment decided.
    # The filing copy of the service says whether a rule assigns it (None: not known, read it).
    assign_automatically(request, automatic=getattr(service_type, "automatic_assignment", None))
    return request


@transaction.atomic
def request_assign(*, actor: User, request_id: int, assignee: User) -> ServiceRequest:
    """Assign an open request to a staff member who reviews for its program."""
    request = locked(request_id)
    if not is_reviewer(actor, request) or not is_reviewer(assignee, request):
        raise RequestError(
            ERR_NOT_ALLOWED.format(tracking_number=request.tracking_number), code="forbidden"
        )
    if request.status not in ("submitted", "in_review", "info_requested"):
        raise refuse_stale(request, action="assigned")
    if request.assignee_id == assignee.pk:
        return request
    request.assignee = assignee
    save_with_history(request, actor=actor, reason=f"assigned to {assignee.get_username()}")
    event_record(
        request,
        kind=EventKind.ASSIGNED,
        actor=actor,
        public=False,
        message=assignee.get_full_name(),
    )
    return request


@transaction.atomic
def request_withdraw(*, actor: User, request_id: int, reason: str = "") -> ServiceRequest:
    """The civilian who filed the request withdraws it, before it goes to a decision.

    Final: a withdrawn request is closed. They are emailed a confirmation; their optional
    reason is on the timeline. A request already with a supervisor (or decided) is refused
    with a message that says how to reach the bureau instead."""
    reason = (reason or "").strip()
    text_validate_printable(reason)
    request = locked(request_id)
    if not is_requester(actor, request):
        raise RequestError(
            ERR_NOT_ALLOWED.format(tracking_number=request.tracking_number), code="forbidden"
        )
    if request.status not in WITHDRAWABLE_STATUSES:
        raise RequestError(
            ERR_NOT_WITHDRAWABLE.format(
                tracking_number=request.tracking_number, status=request.get_status_display()
            ),
            code="stale",
        )
    request.withdraw()
    save_with_history(request, actor=actor, reason="withdrawn by the civilian")
    event_record(
        request,
        kind=EventKind.WITHDRAWN,
        actor=actor,
        message=reason or standard.english(standard.WITHDRAWN),
        notify=True,
    )
    return request
