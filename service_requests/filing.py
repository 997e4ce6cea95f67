"""Filing a request in steps: the server-side draft, filing without an account through a
one-time emailed link, claiming such requests into an account, and possible duplicates.

The request itself is always filed by `services.request_submit` with the draft's one-time
submission token, so a double click, a retried post or two clicks on the emailed link file
it once. Without an account nothing reaches staff until the link is followed: the draft holds
what was typed and the documents until then, and a stale draft is purged with its files.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.audit import record_history

from . import conf, services
from . import messages as standard
from .models import (
    OPEN_STATUSES,
    DraftFile,
    EventKind,
    RequestDraft,
    RequestEvent,
    ServiceRequest,
    VerifyState,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

    from .services import CheckedFile

GUEST_PREFIX = "guest-"
VERIFY_SALT = "service_requests.draft-verify"
# A second "send the link" within this time sends nothing new (a double click).
RESEND_AFTER = timedelta(seconds=60)

ERR_LINK_INVALID = _(
    "This link is not valid. Copy the whole link from our email, or file the request again."
)
ERR_LINK_EXPIRED = _("This link has expired. File the request again: nothing was filed.")
ERR_LINK_USED = _(
    "This link was already used: your request is filed. Follow it with the tracking number "
    "from our email at “Track a request”."
)
ERR_NOT_CLAIMABLE = _(
    "This request cannot be added to your account: it was filed with an email address your "
    "account has not verified, or it is already in an account."
)
ERR_NO_DRAFT = _("Your answers have expired. Start again from the list of services.")


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


def draft_save(
    *,
    draft: RequestDraft | None,
    user: User | AnonymousUser,
    values: dict[str, Any],
    language: str,
) -> RequestDraft:
    """Keep one step's values (already checked by its form) in the draft, creating it on the
    first step. Signing in during the steps makes the draft that account's."""
    if draft is None:
        draft = RequestDraft(language=language)
    draft.data = {**draft.data, **values}
    draft.language = language
    if user.is_authenticated and draft.owner_id is None:
        draft.owner = user  # type: ignore[assignment]
    draft.save()
    return draft


@transaction.atomic
def draft_add_files(*, draft: RequestDraft, files: Sequence[CheckedFile]) -> list[DraftFile]:
    """Keep checked documents with the draft (all or none): they become the request's
    attachments when it is filed."""
    saved: list[DraftFile] = []
    try:
        for item in files:
            kept = DraftFile(
                draft=draft,
                name=item.name,
                content_type=item.content_type,
                size=item.upload.size or 0,
            )
            kept.file.save(item.name, item.upload, save=False)
            saved.append(kept)
            kept.save(force_insert=True)
    except BaseException:
        for kept in saved:
            kept.file.storage.delete(kept.file.name or "")
        raise
    return saved


def draft_remove_file(*, draft: RequestDraft, file_id: int) -> None:
    """Drop one document from the draft (no-op if it is not there)."""
    kept = draft.files.filter(pk=file_id).first()
    if kept is None:
        return
    name = kept.file.name or ""
    kept.delete()
    transaction.on_commit(lambda: kept.file.storage.delete(name))


def verification_link_token(draft: RequestDraft) -> str:
    """The signed, expiring token of the link emailed for `draft`."""
    return signing.TimestampSigner(salt=VERIFY_SALT).sign(f"{draft.pk}:{draft.verify_nonce}")


@transaction.atomic
def draft_request_verification(*, draft_id: uuid.UUID, email: str) -> RequestDraft:
    """Email a one-time link to `email` that files the draft once followed. A new link
    replaces any earlier one; a repeat within a minute (a double click) sends nothing new."""
    # Lock the draft: two clicks must not send two different links.
    draft = RequestDraft.objects.select_for_update().get(pk=draft_id)
    if draft.filed_request_id is not None:
        raise services.RequestError(ERR_LINK_USED, code="used")
    email = normal_email(email)
    now = timezone.now()
    recent = draft.verify_sent_at is not None and now - draft.verify_sent_at < RESEND_AFTER
    if recent and draft.email == email and draft.verify_state != VerifyState.NONE:
        return draft
    draft.email = email
    draft.verify_nonce = secrets.token_hex(16)
    draft.verify_state = VerifyState.PENDING
    draft.verify_sent_at = now
    draft.save()
    transaction.on_commit(lambda: enqueue_verification(draft.pk))
    return draft


def enqueue_verification(draft_id: uuid.UUID) -> None:
    """Hand the link's email to Celery; with the broker down it stays pending for the flush."""
    from .tasks import send_draft_verification

    try:
        send_draft_verification.delay(str(draft_id))
    except Exception:  # the broker is down: the outbox keeps the email for the next flush
        services.logger.warning("Broker unreachable; link for draft %s left pending", draft_id)


def draft_from_link(token: str) -> RequestDraft:
    """The draft a followed link belongs to; a refusal says why (invalid, expired, used)."""
    signer = signing.TimestampSigner(salt=VERIFY_SALT)
    try:
        value = signer.unsign(token, max_age=int(conf.get("VERIFY_LINK_SECONDS")))
    except signing.SignatureExpired:
        raise services.RequestError(ERR_LINK_EXPIRED, code="expired") from None
    except signing.BadSignature:
        raise services.RequestError(ERR_LINK_INVALID, code="invalid") from None
    draft_id, _sep, nonce = value.partition(":")
    draft = RequestDraft.objects.filter(pk=draft_id).first()
    if draft is None:
        raise services.RequestError(ERR_LINK_EXPIRED, code="expired")
    if draft.filed_request_id is not None:
        raise services.RequestError(ERR_LINK_USED, code="used")
    if not nonce or not secrets.compare_digest(nonce, draft.verify_nonce):
        raise services.RequestError(ERR_LINK_INVALID, code="invalid")
    return draft


