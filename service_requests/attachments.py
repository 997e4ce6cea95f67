"""Civilians' documents: private storage, type by content, safe names.

Files are kept through Django's storage API in a private location (never under `MEDIA_URL` or
the static root) and served only by `views.attachment_download`, to the civilian who filed the
request and to staff who may see it. The type is decided from the first bytes, never from the
name or the browser's claim; the stored name is random, and the name shown is sanitised.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.utils.deconstruct import deconstructible

from . import conf

# type -> (extension, what civilians are told)
ALLOWED_TYPES = {
    "application/pdf": ".pdf",
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "text/plain": ".txt",
}
ALLOWED_DESCRIPTION = "PDF, PNG, JPEG, TXT"
MAX_NAME = 100


@deconstructible
class PrivateStorage(FileSystemStorage):
    """A file system storage rooted at `HMS_REQUESTS_ATTACHMENTS_ROOT` (read on every use, so
    tests can point it elsewhere), with no public URL."""

    def __init__(self) -> None:
        super().__init__(base_url=None)

    @property  # type: ignore[override]
    def base_location(self) -> str:
        configured = conf.get("ATTACHMENTS_ROOT")
        return str(configured or Path(settings.BASE_DIR) / "private-media")

    @property  # type: ignore[override]
    def location(self) -> str:
        return str(Path(self.base_location).resolve())

    def url(self, name: str | None) -> str:  # type: ignore[override]
        raise ValueError("Attachments have no public URL; they are served by a view.")

    def _save(self, name: str, content: Any) -> str:
        root = Path(self.location)
        root.mkdir(parents=True, exist_ok=True)
        marker = root / ".gitignore"
        if not marker.exists():  # a checkout never commits civilians' files
            marker.write_text("*\n", encoding="utf-8")
        return super()._save(name, content)  # type: ignore[misc]


def private_storage() -> PrivateStorage:
    return PrivateStorage()


def sniff(head: bytes) -> str | None:
    """The content type of a file from its first bytes, or None when it is not one we take.

    Text must be UTF-8 without NUL or other control characters (tabs and line breaks aside)."""
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if not head:
        return None
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as error:
        # The sample may end inside a multi-byte character; anything else is not UTF-8.
        if error.reason != "unexpected end of data":
            return None
        text = head[: error.start].decode("utf-8")
    if any((ord(c) < 32 and c not in "\t\n\r\f") or ord(c) == 127 for c in text):
        return None
    return "text/plain"


def safe_name(raw: str, *, content_type: str) -> str:
    """A display name safe anywhere: no directories, no control or odd characters, a sane
    length, and the extension of the type found in its content."""
    name = PureWindowsPath(PurePosixPath(raw or "").name).name  # "../../x", "C:\\x"
    name = unicodedata.normalize("NFKC", name)
    name = "".join(c for c in name if c.isprintable())
    stem = re.sub(r"[^\w.-]+", "_", Path(name).stem).strip("._-")[: MAX_NAME - 5]
    return (stem or "document") + ALLOWED_TYPES[content_type]
