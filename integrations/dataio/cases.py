"""Requests from the old case files, and their timelines.

A request keeps its tracking number (the natural key), its submission time and its status.
Only statuses that need nothing but the request itself can be imported: a request that waits
on an approval case or a fund's claim is imported as it stood before (`in_review`), and staff
take it on from there through the usual steps. An imported request writes one history row,
named after the importing user, and sends no email and no webhook: it is old news.

A request already in the portal is never changed by an import: the same row again is
`unchanged`, a different one is a problem that names the columns that differ.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db.models.functions import Lower
from django.utils import timezone

from core import roles
from service_requests import services as requests
from service_requests.models import (
    MAX_DESCRIPTION,
    EventKind,
    RequestEvent,
    ServiceRequest,
    ServiceType,
    Status,
)
from service_requests.services import imports

from .base import CREATED, UNCHANGED, Kind, Plan, RowCheck, flag, iso

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from .tables import Row

IMPORTABLE_STATUSES = (
    Status.SUBMITTED,
    Status.IN_REVIEW,
    Status.INFO_REQUESTED,
    Status.APPROVED,
    Status.FULFILLED,
    Status.REJECTED,
    Status.WITHDRAWN,
)
TRACKING_RE = re.compile(r"^HMS-([0-9]{4})-([0-9]{6,12})$")

ERR_TRACKING = "{value} is not a tracking number like HMS-2024-000123."
ERR_TRACKING_YEAR = "{value} is numbered in a year still to come."
ERR_SERVICE = "No service type has the code {value}."
ERR_EMAIL = "{value} is not an email address."
ERR_STATUS = (
    "A request in status {value} waits on an approval case or a claim and cannot be imported; "
    "import it as in_review. Statuses that can be imported: {choices}."
)
ERR_APPROVED_FUNDING = (
    "An approved request of a funding service waits on its claim: import it as in_review."
)
ERR_LANGUAGE = "{value} is not one of the portal's languages: {choices}."
ERR_DIFFERENT = (
    "{value} is already in the portal with a different {columns}: an import never changes a "
    "request (staff change it through its steps)."
)
ERR_NO_REQUEST = "No request has the tracking number {value} (import the requests first)."
ERR_NO_USER = "No user has the email {value}."


def _user_by_email(emails: set[str]) -> dict[str, Any]:
    """The users with these (lower-case) emails, compared without case; an active account
    first where two share an address."""
    users: dict[str, Any] = {}
    if emails:
        found = (
            get_user_model()
            .objects.annotate(email_lower=Lower("email"))
            .filter(email_lower__in=emails)
            .order_by("-is_active", "pk")
        )
        for user in found:
            users.setdefault(user.email_lower, user)
    return users


class Requests(Kind):
    name = "requests"
    label = "Requests"
    key_column = "tracking_number"
    required: ClassVar[tuple[str, ...]] = (
        "tracking_number",
        "service_type",
        "requester_email",
        "contact_name",
        "contact_email",
        "description",
        "status",
        "submitted_at",
    )
    optional: ClassVar[tuple[str, ...]] = ("contact_phone", "amount_minor", "language")

    def prepare(self, rows: Sequence[Row]) -> None:
        numbers = {r.cells.get("tracking_number", "").strip() for r in rows}
        self.existing = {
            r.tracking_number: r
            for r in ServiceRequest.objects.filter(tracking_number__in=numbers).select_related(
                "service_type", "requester"
            )
        }
        self.service_types = {s.code: s for s in ServiceType.objects.select_related("fund")}
        emails = {r.cells.get("requester_email", "").strip().lower() for r in rows}
        self.users = _user_by_email(emails)
        self.civilians = Group.objects.filter(name=roles.CIVILIAN).first()
        self.created: list[ServiceRequest] = []
        self.source = ""

    def check(self, check: RowCheck) -> Plan | None:
        number = check.text("tracking_number", required=True)
        match = TRACKING_RE.match(number)
        if number and match is None:
            check.add("tracking_number", ERR_TRACKING.format(value=number))
        elif match and int(match.group(1)) > timezone.localdate().year:
            check.add("tracking_number", ERR_TRACKING_YEAR.format(value=number))
        code = check.text("service_type", required=True)
        service_type = self.service_types.get(code)
        if code and service_type is None:
            check.add("service_type", ERR_SERVICE.format(value=code))
        email = check.text("requester_email", required=True).lower()
        contact_email = check.text("contact_email", required=True)
        for column, value in (("requester_email", email), ("contact_email", contact_email)):
            if value:
                try:
                    validate_email(value)
                except ValidationError:
                    check.add(column, ERR_EMAIL.format(value=value))
        status = check.raw("status").lower()
        if not status:
            check.add("status", "A value is required.")
        elif status not in IMPORTABLE_STATUSES:
            check.add(
                "status",
                ERR_STATUS.format(value=status, choices=", ".join(IMPORTABLE_STATUSES)),
            )
        elif status == Status.APPROVED and service_type and service_type.is_funding:
            check.add("status", ERR_APPROVED_FUNDING)
        languages = [code for code, _name in settings.LANGUAGES]
        language = check.raw("language").lower() or settings.LANGUAGE_CODE
        if language not in languages:
            check.add("language", ERR_LANGUAGE.format(value=language, choices=", ".join(languages)))
        description = check.text("description", required=True, limit=MAX_DESCRIPTION)
        values: dict[str, Any] = {
            "contact_name": check.text("contact_name", required=True, limit=120),
            "contact_email": contact_email,
            "contact_phone": check.text("contact_phone", limit=32),
            "description": description,
            "amount_minor": check.integer("amount_minor", positive=True),
            "status": status,
            "language": language,
        }
        try:
            requests.text_validate_printable(description)
        except ValidationError as error:
            check.validation_error(error, columns={"__all__": "description"})
        submitted_at = check.moment("submitted_at", required=True)
        if service_type is not None and "amount_minor" not in {p.column for p in check.problems}:
            try:
                requests.request_validate_amount(
                    service_type=service_type, amount_minor=values["amount_minor"]
                )
            except ValidationError as error:
                check.validation_error(error, columns={"__all__": "amount_minor"})
        if check.problems or service_type is None or submitted_at is None:
            return None
        values |= {"service_type": service_type, "submitted_at": submitted_at, "email": email}
        existing = self.existing.get(number)
        if existing is None:
            return Plan(line=check.row.line, key=number, outcome=CREATED, values=values)
        differ = [
            column
            for column, stored in (
                ("service_type", existing.service_type.code),
                ("requester_email", (existing.requester.email or "").lower()),
                ("contact_name", existing.contact_name),
                ("contact_email", existing.contact_email),
                ("contact_phone", existing.contact_phone),
                ("description", existing.description),
                ("amount_minor", existing.amount_minor),
                ("status", existing.status),
                ("language", existing.language),
                ("submitted_at", existing.submitted_at),
            )
            if stored != (code if column == "service_type" else values.get(column, email))
        ]
        if differ:
            check.add(differ[0], ERR_DIFFERENT.format(value=number, columns=", ".join(differ)))
            return None
        return Plan(line=check.row.line, key=number, outcome=UNCHANGED, values=values)

    def _requester(self, email: str, *, actor: User) -> Any:
        """The user with `email`, or a new civilian account for it."""
        user = self.users.get(email)
        if user is None:
            user = imports.requester_import(actor=actor, email=email, group=self.civilians)
            self.users[email] = user
        return user

    def write(self, plan: Plan, *, actor: User, source: str) -> None:
        if plan.outcome == UNCHANGED:
            return
        values = dict(plan.values)
        service_type: ServiceType = values.pop("service_type")
        submitted_at = values.pop("submitted_at")
        requester = self._requester(values.pop("email"), actor=actor)
        # One history row each, written in `finish` once the submission time is the file's;
        # no "submitted" webhook or email for old requests.
        self.created.append(
            imports.request_import(
                actor=actor,
                tracking_number=plan.key,
                service_type=service_type,
                requester=requester,
                submitted_at=submitted_at,
                values=values,
            )
        )
        self.source = source

    def finish(self, plans: Sequence[Plan], *, actor: User) -> None:
        imports.requests_import_finish(actor=actor, requests=self.created, source=self.source)

    def export(self) -> list[list[str]]:
        found = ServiceRequest.objects.select_related("service_type", "requester").order_by(
            "submitted_at", "id"
        )
        return [
            [
                r.tracking_number,
                r.service_type.code,
                (r.requester.email or "").lower(),
                r.contact_name,
                r.contact_email,
                r.description,
                r.status,
                iso(r.submitted_at),
                r.contact_phone,
                "" if r.amount_minor is None else str(r.amount_minor),
                r.language,
            ]
            for r in found.iterator(chunk_size=2000)
        ]


class RequestEvents(Kind):
    """A request's timeline: one row per step, keyed by request, time and kind."""

    name = "request_events"
    label = "Request timelines"
    key_column = "tracking_number"
    required: ClassVar[tuple[str, ...]] = ("tracking_number", "occurred_at", "kind")
    optional: ClassVar[tuple[str, ...]] = ("message", "public", "actor_email")

    def prepare(self, rows: Sequence[Row]) -> None:
        numbers = {r.cells.get("tracking_number", "").strip() for r in rows}
        self.requests = {
            r.tracking_number: r for r in ServiceRequest.objects.filter(tracking_number__in=numbers)
        }
        self.existing = {
            (e.request.tracking_number, e.created_at, e.kind)
            for e in RequestEvent.objects.filter(request__tracking_number__in=numbers)
            .only("request__tracking_number", "created_at", "kind")
            .select_related("request")
        }
        emails = {r.cells.get("actor_email", "").strip().lower() for r in rows} - {""}
        self.users = _user_by_email(emails)
        self.created: list[RequestEvent] = []

    def check(self, check: RowCheck) -> Plan | None:
        number = check.text("tracking_number", required=True)
        request = self.requests.get(number)
        if number and request is None:
            check.add("tracking_number", ERR_NO_REQUEST.format(value=number))
        occurred_at = check.moment("occurred_at", required=True)
        kind = check.choice("kind", EventKind.values)
        email = check.raw("actor_email").lower()
        actor = self.users.get(email) if email else None
        if email and actor is None:
            check.add("actor_email", ERR_NO_USER.format(value=email))
        message = check.text("message")
        try:
            requests.text_validate_printable(message)
        except ValidationError as error:
            check.validation_error(error, columns={"__all__": "message"})
        public = check.boolean("public", default=True)
        if check.problems or request is None or occurred_at is None:
            return None
        outcome = UNCHANGED if (number, occurred_at, kind) in self.existing else CREATED
        return Plan(
            line=check.row.line,
            key=f"{number} {occurred_at.isoformat()} {kind}",
            outcome=outcome,
            values={
                "request": request,
                "kind": kind,
                "message": message,
                "public": public,
                "actor": actor,
                "created_at": occurred_at,
            },
        )

    def write(self, plan: Plan, *, actor: User, source: str) -> None:
        if plan.outcome == UNCHANGED:
            return
        values = plan.values
        self.created.append(
            imports.request_event_import(
                actor=actor,
                request=values["request"],
                kind=values["kind"],
                message=values["message"],
                public=values["public"],
                by=values["actor"],
                created_at=values["created_at"],
            )
        )

    def finish(self, plans: Sequence[Plan], *, actor: User) -> None:
        imports.request_events_import_finish(actor=actor, events=self.created)

    def export(self) -> list[list[str]]:
        found = RequestEvent.objects.select_related("request", "actor").order_by(
            "request__tracking_number", "created_at", "pk"
        )
        return [
            [
                e.request.tracking_number,
                iso(e.created_at),
                e.kind,
                e.message,
                flag(e.public),
                (e.actor.email or "").lower() if e.actor else "",
            ]
            for e in found.iterator(chunk_size=2000)
        ]