def guest_user_for(email: str) -> User:
    """The account-less filer of `email`'s requests: a user with no password and no email of
    its own (so it can never sign in, nor block a sign-up with that address), one per address.
    Its requests are claimed into a real account later."""
    digest = hashlib.sha256(normal_email(email).encode()).hexdigest()[:30]
    user, _created = get_user_model().objects.get_or_create(
        username=f"{GUEST_PREFIX}{digest}", defaults={"is_active": True, "password": "!"}
    )
    return user  # type: ignore[return-value]


def filer_for(*, user: User | AnonymousUser, email: str) -> User:
    """Who files a verified draft: the signed-in user if `email` is one of their verified
    addresses, else the guest filer of `email`."""
    if user.is_authenticated and _verified(user, email):  # type: ignore[arg-type]
        return user  # type: ignore[return-value]
    return guest_user_for(email)


def draft_submit(*, actor: User, draft: RequestDraft, **fields: Any) -> tuple[ServiceRequest, bool]:
    """File the draft as `actor` (the fields already checked by the forms), then move its
    documents onto the request. Returns the request and whether this call filed it."""
    created, is_new = services.request_submit(
        actor=actor,
        submission_token=draft.submission_token,
        language=draft.language,
        **fields,
    )
    _draft_finish(draft_id=draft.pk, request=created, actor=actor)
    return created, is_new


@transaction.atomic
def _draft_finish(*, draft_id: uuid.UUID, request: ServiceRequest, actor: User) -> None:
    # Lock the draft: of two concurrent clicks only the first moves the documents.
    draft = RequestDraft.objects.select_for_update().filter(pk=draft_id).first()
    if draft is None or draft.filed_request_id is not None:
        return
    kept = list(draft.files.all())
    if kept:
        uploads = [
            UploadedFile(
                file=k.file.open("rb"), name=k.name, content_type=k.content_type, size=k.size
            )
            for k in kept
        ]
        try:
            services.attachments_add(actor=actor, request_id=request.pk, files=uploads)
        finally:
            for upload in uploads:
                upload.close()
    names = [k.file.name or "" for k in kept]
    draft.files.all().delete()
    draft.filed_request = request
    draft.filed_by = actor
    draft.verify_nonce = ""
    if draft.email:
        draft.verified_at = timezone.now()
    draft.data = {}
    draft.save()
    storage = DraftFile._meta.get_field("file").storage  # type: ignore[attr-defined]
    transaction.on_commit(lambda: _delete_files(storage, names))


def _delete_files(storage: Any, names: list[str]) -> None:
    for name in names:
        storage.delete(name)


def drafts_purge(*, older_than: timedelta | None = None) -> int:
    """Delete unfiled drafts not touched for `DRAFT_SECONDS`, with their files."""
    age = older_than or timedelta(seconds=int(conf.get("DRAFT_SECONDS")))
    stale = RequestDraft.objects.filter(
        filed_request__isnull=True, updated_at__lt=timezone.now() - age
    )
    names = list(DraftFile.objects.filter(draft__in=stale).values_list("file", flat=True))
    count, _deleted = stale.delete()
    _delete_files(DraftFile._meta.get_field("file").storage, names)  # type: ignore[attr-defined]
    return count


def _verified_emails(user: User) -> list[str]:
    return [
        normal_email(e)
        for e in EmailAddress.objects.filter(user=user, verified=True).values_list(
            "email", flat=True
        )
    ]


def _verified(user: User, email: str) -> bool:
    return normal_email(email) in _verified_emails(user)


def requests_claimable(*, user: User | AnonymousUser) -> QuerySet[ServiceRequest]:
    """Requests filed without an account with one of `user`'s verified email addresses and not
    yet in any account."""
    if not user.is_authenticated:
        return ServiceRequest.objects.none()
    return (
        ServiceRequest.objects.filter(
            draft__email__in=_verified_emails(user),  # type: ignore[arg-type]
            requester__username__startswith=GUEST_PREFIX,
        )
        .select_related("service_type")
        .order_by("-submitted_at", "-id")
    )


@transaction.atomic
def request_claim(*, actor: User, request_id: int) -> ServiceRequest:
    """Move a request filed without an account into `actor`'s account: only if it was filed
    with an email address `actor` has verified, and only once. Recorded in the history and
    on the timeline."""
    # Lock the request: two clicks (or two accounts with the address) claim it once.
    request = (
        ServiceRequest.objects.select_for_update(of=("self",))
        .select_related("requester", "draft")
        .filter(pk=request_id)
        .first()
    )
    draft = getattr(request, "draft", None) if request is not None else None
    if (
        request is None
        or draft is None
        or not actor.is_active
        or not request.requester.username.startswith(GUEST_PREFIX)
        or not _verified(actor, draft.email)
    ):
        raise services.RequestError(ERR_NOT_CLAIMABLE, code="not_claimable")
    request.requester = actor
    record_history(request, actor=actor, reason="claimed into an account")
    request.save(update_fields=["requester", "updated_at"])
    RequestEvent.objects.create(
        request=request,
        kind=EventKind.CLAIMED,
        actor=actor,
        message=standard.english(standard.CLAIMED),
    )
    return request


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
