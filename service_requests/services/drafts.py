"""Filing a request in steps: the server-side draft, filing without an account through a
one-time emailed link, and claiming such requests into an account.

The acting user (`actor`) of the draft services is the signed-in user, or None for a visitor
without an account (the draft then belongs to no one until the emailed link is followed, or the
visitor signs in during the steps). Drafts carry no history of their own; the request a draft
becomes is filed by `request_submit` as a real user (the signed-in one, or the address's guest
filer), with the draft's one-time submission token, so a double click, a retried post or two
clicks on the emailed link file it once. Without an account nothing reaches staff until the
link is followed: the draft holds what was typed and the documents until then, and a stale
draft is purged with its files.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from core.audit import record_history
from core.outbox import hand_over

from .. import conf
from .. import messages as standard
from ..errors import ERR_LINK_USED, ERR_NOT_CLAIMABLE, RequestError
from ..models import DraftFile, EventKind, RequestDraft, ServiceRequest, VerifyState
from ..selectors import GUEST_PREFIX, email_verified_by, normal_email
from .attachments import attachments_add
from .common import OUTBOX_DRAFT_LINK, enqueue_verification, event_record
from .requests import request_submit

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from .attachments import CheckedFile

# A second "send the link" within this time sends nothing new (a double click).
RESEND_AFTER = timedelta(seconds=60)


@transaction.atomic
def draft_save(
    *,
    actor: User | None,
    draft: RequestDraft | None,
    values: dict[str, Any],
    language: str,
) -> RequestDraft:
    """Keep one step's values (already checked by its form) in the draft, creating it on the
    first step. Signing in during the steps makes the draft that account's."""
    if draft is None:
        draft = RequestDraft(language=language)
    draft.data = {**draft.data, **values}
    draft.language = language
    if actor is not None and draft.owner_id is None:
        draft.owner = actor
    draft.save()
    return draft


@transaction.atomic
def draft_add_files(
    *, actor: User | None, draft: RequestDraft, files: Sequence[CheckedFile]
) -> list[DraftFile]:
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


@transaction.atomic
def draft_remove_file(*, actor: User | None, draft: RequestDraft, file_id: int) -> None:
    """Drop one document from the draft (no-op if it is not there); its file goes on commit."""
    kept = draft.files.filter(pk=file_id).first()
    if kept is None:
        return
    name = kept.file.name or ""
    kept.delete()
    transaction.on_commit(lambda: kept.file.storage.delete(name))


@transaction.atomic
def draft_request_verification(
    *, actor: User | None, draft_id: uuid.UUID, email: str
) -> RequestDraft:
    """Email a one-time link to `email` that files the draft once followed. A new link
    replaces any earlier one; a repeat within a minute (a double click) sends nothing new."""
    # Lock the draft: two clicks must not send two different links.
    draft = RequestDraft.objects.select_for_update().get(pk=draft_id)
    if draft.filed_request_id is not None:
        raise RequestError(ERR_LINK_USED, code="used")
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
    hand_over(OUTBOX_DRAFT_LINK, [draft.pk], lambda: enqueue_verification(draft.pk))
    return draft


@transaction.atomic
def guest_user_for(*, actor: User | None, email: str) -> User:
    """The account-less filer of `email`'s requests: a user with no password and no email of
    its own (so it can never sign in, nor block a sign-up with that address), one per address,
    made the first time `actor` (the signed-in user, or None for a visitor) files for it.
    Its requests are claimed into a real account later."""
    digest = hashlib.sha256(normal_email(email).encode()).hexdigest()[:30]
    user, _created = get_user_model().objects.get_or_create(
        username=f"{GUEST_PREFIX}{digest}", defaults={"is_active": True, "password": "!"}
    )
    return user  # type: ignore[return-value]


@transaction.atomic
def filer_for(*, actor: User | None, email: str) -> User:
    """Who files a verified draft: the signed-in `actor` if `email` is one of their verified
    addresses, else the guest filer of `email` (created the first time)."""
    if actor is not None and email_verified_by(actor, email):
        return actor
    return guest_user_for(actor=actor, email=email)


def draft_submit(*, actor: User, draft: RequestDraft, **fields: Any) -> tuple[ServiceRequest, bool]:
    """File the draft as `actor` (the fields already checked by the forms), then move its
    documents onto the request. Returns the request and whether this call filed it."""
    created, is_new = request_submit(
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
            attachments_add(actor=actor, request_id=request.pk, files=uploads)
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


def drafts_purge(*, actor: User | None = None, older_than: timedelta | None = None) -> int:
    """Delete unfiled drafts not touched for `DRAFT_SECONDS` (beat's task: no `actor`), then
    their files."""
    age = older_than or timedelta(seconds=int(conf.get("DRAFT_SECONDS")))
    with transaction.atomic():
        stale = RequestDraft.objects.filter(
            filed_request__isnull=True, updated_at__lt=timezone.now() - age
        )
        names = list(DraftFile.objects.filter(draft__in=stale).values_list("file", flat=True))
        count, _deleted = stale.delete()
    _delete_files(DraftFile._meta.get_field("file").storage, names)  # type: ignore[attr-defined]
    return count


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
        or not email_verified_by(actor, draft.email)
    ):
        raise RequestError(ERR_NOT_CLAIMABLE, code="not_claimable")
    request.requester = actor
    record_history(request, actor=actor, reason="claimed into an account")
    request.save(update_fields=["requester", "updated_at"])
    event_record(
        request, kind=EventKind.CLAIMED, actor=actor, message=standard.english(standard.CLAIMED)
    )
    return request
