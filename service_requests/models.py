"""Service types, civilians' requests, their public timeline and the notification outbox."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from pathlib import Path

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, transition
from simple_history.models import HistoricalRecords

from allocations.models import Claim, Fund
from governance.models import ApprovalCase, Program

from .attachments import private_storage

MAX_DESCRIPTION = 5000
MAX_AMOUNT_MINOR = 100_000_000_00  # 100 million: no single request goes past this


class ServiceType(models.Model):
    """A service civilians can ask for (an Open311 "service"), within one program.

    A funding service type pays out of its fund; its requests carry an amount.
    """

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(
        _("description"), blank=True, help_text=_("In plain words: who it is for and what it does.")
    )
    name_es = models.CharField(_("name in Spanish"), max_length=200, blank=True)
    description_es = models.TextField(_("description in Spanish"), blank=True)
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="service_types")
    fund = models.ForeignKey(
        Fund, on_delete=models.PROTECT, null=True, blank=True, related_name="service_types"
    )
    currency = models.CharField(_("currency"), max_length=3, default="USD")
    max_amount_minor = models.BigIntegerField(
        _("largest amount (minor units)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
    )
    target_days = models.PositiveIntegerField(_("target days to resolve"), default=30)
    active = models.BooleanField(_("active"), default=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_funding(self) -> bool:
        return self.fund_id is not None

    @property
    def display_name(self) -> str:
        """The name in the active language (Spanish when given, else the English name)."""
        if get_language() == "es" and self.name_es:
            return self.name_es
        return self.name

    @property
    def display_description(self) -> str:
        """The plain-language description in the active language."""
        if get_language() == "es" and self.description_es:
            return self.description_es
        return self.description


class Status(models.TextChoices):
    SUBMITTED = "submitted", _("Received")
    IN_REVIEW = "in_review", _("In review")
    INFO_REQUESTED = "info_requested", _("Information needed")
    PENDING_APPROVAL = "pending_approval", _("Awaiting approval")
    APPROVED = "approved", _("Approved")
    AWAITING_FUNDS = "awaiting_funds", _("Approved, awaiting funds")
    FUNDED = "funded", _("Approved, funds reserved")
    FULFILLED = "fulfilled", _("Fulfilled")
    REJECTED = "rejected", _("Not approved")
    WITHDRAWN = "withdrawn", _("Withdrawn")


# Before a decision: the civilian may still withdraw (a supervisor's open case cannot be
# withdrawn from under them: by then the civilian asks staff).
WITHDRAWABLE_STATUSES = [Status.SUBMITTED, Status.IN_REVIEW, Status.INFO_REQUESTED]
# Closed: nothing more happens, and the civilian may rate the service once.
CLOSED_STATUSES = [Status.FULFILLED, Status.REJECTED, Status.WITHDRAWN]
RATABLE_STATUSES = [Status.FULFILLED, Status.REJECTED]

# The statuses in which a request is on its reviewer's desk: it counts towards their load.
REVIEW_STATUSES = [Status.SUBMITTED, Status.IN_REVIEW, Status.INFO_REQUESTED]

OPEN_STATUSES = [
    Status.SUBMITTED,
    Status.IN_REVIEW,
    Status.INFO_REQUESTED,
    Status.PENDING_APPROVAL,
    Status.AWAITING_FUNDS,
    Status.FUNDED,
    Status.APPROVED,
]


class ServiceRequest(models.Model):
    """A civilian's request, from submission to fulfilment or rejection.

    `status` is a protected state machine: it changes only through the transitions below, which
    only `service_requests.services` calls.
    """

    tracking_number = models.CharField(_("tracking number"), max_length=20, unique=True)
    service_type = models.ForeignKey(
        ServiceType, on_delete=models.PROTECT, related_name="requests", verbose_name=_("service")
    )
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="service_requests",
        verbose_name=_("requester"),
    )
    contact_name = models.CharField(_("name"), max_length=120)
    contact_email = models.EmailField(_("email"), max_length=254)
    contact_phone = models.CharField(_("phone"), max_length=32, blank=True)
    description = models.TextField(_("description"), max_length=MAX_DESCRIPTION)
    amount_minor = models.BigIntegerField(_("amount (minor units)"), null=True, blank=True)
    currency = models.CharField(_("currency"), max_length=3, default="USD")
    status = FSMField(
        _("status"), max_length=20, choices=Status.choices, default=Status.SUBMITTED, protected=True
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="assigned_requests",
        verbose_name=_("assignee"),
    )
    recommended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="recommended_requests",
    )
    recommendation_note = models.TextField(
        _("recommendation note"),
        blank=True,
        help_text=_("The reviewer's reasons for recommending approval, shown to supervisors."),
    )
    approval_case = models.OneToOneField(
        ApprovalCase,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="service_request",
    )
    claim = models.OneToOneField(
        Claim, on_delete=models.PROTECT, null=True, blank=True, related_name="service_request"
    )
    submission_token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    answers = models.JSONField(
        _("answers to the service's questions"),
        default=list,
        blank=True,
        help_text=_("As asked: each question's code, its English text and the answer."),
    )
    language = models.CharField(
        _("language"),
        max_length=8,
        default="en",
        help_text=_("The civilian's language: their emails are written in it."),
    )
    submitted_at = models.DateTimeField(_("submitted"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["-submitted_at", "-id"]
        permissions = [("view_all_requests", "View requests of every program")]
        indexes = [
            models.Index(fields=["status", "-submitted_at", "-id"], name="sr_request_status_idx"),
            models.Index(
                fields=["service_type", "-submitted_at", "-id"], name="sr_request_type_idx"
            ),
            models.Index(fields=["requester", "-submitted_at"], name="sr_request_requester_idx"),
            models.Index(fields=["-submitted_at", "-id"], name="sr_request_recent_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount_minor__isnull=True)
                | (Q(amount_minor__gt=0) & Q(amount_minor__lte=MAX_AMOUNT_MINOR)),
                name="service_requests_request_amount_in_range",
            ),
            models.CheckConstraint(
                condition=Q(tracking_number__regex=r"^HMS-[0-9]{4}-[0-9]{6,}$"),
                name="service_requests_request_tracking_format",
            ),
        ]

    def __str__(self) -> str:
        return self.tracking_number

    # Transitions: the graph of what may follow what. Services call them; nothing else does.
    @transition(field=status, source=Status.SUBMITTED, target=Status.IN_REVIEW)
    def start_review(self) -> None:
        """A reviewer begins work on a new request."""

    @transition(field=status, source=Status.IN_REVIEW, target=Status.INFO_REQUESTED)
    def request_info(self) -> None:
        """The reviewer needs more from the civilian."""

    @transition(field=status, source=Status.INFO_REQUESTED, target=Status.IN_REVIEW)
    def receive_info(self) -> None:
        """The civilian answered; review continues."""

    @transition(field=status, source=Status.IN_REVIEW, target=Status.PENDING_APPROVAL)
    def recommend(self) -> None:
        """The reviewer recommends approval; a supervisor decides."""

    @transition(field=status, source=Status.PENDING_APPROVAL, target=Status.APPROVED)
    def approve(self) -> None:
        """Approved; a non-funding request is then fulfilled by staff."""

    @transition(field=status, source=Status.PENDING_APPROVAL, target=Status.REJECTED)
    def reject(self) -> None:
        """Not approved (final)."""

    @transition(field=status, source=Status.PENDING_APPROVAL, target=Status.IN_REVIEW)
    def send_back(self) -> None:
        """The approval case was returned to review by a decider, or recalled by the maker."""

    @transition(field=status, source=Status.APPROVED, target=Status.FUNDED)
    def fund(self) -> None:
        """Its claim was granted: the money is obligated in the ledger."""

    @transition(field=status, source=Status.APPROVED, target=Status.AWAITING_FUNDS)
    def wait_for_funds(self) -> None:
        """Its claim waits until the fund can cover it."""

    @transition(field=status, source=Status.AWAITING_FUNDS, target=Status.FUNDED)
    def funds_arrived(self) -> None:
        """A waiting claim was granted."""

    @transition(field=status, source=[Status.FUNDED, Status.APPROVED], target=Status.FULFILLED)
    def fulfil(self) -> None:
        """Done: for a funded request the obligation is posted."""

    @transition(field=status, source=WITHDRAWABLE_STATUSES, target=Status.WITHDRAWN)
    def withdraw(self) -> None:
        """The civilian withdraws the request before it goes to a decision (final)."""

    @property
    def is_closed(self) -> bool:
        return self.status in CLOSED_STATUSES

    @property
    def target_date(self) -> date:
        """The day by which the bureau aims to have resolved it (the service type's target)."""
        submitted = timezone.localdate(self.submitted_at)
        return submitted + timedelta(days=self.service_type.target_days)


class EventKind(models.TextChoices):
    SUBMITTED = "submitted", _("Received")
    ASSIGNED = "assigned", _("Assigned")
    UNASSIGNED = "unassigned", _("Waiting for a reviewer")
    REVIEW_STARTED = "review_started", _("Review started")
    INFO_REQUESTED = "info_requested", _("Information requested")
    INFO_PROVIDED = "info_provided", _("Information provided")
    RECOMMENDED = "recommended", _("Sent for approval")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Not approved")
    FUNDED = "funded", _("Funds reserved")
    AWAITING_FUNDS = "awaiting_funds", _("Awaiting funds")
    FULFILLED = "fulfilled", _("Fulfilled")
    WITHDRAWN = "withdrawn", _("Withdrawn")
    DOCUMENTS_ADDED = "documents_added", _("Documents added")
    CLAIMED = "claimed", _("Added to an account")


class NotifyState(models.TextChoices):
    NONE = "none", _("No email")
    PENDING = "pending", _("Email to send")
    SENT = "sent", _("Email sent")


class RequestEvent(models.Model):
    """One step on a request's timeline, and the outbox row for the email it causes.

    `public` events are shown to the civilian. An event with `notify=pending` is an email not yet
    sent: the task sends it once and marks it sent; a beat task re-enqueues any left pending
    (the broker was down), so nothing is lost and nothing is sent twice.
    """

    request = models.ForeignKey(ServiceRequest, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=20, choices=EventKind.choices)
    message = models.TextField(blank=True)
    public = models.BooleanField(default=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    notify = models.CharField(
        max_length=8, choices=NotifyState.choices, default=NotifyState.NONE, db_index=True
    )
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [
            models.Index(
                fields=["created_at"],
                condition=Q(notify="pending"),
                name="sr_event_outbox_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.request_id}: {self.kind}"


SATISFACTION_SCORES = [
    (5, _("Very satisfied")),
    (4, _("Satisfied")),
    (3, _("Neither satisfied nor dissatisfied")),
    (2, _("Dissatisfied")),
    (1, _("Very dissatisfied")),
]
MAX_SATISFACTION_COMMENT = 2000


class SatisfactionResponse(models.Model):
    """The civilian's one answer to "how satisfied are you?" after their request closed.

    One per request (a unique key, so a second answer is refused by the database too); never
    changed afterwards, so it carries no history. Staff reporting reads these rows.
    """

    request = models.OneToOneField(
        ServiceRequest,
        on_delete=models.PROTECT,
        related_name="satisfaction",
        verbose_name=_("request"),
    )
    score = models.PositiveSmallIntegerField(_("score"), choices=SATISFACTION_SCORES)
    comment = models.TextField(_("comment"), max_length=MAX_SATISFACTION_COMMENT, blank=True)
    service_type = models.ForeignKey(
        ServiceType,
        on_delete=models.PROTECT,
        related_name="satisfaction_responses",
        verbose_name=_("service"),
    )
    respondent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
        verbose_name=_("respondent"),
    )
    language = models.CharField(_("language"), max_length=8, default="en")
    created_at = models.DateTimeField(_("answered at"), auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("satisfaction response")
        verbose_name_plural = _("satisfaction responses")
        constraints = [
            models.CheckConstraint(
                condition=Q(score__gte=1) & Q(score__lte=5),
                name="service_requests_satisfaction_score_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.request_id}: {self.score}"


def _attachment_path(instance: Attachment, filename: str) -> str:
    # A random name: the civilian's file name never reaches the file system.
    return f"requests/{instance.request_id}/{uuid.uuid4().hex}{Path(filename).suffix}"


class Attachment(models.Model):
    """A document a civilian added to their request. Kept in private storage and served only
    to that civilian and to staff who may see the request; never changed or deleted."""

    request = models.ForeignKey(
        ServiceRequest,
        on_delete=models.PROTECT,
        related_name="attachments",
        verbose_name=_("request"),
    )
    file = models.FileField(
        _("file"), upload_to=_attachment_path, storage=private_storage, max_length=200
    )
    name = models.CharField(_("file name"), max_length=120)
    content_type = models.CharField(_("type"), max_length=60)
    size = models.PositiveIntegerField(_("size in bytes"))
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    created_at = models.DateTimeField(_("added"), auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.name


class QuestionKind(models.TextChoices):
    TEXT = "text", _("Text")
    NUMBER = "number", _("Number")
    DATE = "date", _("Date")
    CHOICE = "choice", _("One choice")
    MULTIPLE = "multiple", _("Several choices")


class ServiceQuestion(models.Model):
    """An extra question a service type asks when a civilian files for it. The answers are
    stored with the request (`ServiceRequest.answers`) and shown to staff."""

    service_type = models.ForeignKey(
        ServiceType, on_delete=models.PROTECT, related_name="questions", verbose_name=_("service")
    )
    code = models.SlugField(
        _("code"), max_length=40, help_text=_("A short key for the answer, e.g. household-size.")
    )
    label = models.CharField(_("question"), max_length=200)
    label_es = models.CharField(_("question in Spanish"), max_length=200, blank=True)
    help_text = models.CharField(_("hint"), max_length=300, blank=True)
    help_text_es = models.CharField(_("hint in Spanish"), max_length=300, blank=True)
    kind = models.CharField(_("kind of answer"), max_length=10, choices=QuestionKind.choices)
    choices = models.TextField(
        _("choices"), blank=True, help_text=_("For choice questions: one choice per line.")
    )
    choices_es = models.TextField(
        _("choices in Spanish"),
        blank=True,
        help_text=_("The same choices, in the same order, in Spanish."),
    )
    required = models.BooleanField(_("required"), default=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    history = HistoricalRecords()

    class Meta:
        ordering = ["service_type", "position", "id"]
        verbose_name = _("extra question")
        verbose_name_plural = _("extra questions")
        constraints = [
            models.UniqueConstraint(
                fields=["service_type", "code"], name="service_requests_question_code_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.label

    @property
    def display_label(self) -> str:
        return self.label_es if get_language() == "es" and self.label_es else self.label

    @property
    def display_help(self) -> str:
        if get_language() == "es" and self.help_text_es:
            return self.help_text_es
        return self.help_text

    def choice_list(self) -> list[tuple[str, str, str]]:
        """(value, English label, label in the active language) for each choice."""
        english = [c.strip() for c in self.choices.splitlines() if c.strip()]
        spanish = [c.strip() for c in self.choices_es.splitlines() if c.strip()]
        shown = spanish if get_language() == "es" and len(spanish) == len(english) else english
        return [(str(i + 1), english[i], shown[i]) for i in range(len(english))]


def _draft_file_path(instance: DraftFile, filename: str) -> str:
    # A random name, as for attachments: the civilian's file name never reaches the disk.
    return f"drafts/{instance.draft_id}/{uuid.uuid4().hex}{Path(filename).suffix}"


class VerifyState(models.TextChoices):
    NONE = "none", _("Not asked")
    PENDING = "pending", _("Email to send")
    SENT = "sent", _("Email sent")


class RequestDraft(models.Model):
    """A request being filed through the steps of the form, kept on the server between steps.

    `data` holds what the civilian typed in each step, as posted (re-checked by the forms at the
    final submit). Without an account the request is filed only once the one-time link emailed
    to `email` is followed; `filed_request` is then set, so the link and the draft cannot file
    twice. Drafts are working copies, not records: stale ones are purged with their files.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
    )
    data = models.JSONField(default=dict, blank=True)
    language = models.CharField(max_length=8, default="en")
    submission_token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    email = models.EmailField(_("email to verify"), max_length=254, blank=True)
    verify_nonce = models.CharField(max_length=32, blank=True)
    verify_state = models.CharField(
        max_length=8, choices=VerifyState.choices, default=VerifyState.NONE
    )
    verify_sent_at = models.DateTimeField(null=True, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    filed_request = models.OneToOneField(
        ServiceRequest,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="draft",
    )
    filed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        verbose_name = _("request draft")
        verbose_name_plural = _("request drafts")
        indexes = [
            models.Index(
                fields=["verify_state"],
                condition=Q(verify_state="pending"),
                name="sr_draft_verify_outbox_idx",
            ),
        ]

    def __str__(self) -> str:
        return str(self.pk)


class DraftFile(models.Model):
    """A document chosen in the documents step, kept in private storage until the request is
    filed (then it becomes an `Attachment`) or the draft is purged."""

    draft = models.ForeignKey(RequestDraft, on_delete=models.CASCADE, related_name="files")
    file = models.FileField(upload_to=_draft_file_path, storage=private_storage, max_length=200)
    name = models.CharField(max_length=120)
    content_type = models.CharField(max_length=60)
    size = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.name


# The assignment's models live in their own module; importing them here registers them.
from .assignment_models import (  # noqa: E402, F401
    DEFAULT_CAP,
    Absence,
    AssignmentMethod,
    AssignmentRule,
    ConflictFlag,
    ReviewerProfile,
)
