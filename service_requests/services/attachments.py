"""Civilians' documents on their requests: checked by content, stored privately, all or none."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from .. import conf
from ..attachments import ALLOWED_DESCRIPTION, safe_name, sniff
from ..errors import ERR_NOT_ALLOWED, RequestError
from ..inspection import Problem, inspect
from ..models import CLOSED_STATUSES, Attachment, EventKind
from .common import event_record, is_requester, locked

if TYPE_CHECKING:
    from django.contrib.auth.models import User

ERR_FILE_EMPTY = _("“{name}” is empty: choose the file again.")
ERR_FILE_TOO_BIG = _("“{name}” is {size}: each file can be at most {limit}. Send a smaller copy.")
ERR_FILE_TYPE = _(
    "“{name}” is not a {types} file (we check what is inside the file, not its name). Save "
    "it as a PDF or take a photo of it, and add it again."
)
ERR_FILE_DAMAGED = _(
    "“{name}” could not be opened: it may be damaged or cut short. Save it again, or take a "
    "new photo of it, and add it again."
)
ERR_FILE_ACTIVE = _(
    "“{name}” is a PDF with active content (scripts, actions or files inside it), which we "
    "cannot accept. Print it to a new PDF (“Save as PDF”) and add that copy."
)
ERR_FILE_PIXELS = _(
    "“{name}” is an image too large to open: each image can have at most {limit} million "
    "pixels. Send a smaller photo."
)
ERR_TOO_MANY_FILES = _("A request can have at most {limit} documents.")
ERR_CLOSED_FOR_FILES = _("{tracking_number} is closed: documents can no longer be added.")


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
        _refuse_if_unsafe(upload, content_type, shown)
        checked.append(
            CheckedFile(
                upload=upload,
                content_type=content_type,
                name=safe_name(upload.name or "", content_type=content_type),
            )
        )
    return checked


def _refuse_if_unsafe(upload: UploadedFile, content_type: str, shown: str) -> None:
    """Open the file as what its first bytes say (`inspection`); refuse it, naming it, when it
    does not open, runs something, or is an image past the pixel budget."""
    max_pixels = int(conf.get("IMAGE_MAX_PIXELS"))
    problem = inspect(content_type, upload, max_pixels=max_pixels)
    if problem is Problem.DAMAGED:
        raise RequestError(ERR_FILE_DAMAGED.format(name=shown), code="file_damaged")
    if problem is Problem.ACTIVE:
        raise RequestError(ERR_FILE_ACTIVE.format(name=shown), code="file_active")
    if problem is Problem.TOO_MANY_PIXELS:
        raise RequestError(
            ERR_FILE_PIXELS.format(name=shown, limit=f"{max_pixels / 1e6:.0f}"),
            code="file_pixels",
        )


@transaction.atomic
def attachments_add(
    *, actor: User, request_id: int, files: Sequence[UploadedFile]
) -> list[Attachment]:
    """The civilian who filed an open request adds documents to it: all of them or none.

    Each file is checked (`attachments_validate`), stored under a random name in private
    storage, and listed on the timeline. If anything fails, the files already written are
    removed and the transaction rolls back."""
    request = locked(request_id)
    if not is_requester(actor, request):
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
        event_record(
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
