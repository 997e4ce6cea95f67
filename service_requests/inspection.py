"""Open what a civilian uploads before it is kept: a PDF must parse (pikepdf, on qpdf) and
carry no active content; an image must decode (Pillow) within a pixel budget.

The magic bytes (`attachments.sniff`) only say what a file claims to be. A file that says PDF
but does not parse, a PDF that would run something when opened (JavaScript, launch actions,
additional actions, embedded or attached files, XFA forms, rich media), and an image that is
damaged, cut short or a decompression bomb are refused here, before anything is stored.
"""

from __future__ import annotations

import enum
import warnings
from collections.abc import Iterator
from typing import IO, Any, BinaryIO, cast

import pikepdf
from PIL import Image, UnidentifiedImageError

# Names that run or carry something when a reader opens the document, wherever they appear.
ACTIVE_KEYS = frozenset(
    {
        "/JS",
        "/JavaScript",
        "/AA",
        "/Launch",
        "/EmbeddedFile",
        "/EmbeddedFiles",
        "/XFA",
        "/RichMedia",
        "/RichMediaContent",
        "/RichMediaExecute",
    }
)
# Action types (`/S`) and annotation kinds (`/Subtype`) refused for the same reason.
ACTIVE_ACTIONS = frozenset(
    {"/JavaScript", "/Launch", "/ImportData", "/RichMediaExecute", "/SubmitForm", "/GoToE"}
)
ACTIVE_ANNOTATIONS = frozenset({"/FileAttachment", "/RichMedia", "/Movie", "/Sound", "/Screen"})
# A well-formed document of a few megabytes has far fewer; past this it is refused as damaged.
MAX_PDF_OBJECTS = 200_000
IMAGE_FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG"}


class Problem(enum.Enum):
    """Why a file was refused after its first bytes passed."""

    DAMAGED = "damaged"
    ACTIVE = "active"
    TOO_MANY_PIXELS = "too_many_pixels"


def inspect(content_type: str, stream: IO[bytes], *, max_pixels: int) -> Problem | None:
    """The problem with the file `stream` (read from its start; left at its start), or None
    when it opens cleanly as `content_type`. Text has nothing more to check."""
    stream.seek(0)
    try:
        if content_type == "application/pdf":
            return _pdf_problem(stream)
        if content_type in IMAGE_FORMATS:
            return _image_problem(stream, IMAGE_FORMATS[content_type], max_pixels)
        return None
    finally:
        stream.seek(0)


def _pdf_problem(stream: IO[bytes]) -> Problem | None:
    try:
        with pikepdf.open(cast(BinaryIO, stream)) as pdf:
            if len(pdf.objects) > MAX_PDF_OBJECTS:
                return Problem.DAMAGED
            if len(pdf.pages) == 0:
                return Problem.DAMAGED
            if any(_is_active(obj) for obj in _walk(pdf)):
                return Problem.ACTIVE
    except (pikepdf.PdfError, pikepdf.PasswordError, ValueError, RecursionError):
        return Problem.DAMAGED
    return None


def _walk(pdf: pikepdf.Pdf) -> Iterator[pikepdf.Dictionary]:
    """Every dictionary of the document: each indirect object and the dictionaries and
    arrays nested in it (an indirect reference is visited once, as its own object)."""
    seen: set[tuple[int, int]] = set()
    pending: list[Any] = [pdf.trailer, *pdf.objects]
    while pending:
        item = pending.pop()
        if isinstance(item, pikepdf.Object) and item.is_indirect:
            ident = item.objgen
            if ident in seen:
                continue
            seen.add(ident)
        if isinstance(item, pikepdf.Stream):
            item = item.stream_dict
        if isinstance(item, pikepdf.Dictionary):
            yield item
            pending.extend(item.values())
        elif isinstance(item, pikepdf.Array):
            pending.extend(item)


def _is_active(entry: pikepdf.Dictionary) -> bool:
    if any(key in ACTIVE_KEYS for key in entry):
        return True
    action = entry.get("/S")
    if isinstance(action, pikepdf.Name) and str(action) in ACTIVE_ACTIONS:
        return True
    kind = entry.get("/Subtype")
    return isinstance(kind, pikepdf.Name) and str(kind) in ACTIVE_ANNOTATIONS


def _image_problem(stream: IO[bytes], expected: str, max_pixels: int) -> Problem | None:
    try:
        with warnings.catch_warnings():
            # Pillow only warns between its own limit and twice it: refused here all the same.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            opened = Image.open(stream, formats=[expected])
        with opened as image:
            width, height = image.size
            if width * height > max_pixels:
                return Problem.TOO_MANY_PIXELS
            image.verify()  # structure and, for PNG, every chunk's checksum
        stream.seek(0)
        with Image.open(stream, formats=[expected]) as image:
            # Decode every byte; a JPEG at an eighth of its size, which still reads it all.
            image.draft("RGB", (max(1, width // 8), max(1, height // 8)))
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return Problem.TOO_MANY_PIXELS
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        return Problem.DAMAGED
    return None
