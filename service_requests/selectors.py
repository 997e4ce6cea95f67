"""Read-only queries on requests, always scoped to the user asking, and on the drafts of
requests being filed in steps (with or without an account)."""

from __future__ import annotations

import re
import secrets
import threading
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from allauth.account.models import EmailAddress
from django.core import signing
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import CharField, Exists, OuterRef, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils.crypto import constant_time_compare

from core.db import id_in
from governance.models import Program
from governance.selectors import programs_worked_by

from . import conf
from .errors import ERR_LINK_EXPIRED, ERR_LINK_INVALID, ERR_LINK_USED, RequestError
from .models import (
    OPEN_STATUSES,
    AssignmentMethod,
    AssignmentRule,
    Attachment,
    NotifyState,
    RequestDraft,
    RequestEvent,
    SatisfactionResponse,
    ServiceQuestion,
    ServiceRequest,
    ServiceType,
    VerifyState,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

VIEW_ALL_PERMISSION = "service_requests.view_all_requests"


def service_types_open() -> QuerySet[ServiceType]:
    return ServiceType.objects.filter(active=True).select_related("program", "fund")


# The service a civilian files for, read on every filing post and step: kept in the cache with
# its program, fund and questions (one cache read instead of two queries). Saving or deleting a
# service type, one of its questions, its program or its fund drops its entry, at once and again
# on commit; the timeout bounds what a change made around the signals (a raw `UPDATE`), or a
# read that raced the change's commit, can leave stale.
FILING_SERVICE_CACHE_KEY = "service_requests:filing-service:v2:{pk}"
FILING_SERVICE_TIMEOUT = 300


def _automatic_assignment() -> Exists:
    """Whether the service's requests are assigned by a rule on arrival (a rule that is not
    manual): the filing copy carries it, so a filing for a service assigned by hand reads no
    rule."""
    return Exists(
        AssignmentRule.objects.filter(service_type=OuterRef("pk")).exclude(
            method=AssignmentMethod.MANUAL
        )
    )


# Services changed in this thread's open transaction: read from the database, never cached,
# until it ends (a rolled-back change must leave nothing behind in the cache).
_changing = threading.local()


def _changed_in_transaction() -> set[int]:
    if not transaction.get_connection().in_atomic_block:
        _changing.pks = set()
    return cast(set[int], getattr(_changing, "pks", set()))


def service_type_for_filing(*, pk: int) -> ServiceType | None:
    """The open service type `pk` with its program, fund and questions, or None when no open
    service has that id. Callers get their own copy: changing it changes nothing shared."""
    key = FILING_SERVICE_CACHE_KEY.format(pk=pk)
    changing = pk in _changed_in_transaction()
    found = None if changing else cache.get(key)
    if found is None:
        found = (
            service_types_open()
            .filter(pk=pk)
            .annotate(automatic_assignment=_automatic_assignment())
            .prefetch_related("questions")
            .first()
        )
        if not changing:
            # False marks "no open service with that id": a wrong id is not read again either.
            cache.set(key, found if found is not None else False, FILING_SERVICE_TIMEOUT)
    return found or None


def forget_filing_services(pks: list[int]) -> None:
    """Drop the cached filing services `pks`, now and once the current transaction commits;
    until it ends, this thread reads them from the database."""
    keys = [FILING_SERVICE_CACHE_KEY.format(pk=pk) for pk in pks]
    if not keys:
        return
    if transaction.get_connection().in_atomic_block:
        _changing.pks = _changed_in_transaction() | set(pks)
    cache.delete_many(keys)
    transaction.on_commit(lambda: cache.delete_many(keys))


def filing_services_changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    """`post_save`/`post_delete` of a service type, a question, an assignment rule, a program
    or a fund: drop the filing cache of the service types it belongs to."""
    if isinstance(instance, ServiceType):
        pks = [instance.pk]
    elif isinstance(instance, ServiceQuestion | AssignmentRule):
        pks = [instance.service_type_id]
    else:
        field = "program" if isinstance(instance, Program) else "fund"
        pks = list(ServiceType.objects.filter(**{field: instance}).values_list("pk", flat=True))
    forget_filing_services(pks)


def service_types_search(*, query: str) -> QuerySet[ServiceType]:
    """Open service types whose name or description (in either language) holds every word of
    `query`; all of them for an empty query."""
    found = service_types_open()
    for word in query.split()[:10]:
        found = found.filter(
            Q(name__icontains=word)
            | Q(name_es__icontains=word)
            | Q(description__icontains=word)
            | Q(description_es__icontains=word)
            | Q(code__icontains=word)
        )
    return found


# Compared when no request has the tracking number, so that a miss costs what a hit costs.
_NO_SUCH_EMAIL = "no-such-request@invalid.example"


def request_for_tracking(*, tracking_number: str, email: str) -> ServiceRequest | None:
    """The request with `tracking_number` if `email` is the one it was filed with (its contact
    email or its requester's account email), else None.

    Says nothing more: an unknown number and a wrong email give the same None after the same
    work (one indexed query, two constant-time comparisons)."""
    found = (
        ServiceRequest.objects.select_related("service_type", "requester")
        .filter(tracking_number=tracking_number)
        .first()
    )
    given = email.strip().casefold()
    contact = found.contact_email.strip().casefold() if found else _NO_SUCH_EMAIL
    account = (found.requester.email or "").strip().casefold() if found else _NO_SUCH_EMAIL
    contact_matches = constant_time_compare(given, contact)
    account_matches = constant_time_compare(given, account) and bool(account)
    if found is not None and (contact_matches or account_matches):
        return found
    return None


def requests_of_civilian(*, user: User | AnonymousUser) -> QuerySet[ServiceRequest]:
    """The civilian's own requests, newest first."""
    if not user.is_authenticated:
        return ServiceRequest.objects.none()
    return ServiceRequest.objects.filter(requester=user).select_related("service_type")


def request_of_civilian(
    *, user: User | AnonymousUser, tracking_number: str
) -> ServiceRequest | None:
    """One of the civilian's own requests, or None (someone else's request does not exist)."""
    # Tracking numbers are unique: no ordering to compile or sort by.
    found = requests_of_civilian(user=user).filter(tracking_number=tracking_number).order_by()
    return next(iter(found[:1]), None)


def request_by_tracking_number(*, tracking_number: str) -> ServiceRequest | None:
    """Any request by its number: only for a browser that proved the number and the email at
    /track/ (see `request_for_tracking`)."""
    return (
        ServiceRequest.objects.select_related("service_type")
        .filter(tracking_number=tracking_number)
        .first()
    )


def request_filed_with_token(*, token: uuid.UUID) -> bool:
    """Whether a request was already filed with this submission token (a retry of it files
    nothing new)."""
    return ServiceRequest.objects.filter(submission_token=token).exists()


def _count_and_last(model: type[RequestEvent] | type[Attachment], condition: str = "") -> RawSQL:
    """The text "<count>:<highest id>" of `model`'s rows of the outer request (and `condition`).
    The outer query must read the requests table unaliased (a plain query on `ServiceRequest`,
    not a subquery or a self-join)."""
    table = model._meta.db_table
    outer = ServiceRequest._meta.db_table
    return RawSQL(  # noqa: S611  (table names from model metadata; no parameters)
        f"SELECT COUNT(*) || ':' || COALESCE(MAX(t.id), 0) FROM {table} t "  # noqa: S608
        f'WHERE t.request_id = "{outer}"."id"{condition}',
        (),
        output_field=CharField(),
    )


def request_for_page(
    *, user: User | AnonymousUser, tracking_number: str, tracked: Callable[[], bool]
) -> ServiceRequest | None:
    """The request `/requests/<tracking number>/` shows: the signed-in civilian's own, or any
    request whose number and email this browser proved at /track/ (`tracked()`, asked only
    when the request is not the user's own); else None.

    One query, with the version of what the page lists of it: `public_events_version` and
    `documents_version` are "<count>:<highest id>" of its public events and of its documents.
    Neither is ever changed or deleted and ids only grow, so any addition changes them; the
    page lists them only when a cached part of it has to be rendered again."""
    found = next(
        iter(
            ServiceRequest.objects.select_related("service_type")
            .filter(tracking_number=tracking_number)
            .annotate(
                public_events_version=_count_and_last(RequestEvent, " AND t.public"),
                documents_version=_count_and_last(Attachment),
            )
            .order_by()[:1]
        ),
        None,
    )
    if found is None:
        return None
    if user.is_authenticated and found.requester_id == user.pk:
        return found
    return found if tracked() else None


def public_timeline(*, request: ServiceRequest) -> list[RequestEvent]:
    """The request's public events, oldest first, in one query: each event's `request` is
    `request` itself (with its service type), not a join."""
    events = list(request.events.filter(public=True).order_by("created_at", "pk"))
    for event in events:
        event.request = request
    return events


def requests_for_staff(*, user: User | AnonymousUser) -> QuerySet[ServiceRequest]:
    """Requests a staff member may see: every program with `view_all_requests` (auditors,
    finance), else those of the programs they review or decide for."""
    if not user.is_authenticated or not user.is_active or not user.is_staff:
        return ServiceRequest.objects.none()
    if user.is_superuser or user.has_perm(VIEW_ALL_PERMISSION):
        return ServiceRequest.objects.all()
    # One query for the programs (reviewed or decided) and their service types. Filter the
    # requests on the types' ids, not through a join to them: the planner estimates an id list
    # well and walks the (service_type, submitted_at) index.
    programs = programs_worked_by(user=user).values("pk")
    type_ids = list(
        ServiceType.objects.filter(program_id__in=programs).values_list("pk", flat=True)
    )
    if not type_ids:
        return ServiceRequest.objects.none()
    return ServiceRequest.objects.filter(service_type_id__in=type_ids)


# -- filing in steps: drafts, the emailed link, claiming, possible duplicates --------------

GUEST_PREFIX = "guest-"
VERIFY_SALT = "service_requests.draft-verify"


def normal_email(email: str) -> str:
    return email.strip().lower()


def uuid_or_none(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def draft_of(*, draft_id: object, user: User | AnonymousUser) -> RequestDraft | None:
    """The unfiled draft with `draft_id` (from this browser's session), if `user` may use it:
    a draft started while signed in belongs to that account only."""
    key = uuid_or_none(draft_id)
    if key is None:
        return None
    draft = RequestDraft.objects.filter(pk=key, filed_request__isnull=True).first()
    if draft is None:
        return None
    if draft.owner_id is not None and draft.owner_id != getattr(user, "pk", None):
        return None
    return draft


def verification_link_token(draft: RequestDraft) -> str:
    """The signed, expiring token of the link emailed for `draft`."""
    return signing.TimestampSigner(salt=VERIFY_SALT).sign(f"{draft.pk}:{draft.verify_nonce}")


def draft_from_link(token: str) -> RequestDraft:
    """The draft a followed link belongs to; a refusal says why (invalid, expired, used)."""
    signer = signing.TimestampSigner(salt=VERIFY_SALT)
    try:
        value = signer.unsign(token, max_age=int(conf.get("VERIFY_LINK_SECONDS")))
    except signing.SignatureExpired:
        raise RequestError(ERR_LINK_EXPIRED, code="expired") from None
    except signing.BadSignature:
        raise RequestError(ERR_LINK_INVALID, code="invalid") from None
    draft_id, _sep, nonce = value.partition(":")
    draft = RequestDraft.objects.filter(pk=draft_id).first()
    if draft is None:
        raise RequestError(ERR_LINK_EXPIRED, code="expired")
    if draft.filed_request_id is not None:
        raise RequestError(ERR_LINK_USED, code="used")
    if not nonce or not secrets.compare_digest(nonce, draft.verify_nonce):
        raise RequestError(ERR_LINK_INVALID, code="invalid")
    return draft


def verified_emails_of(user: User) -> list[str]:
    return [
        normal_email(e)
        for e in EmailAddress.objects.filter(user=user, verified=True).values_list(
            "email", flat=True
        )
    ]


def email_verified_by(user: User, email: str) -> bool:
    return normal_email(email) in verified_emails_of(user)


def requests_claimable(*, user: User | AnonymousUser) -> QuerySet[ServiceRequest]:
    """Requests filed without an account with one of `user`'s verified email addresses and not
    yet in any account."""
    if not user.is_authenticated:
        return ServiceRequest.objects.none()
    return (
        ServiceRequest.objects.filter(
            draft__email__in=verified_emails_of(user),  # type: ignore[arg-type]
            requester__username__startswith=GUEST_PREFIX,
        )
        .select_related("service_type")
        .order_by("-submitted_at", "-id")
    )


_WORD = re.compile(r"\w+")
DUPLICATE_THRESHOLD = 0.5
DUPLICATES_SHOWN = 3  # the most alike open requests listed before filing
DUPLICATE_CANDIDATES = 50


def _tokens(text: str) -> set[str]:
    """Words of three letters or more, lower case, accents removed."""
    plain = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in plain if not unicodedata.combining(c))
    return {w for w in _WORD.findall(plain) if len(w) >= 3}


def similarity(first: str, second: str) -> float:
    """How alike two descriptions are: the share of words they have in common (Jaccard)."""
    a, b = _tokens(first), _tokens(second)
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def possible_duplicates(
    *,
    service_type_id: int | None,
    description: str,
    user: User | AnonymousUser | None = None,
    email: str = "",
) -> list[ServiceRequest]:
    """Open requests of the same service, filed by `user` (or, for a verified address, with
    `email`), whose description is very like `description`; most alike first."""
    if not service_type_id or not description:
        return []
    found = ServiceRequest.objects.filter(service_type_id=service_type_id, status__in=OPEN_STATUSES)
    if user is not None and user.is_authenticated:
        found = found.filter(requester=user)
    elif email:
        found = found.filter(contact_email__iexact=normal_email(email))
    else:
        return []
    candidates = found.only("tracking_number", "description", "status", "submitted_at")
    scored = [
        (similarity(description, c.description), c) for c in candidates[:DUPLICATE_CANDIDATES]
    ]
    alike = sorted(
        (pair for pair in scored if pair[0] >= DUPLICATE_THRESHOLD),
        key=lambda pair: -pair[0],
    )
    return [c for _score, c in alike[:DUPLICATES_SHOWN]]


def events_awaiting_email(*, before: datetime, limit: int) -> list[int]:
    """The outbox: timeline events whose email is still pending, written before `before`,
    oldest first."""
    return list(
        RequestEvent.objects.filter(notify=NotifyState.PENDING, created_at__lt=before)
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )


def drafts_awaiting_link(*, before: datetime, limit: int) -> list[uuid.UUID]:
    """The outbox of emailed links: drafts whose link is still to be sent, asked for before
    `before`, oldest first."""
    return list(
        RequestDraft.objects.filter(verify_state=VerifyState.PENDING, verify_sent_at__lt=before)
        .order_by("verify_sent_at")
        .values_list("pk", flat=True)[:limit]
    )


# -- reads for oversight (service levels and the figures) ----------------------------------

CLOSING_EVENTS = ("fulfilled", "rejected", "withdrawn")


@dataclass(frozen=True)
class RequestFacts:
    """What oversight reads of one request: its dates, service, program, target, assignee."""

    id: int
    tracking_number: str
    submitted_at: datetime
    status: str
    service_type_id: int
    program_id: int
    target_days: int
    assignee_id: int | None
    assignee_username: str | None


_FACT_FIELDS = (
    "id",
    "tracking_number",
    "submitted_at",
    "status",
    "service_type_id",
    "service_type__program_id",
    "service_type__target_days",
    "assignee_id",
    "assignee__username",
)


def _facts(found: QuerySet[ServiceRequest]) -> list[RequestFacts]:
    return [RequestFacts(*row) for row in found.order_by("id").values_list(*_FACT_FIELDS)]


def service_type_ids_of(*, program_ids: list[int]) -> list[int]:
    return list(ServiceType.objects.filter(program_id__in=program_ids).values_list("pk", flat=True))


def requests_open_facts(*, after_id: int = 0, limit: int | None = None) -> list[RequestFacts]:
    """Open requests (not closed), by id from `after_id` on: what the breach task walks."""
    found = ServiceRequest.objects.filter(status__in=OPEN_STATUSES, pk__gt=after_id)
    facts = _facts(found)
    return facts[:limit] if limit is not None else facts


def requests_facts(*, request_ids: list[int]) -> list[RequestFacts]:
    return [
        f
        for chunk in _chunks(request_ids)
        for f in _facts(ServiceRequest.objects.filter(id_in(ServiceRequest, "id", chunk)))
    ]


def requests_in_period_facts(
    *, since: datetime | None, until: datetime, service_type_ids: list[int] | None
) -> list[RequestFacts]:
    """Requests a period's figures read: filed before `until` and either filed in the period,
    still open, or closed (fulfilled, rejected, withdrawn) at or after `since`."""
    found = ServiceRequest.objects.filter(submitted_at__lt=until)
    if service_type_ids is not None:
        found = found.filter(service_type_id__in=service_type_ids)
    if since is not None:
        closed_since = RequestEvent.objects.filter(
            kind__in=CLOSING_EVENTS, created_at__gte=since
        ).values("request_id")
        found = found.filter(
            Q(submitted_at__gte=since) | Q(status__in=OPEN_STATUSES) | Q(pk__in=closed_since)
        )
    return _facts(found)


# Ids per query when reading rows of many requests, except on PostgreSQL, which takes them all
# as one array (`core.db.id_in`): SQLite limits the parameters of one statement.
ID_CHUNK = 5000


def _chunks(ids: list[int]) -> list[list[int]]:
    if connection.vendor == "postgresql":
        return [ids] if ids else []
    return [ids[i : i + ID_CHUNK] for i in range(0, len(ids), ID_CHUNK)]


def timelines_of(*, request_ids: list[int]) -> dict[int, list[tuple[str, datetime]]]:
    """Each request's timeline as `(kind, when)`, oldest first (public and staff events)."""
    timelines: dict[int, list[tuple[str, datetime]]] = {pk: [] for pk in request_ids}
    for chunk in _chunks(request_ids):
        rows = (
            RequestEvent.objects.filter(id_in(RequestEvent, "request", chunk))
            .order_by("request_id", "created_at", "pk")
            .values_list("request_id", "kind", "created_at")
        )
        for request_id, kind, created_at in rows:
            timelines[request_id].append((kind, created_at))
    return timelines


def satisfaction_scores_of(*, request_ids: list[int]) -> dict[int, int]:
    """The satisfaction score given for each of the requests that has one."""
    scores: dict[int, int] = {}
    for chunk in _chunks(request_ids):
        scores.update(
            SatisfactionResponse.objects.filter(
                id_in(SatisfactionResponse, "request", chunk)
            ).values_list("request_id", "score")
        )
    return scores
