"""Every change to a civilian's request. One transaction each; callers pass the acting user.

Each service re-reads the request with SELECT ... FOR UPDATE and checks that its state still
allows the step, so a second click or a stale admin page gets a clear refusal and changes
nothing. Emails are outbox rows (`RequestEvent.notify`) sent by a task enqueued on commit.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import can_proceed

from allocations import services as allocations
from allocations.models import GRANT_CLAIMS_PERMISSION, ClaimStatus, Fund
from core.audit import record_history
from core.money import format_money
from governance import services as governance
from governance.models import REVIEW_PERMISSION, ApprovalCase, Decision, Outcome
from ledger import services as ledger
from ledger.models import OwnerKind

from . import conf
from . import messages as standard
from .attachments import ALLOWED_DESCRIPTION, safe_name, sniff
from .models import (
    CLOSED_STATUSES,
    MAX_AMOUNT_MINOR,
    MAX_SATISFACTION_COMMENT,
    RATABLE_STATUSES,
    WITHDRAWABLE_STATUSES,
    Attachment,
    EventKind,
    NotifyState,
    QuestionKind,
    RequestEvent,
    SatisfactionResponse,
    ServiceRequest,
    ServiceType,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from django.contrib.auth.models import User

logger = logging.getLogger(__name__)

SUBJECT_KIND = "service_request"

# Messages a civilian may read are translated (lazily: in the language of whoever is served).
ERR_UNKNOWN_SERVICE = _("Choose one of the services listed.")
ERR_AMOUNT_REQUIRED = _("Enter the amount you are asking for.")
ERR_AMOUNT_NOT_ALLOWED = _("This service does not pay out money: leave the amount empty.")
ERR_AMOUNT_RANGE = _("Enter an amount between 0.01 and {maximum}.")
ERR_NOT_ALLOWED = _("You may not do that for request {tracking_number}.")
ERR_STALE = _(
    "{tracking_number} is now “{status}”, so it cannot be {action}. Nothing was changed: "
    "reload to see where it stands."
)
ERR_MESSAGE_REQUIRED = _("Write a message.")
ERR_NO_GRANT = "Only finance officers may grant a fund's waiting claims."
ERR_NOT_WITHDRAWABLE = _(
    "{tracking_number} is now “{status}”: it can no longer be withdrawn here. Nothing was "
    "changed. To stop it now, contact the bureau and quote the tracking number."
)
ERR_NOT_RATABLE = _("You can rate the service once the request is closed.")
ERR_RATED_ALREADY = _("You have already rated the service for this request. Thank you.")
ERR_SCORE = _("Choose a rating from 1 to 5.")
ERR_COMMENT_TOO_LONG = _("Keep the comment under {limit} characters.")
ERR_BAD_TEXT = _("Remove the invisible control characters from the text.")
ERR_ANSWER_REQUIRED = _("Answer the question “{question}”.")
ERR_FILE_EMPTY = _("“{name}” is empty: choose the file again.")
ERR_FILE_TOO_BIG = _("“{name}” is {size}: each file can be at most {limit}. Send a smaller copy.")
ERR_FILE_TYPE = _(
    "“{name}” is not a {types} file (we check what is inside the file, not its name). Save "
    "it as a PDF or take a photo of it, and add it again."
)
ERR_TOO_MANY_FILES = _("A request can have at most {limit} documents.")
ERR_CLOSED_FOR_FILES = _("{tracking_number} is closed: documents can no longer be added.")


class RequestError(ValidationError):
    """A refused change to a request; its message says why and nothing was written."""


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


def _event(
    request: ServiceRequest,
    *,
    kind: str,
    actor: User | None,
    message: str = "",
    public: bool = True,
    notify: bool = False,
) -> RequestEvent:
    event = RequestEvent.objects.create(
        request=request,
        kind=kind,
        actor=actor,
        message=message,
        public=public,
        notify=NotifyState.PENDING if notify else NotifyState.NONE,
    )
    if notify:
        transaction.on_commit(lambda: enqueue_notification(event.pk))
    return event


def enqueue_notification(event_id: int) -> None:
    """Hand the email to Celery; if the broker is unreachable the outbox row stays pending and
    the beat task sends it later."""
    from .tasks import send_event_email

    try:
        send_event_email.delay(event_id)
    except Exception:  # the broker is down: the outbox keeps the email for the next flush
        logger.warning("Broker unreachable; email for event %s left in the outbox", event_id)


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
    _event(
        request,
        kind=EventKind.SUBMITTED,
        actor=actor,
        message=standard.english(standard.RECEIVED, service=service_type.name),
        notify=True,
    )
    return request


def _is_reviewer(actor: User, request: ServiceRequest) -> bool:
    return (
        actor.is_active
        and actor.is_staff
        and actor.has_perm(REVIEW_PERMISSION, request.service_type.program)
    )


def _locked(request_id: int) -> ServiceRequest:
    # Lock the request: a second click or a concurrent reviewer waits, then sees the new state.
    return (
        ServiceRequest.objects.select_for_update(of=("self",))
        .select_related("service_type__program")
        .get(pk=request_id)
    )


def _step(
    *,
    actor: User,
    request_id: int,
    transition: str,
    action: str,
    check: Callable[[User, ServiceRequest], bool] = _is_reviewer,
) -> ServiceRequest:
    """Lock the request, check who acts and whether the state allows `transition`, apply it."""
    request = _locked(request_id)
    if not check(actor, request):
        raise RequestError(
            ERR_NOT_ALLOWED.format(tracking_number=request.tracking_number), code="forbidden"
        )
    method = getattr(request, transition)
    if not can_proceed(method):
        raise RequestError(
            ERR_STALE.format(
                tracking_number=request.tracking_number,
                status=request.get_status_display(),
                action=action,
            ),
            code="stale",
        )
    method()
    return request


def _save(request: ServiceRequest, *, actor: User, reason: str) -> None:
    record_history(request, actor=actor, reason=reason)
    request.save()


@transaction.atomic
def request_assign(*, actor: User, request_id: int, assignee: User) -> ServiceRequest:
    """Assign an open request to a staff member who reviews for its program."""
    request = _locked(request_id)
    if not _is_reviewer(actor, request) or not _is_reviewer(assignee, request):
        raise RequestError(
            ERR_NOT_ALLOWED.format(tracking_number=request.tracking_number), code="forbidden"
        )
    if request.status not in ("submitted", "in_review", "info_requested"):
        raise RequestError(
            ERR_STALE.format(
                tracking_number=request.tracking_number,
                status=request.get_status_display(),
                action="assigned",
            ),
            code="stale",
        )
    if request.assignee_id == assignee.pk:
        return request
    request.assignee = assignee
    _save(request, actor=actor, reason=f"assigned to {assignee.get_username()}")
    _event(
        request,
        kind=EventKind.ASSIGNED,
        actor=actor,
        public=False,
        message=assignee.get_full_name(),
    )
    return request


@transaction.atomic
def request_start_review(*, actor: User, request_id: int) -> ServiceRequest:
    """A reviewer starts reviewing a new request (assigning it to themselves if unassigned)."""
    request = _step(
        actor=actor, request_id=request_id, transition="start_review", action="reviewed"
    )
    if request.assignee_id is None:
        request.assignee = actor
    _save(request, actor=actor, reason="review started")
    _event(
        request,
        kind=EventKind.REVIEW_STARTED,
        actor=actor,
        message=standard.english(standard.REVIEW_STARTED),
    )
    return request


@transaction.atomic
def request_ask_info(*, actor: User, request_id: int, message: str) -> ServiceRequest:
    """Ask the civilian for more information; they are emailed the question."""
    message = (message or "").strip()
    if not message:
        raise RequestError(ERR_MESSAGE_REQUIRED, code="message")
    request = _step(
        actor=actor,
        request_id=request_id,
        transition="request_info",
        action="sent back for information",
    )
    _save(request, actor=actor, reason="information requested")
    _event(request, kind=EventKind.INFO_REQUESTED, actor=actor, message=message, notify=True)
    return request


def _is_requester(actor: User, request: ServiceRequest) -> bool:
    return actor.is_active and request.requester_id == actor.pk


@transaction.atomic
def request_provide_info(*, actor: User, request_id: int, message: str) -> ServiceRequest:
    """The civilian answers a request for information; review resumes."""
    message = (message or "").strip()
    if not message:
        raise RequestError(ERR_MESSAGE_REQUIRED, code="message")
    request = _step(
        actor=actor,
        request_id=request_id,
        transition="receive_info",
        action=str(_("answered")),
        check=_is_requester,
    )
    _save(request, actor=actor, reason="information provided")
    _event(request, kind=EventKind.INFO_PROVIDED, actor=actor, message=message)
    return request


@transaction.atomic
def request_recommend(*, actor: User, request_id: int, note: str = "") -> ServiceRequest:
    """The reviewer recommends approval: an approval case opens for the program's supervisors."""
    request = _step(
        actor=actor, request_id=request_id, transition="recommend", action="recommended"
    )
    amount = ""
    if request.amount_minor is not None:
        amount = f" for {format_money(request.amount_minor, request.currency)}"
    request.approval_case = governance.case_open(
        actor=actor,
        program=request.service_type.program,
        subject_kind=SUBJECT_KIND,
        subject_label=f"{request.tracking_number} · {request.service_type.name}{amount}",
        summary=(note.strip() + "\n\n" if note.strip() else "") + request.description,
        amount_minor=request.amount_minor,
        currency=request.currency if request.amount_minor is not None else "",
        maker=request.requester,
        recommender=actor,
        scope_key=request.service_type.code,
    )
    request.recommended_by = actor
    _save(request, actor=actor, reason="recommended for approval")
    _event(
        request,
        kind=EventKind.RECOMMENDED,
        actor=actor,
        message=standard.english(standard.RECOMMENDED),
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
    _save(request, actor=actor, reason=kind)
    _event(request, kind=kind, actor=actor, message=message, notify=True)


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
        _save(request, actor=actor, reason="returned to review" if returned else "recalled")
        _event(
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
        _save(request, actor=actor, reason="rejected")
        _event(request, kind=EventKind.REJECTED, actor=actor, message=decision.reason, notify=True)
        return
    request.approve()
    _save(request, actor=actor, reason="approved")
    if request.service_type.is_funding:
        _event(
            request,
            kind=EventKind.APPROVED,
            actor=actor,
            message=standard.english(standard.APPROVED),
        )
        _fund_claim(request, actor=actor)
    else:
        _event(
            request,
            kind=EventKind.APPROVED,
            actor=actor,
            message=standard.english(standard.APPROVED_STAFF),
            notify=True,
        )


@transaction.atomic
def request_fulfil(*, actor: User, request_id: int) -> ServiceRequest:
    """Staff mark the request fulfilled; for a funded request the obligation is posted."""
    request = _step(actor=actor, request_id=request_id, transition="fulfil", action="fulfilled")
    message = standard.english(standard.FULFILLED)
    if request.claim_id is not None:
        claim = allocations.claim_pay(actor=actor, claim_id=request.claim_id)
        message = standard.english(
            standard.PAID, amount=format_money(claim.granted_minor, claim.currency)
        )
    _save(request, actor=actor, reason="fulfilled")
    _event(request, kind=EventKind.FULFILLED, actor=actor, message=message, notify=True)
    return request


@transaction.atomic
def requests_fund_waiting(*, actor: User, fund_id: int) -> list[ServiceRequest]:
    """Grant the fund's waiting claims in turn and move their requests to funded. Finance
    officers only (`allocations.grant_claims`)."""
    if not actor.is_active or not actor.has_perm(GRANT_CLAIMS_PERMISSION):
        raise RequestError(ERR_NO_GRANT, code="forbidden")
    fund = Fund.objects.get(pk=fund_id)
    moved = []
    granted = allocations.claims_grant_waiting(actor=actor, fund=fund)
    # Lock the requests of the granted claims (one query): a concurrent step on one of them
    # waits, then finds it funded.
    requests = {
        r.claim_id: r for r in ServiceRequest.objects.select_for_update().filter(claim__in=granted)
    }
    for claim in granted:
        request = requests[claim.pk]
        request.funds_arrived()
        _save(request, actor=actor, reason="funded")
        _event(
            request,
            kind=EventKind.FUNDED,
            actor=actor,
            message=standard.english(
                standard.FUNDED_LATER, amount=format_money(claim.granted_minor, claim.currency)
            ),
            notify=True,
        )
        moved.append(request)
    return moved


@dataclass(frozen=True)
class CheckedFile:
    """An uploaded file that passed the checks: its type from its content and a safe name."""

    upload: UploadedFile
    content_type: str
    name: str


def attachments_validate(*, files: Sequence[UploadedFile], already: int = 0) -> list[CheckedFile]:
    """Check every file (size, type by content, count) before anything is stored; the first
    problem is refused with a message naming the file."""
    from django.template.defaultfilters import filesizeformat

    limit = int(conf.get("ATTACHMENT_MAX_BYTES"))
    most = int(conf.get("ATTACHMENTS_PER_REQUEST"))
    if already + len(files) > most:
        raise RequestError(ERR_TOO_MANY_FILES.format(limit=most), code="too_many_files")
    checked = []
    for upload in files:
        shown = safe_name(upload.name or "", content_type="text/plain")[:-4]
        size = upload.size or 0
        if size == 0:
            raise RequestError(ERR_FILE_EMPTY.format(name=shown), code="file_empty")
        if size > limit:
            raise RequestError(
                ERR_FILE_TOO_BIG.format(
                    name=shown, size=filesizeformat(size), limit=filesizeformat(limit)
                ),
                code="file_too_big",
            )
        upload.seek(0)
        content_type = sniff(upload.read(2048))
        upload.seek(0)
        if content_type is None:
            raise RequestError(
                ERR_FILE_TYPE.format(name=shown, types=ALLOWED_DESCRIPTION), code="file_type"
            )
        checked.append(
            CheckedFile(
                upload=upload,
                content_type=content_type,
                name=safe_name(upload.name or "", content_type=content_type),
            )
        )
    return checked


@transaction.atomic
def attachments_add(
    *, actor: User, request_id: int, files: Sequence[UploadedFile]
) -> list[Attachment]:
    """The civilian who filed an open request adds documents to it: all of them or none.

    Each file is checked (`attachments_validate`), stored under a random name in private
    storage, and listed on the timeline. If anything fails, the files already written are
    removed and the transaction rolls back."""
    request = _locked(request_id)
    if not _is_requester(actor, request):
        raise RequestError(
            ERR_NOT_ALLOWED.format(tracking_number=request.tracking_number), code="forbidden"
        )
    if request.status in CLOSED_STATUSES:
        raise RequestError(
            ERR_CLOSED_FOR_FILES.format(tracking_number=request.tracking_number), code="closed"
        )
    checked = attachments_validate(files=files, already=request.attachments.count())
    if not checked:
        return []
    saved: list[Attachment] = []
    try:
        for item in checked:
            digest = hashlib.sha256()
            for chunk in item.upload.chunks():
                digest.update(chunk)
            item.upload.seek(0)
            attachment = Attachment(
                request=request,
                name=item.name,
                content_type=item.content_type,
                size=item.upload.size or 0,
                sha256=digest.hexdigest(),
                uploaded_by=actor,
            )
            attachment.file.save(item.name, item.upload, save=False)
            saved.append(attachment)
            attachment.save(force_insert=True)
        _event(
            request,
            kind=EventKind.DOCUMENTS_ADDED,
            actor=actor,
            message="\n".join(a.name for a in saved),
        )
    except BaseException:
        for attachment in saved:
            if attachment.file.name:
                attachment.file.storage.delete(attachment.file.name)
        raise
    return saved


def text_validate_printable(text: str) -> None:
    """Refuse NUL and other invisible control characters (tabs and line breaks are fine)."""
    if any(ord(char) < 32 and char not in "\t\n\r" for char in text) or "\x7f" in text:
        raise RequestError(ERR_BAD_TEXT, code="control_characters")


@transaction.atomic
def request_withdraw(*, actor: User, request_id: int, reason: str = "") -> ServiceRequest:
    """The civilian who filed the request withdraws it, before it goes to a decision.

    Final: a withdrawn request is closed. They are emailed a confirmation; their optional
    reason is on the timeline. A request already with a supervisor (or decided) is refused
    with a message that says how to reach the bureau instead."""
    reason = (reason or "").strip()
    text_validate_printable(reason)
    request = _locked(request_id)
    if not _is_requester(actor, request):
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
    _save(request, actor=actor, reason="withdrawn by the civilian")
    _event(
        request,
        kind=EventKind.WITHDRAWN,
        actor=actor,
        message=reason or standard.english(standard.WITHDRAWN),
        notify=True,
    )
    return request


def request_validate_rating(*, score: object, comment: str) -> None:
    """The rating rules a form shows as field errors and the service enforces again."""
    if not isinstance(score, int) or isinstance(score, bool) or not 1 <= score <= 5:
        raise RequestError(ERR_SCORE, code="score")
    if len(comment) > MAX_SATISFACTION_COMMENT:
        raise RequestError(
            ERR_COMMENT_TOO_LONG.format(limit=MAX_SATISFACTION_COMMENT), code="comment"
        )
    text_validate_printable(comment)


@transaction.atomic
def request_rate(
    *, actor: User, request_id: int, score: int, comment: str = "", language: str = "en"
) -> SatisfactionResponse:
    """The civilian rates the service (1 to 5, optional comment) once their request closed.

    Once per request: the request row is locked while checking, and the response's unique key
    refuses a second answer even from a concurrent writer."""
    comment = (comment or "").strip()
    request_validate_rating(score=score, comment=comment)
    request = _locked(request_id)
    if not _is_requester(actor, request):
        raise RequestError(
            ERR_NOT_ALLOWED.format(tracking_number=request.tracking_number), code="forbidden"
        )
    if request.status not in RATABLE_STATUSES:
        raise RequestError(ERR_NOT_RATABLE, code="not_closed")
    if SatisfactionResponse.objects.filter(request=request).exists():
        raise RequestError(ERR_RATED_ALREADY, code="rated_already")
    response = SatisfactionResponse(
        request=request,
        service_type=request.service_type,
        respondent=actor,
        score=score,
        comment=comment,
        language=language if language in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE,
    )
    response.full_clean(exclude=["request", "service_type", "respondent"], validate_unique=False)
    try:
        # A savepoint: the unique key is the last word if two answers race.
        with transaction.atomic():
            response.save(force_insert=True)
    except IntegrityError:
        raise RequestError(ERR_RATED_ALREADY, code="rated_already") from None
    return response
