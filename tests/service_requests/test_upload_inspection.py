"""Uploads are opened, not only sniffed: a PDF must parse and carry no active content, an image
must decode within the pixel budget. A refused file names itself, and nothing is stored: no
attachment or draft file row, no file on disk, the draft as it was."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pikepdf
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from service_requests import services
from service_requests.inspection import Problem, inspect
from service_requests.models import Attachment, DraftFile, RequestDraft, ServiceRequest
from tests.builders import filing_form, image_bytes, pdf_bytes, submitted

pytestmark = pytest.mark.django_db

STEP = "/requests/new/{}/"
DAMAGED = "could not be opened: it may be damaged or cut short"
ACTIVE = "is a PDF with active content"
PIXELS = "is an image too large to open"


def _pdf(change: Any) -> bytes:
    """A one-page PDF, changed by `change(pdf)` before it is saved."""
    document = pikepdf.new()
    document.add_blank_page()
    change(document)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _open_action_javascript(pdf: pikepdf.Pdf) -> None:
    pdf.Root.OpenAction = pdf.make_indirect(
        pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("app.alert(1)"))
    )


def _page_additional_action(pdf: pikepdf.Pdf) -> None:
    pdf.pages[0].obj.AA = pikepdf.Dictionary(
        O=pikepdf.Dictionary(S=pikepdf.Name.Launch, F=pikepdf.String("calc.exe"))
    )


def _attached_file(pdf: pikepdf.Pdf) -> None:
    pdf.attachments["run.exe"] = pikepdf.AttachedFileSpec(pdf, b"MZ\x90\x00")


def _xfa_form(pdf: pikepdf.Pdf) -> None:
    pdf.Root.AcroForm = pikepdf.Dictionary(Fields=pikepdf.Array(), XFA=pikepdf.String("<xdp/>"))


def _go_to_first_page(pdf: pikepdf.Pdf) -> None:
    pdf.Root.OpenAction = pikepdf.Array([pdf.pages[0].obj, pikepdf.Name.Fit])


def _png_bomb() -> bytes:
    out = io.BytesIO()
    Image.new("1", (4000, 4000)).save(out, "PNG")  # 16 million pixels in a few kilobytes
    return out.getvalue()


def _file(name: str, content: bytes, content_type: str = "application/pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


@pytest.mark.parametrize(
    ("content_type", "content", "problem"),
    [
        ("application/pdf", pdf_bytes(), None),
        ("application/pdf", _pdf(_go_to_first_page), None),
        ("application/pdf", _pdf(_open_action_javascript), Problem.ACTIVE),
        ("application/pdf", _pdf(_page_additional_action), Problem.ACTIVE),
        ("application/pdf", _pdf(_attached_file), Problem.ACTIVE),
        ("application/pdf", _pdf(_xfa_form), Problem.ACTIVE),
        ("application/pdf", pdf_bytes()[:80], Problem.DAMAGED),
        ("application/pdf", b"%PDF-1.7\n" + b"\x00garbage" * 50, Problem.DAMAGED),
        ("image/png", image_bytes("PNG"), None),
        ("image/jpeg", image_bytes("JPEG"), None),
        ("image/png", image_bytes("PNG", (300, 300))[:150], Problem.DAMAGED),
        ("image/jpeg", image_bytes("JPEG", (300, 300))[:400], Problem.DAMAGED),
        ("image/jpeg", image_bytes("PNG"), Problem.DAMAGED),
        ("image/png", _png_bomb(), Problem.TOO_MANY_PIXELS),
        ("text/plain", b"just words", None),
    ],
)
def test_inspect_opens_each_kind(content_type: str, content: bytes, problem: Problem | None):
    stream = io.BytesIO(content)
    assert inspect(content_type, stream, max_pixels=1_000_000) is problem
    assert stream.tell() == 0


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (_file("script.pdf", _pdf(_open_action_javascript)), f"“script” {ACTIVE}"),
        (_file("bundle.pdf", _pdf(_attached_file)), f"“bundle” {ACTIVE}"),
        (_file("cut.pdf", pdf_bytes()[:80]), f"“cut” {DAMAGED}"),
        (_file("bomb.png", _png_bomb(), "image/png"), f"“bomb” {PIXELS}"),
    ],
)
def test_a_refused_upload_on_the_request_page_stores_nothing(
    client, civilian, inspection, private_media: Path, settings, upload, message
):
    settings.HMS_REQUESTS_IMAGE_MAX_PIXELS = 1_000_000
    request = submitted(civilian, inspection)
    client.force_login(civilian)
    url = f"/requests/{request.tracking_number}/attachments/"
    refused = client.post(url, {"attachments": [_file("fine.pdf", pdf_bytes()), upload]})
    assert refused.status_code == 400
    assert message in refused.content.decode()
    assert not Attachment.objects.exists()
    assert not [p for p in private_media.rglob("*") if p.is_file() and p.name != ".gitignore"]


def test_the_service_refuses_active_content_whoever_calls_it(civilian, inspection):
    request = submitted(civilian, inspection)
    with pytest.raises(services.RequestError, match="active content") as refused:
        services.attachments_add(
            actor=civilian,
            request_id=request.pk,
            files=[_file("a.pdf", _pdf(_open_action_javascript))],
        )
    assert refused.value.code == "file_active"
    assert not Attachment.objects.exists()


def test_a_refused_document_step_leaves_the_draft_as_it_was(
    client, civilian, inspection, private_media: Path
):
    client.force_login(civilian)
    client.post(
        STEP.format("details"),
        {"service_type": str(inspection.pk), "description": "The stairs are loose.", "amount": ""},
    )
    kept = client.post(STEP.format("documents"), {"attachments": [_file("ok.pdf", pdf_bytes())]})
    assert kept.status_code == 302
    draft = RequestDraft.objects.get()
    before = (draft.data, draft.updated_at, list(DraftFile.objects.values_list("pk", "file")))
    files_before = sorted(p for p in private_media.rglob("*") if p.is_file())
    refused = client.post(
        STEP.format("documents"),
        {"attachments": [_file("script.pdf", _pdf(_open_action_javascript))]},
    )
    assert refused.status_code == 400
    assert f"“script” {ACTIVE}" in refused.content.decode()
    draft.refresh_from_db()
    assert (draft.data, draft.updated_at, list(DraftFile.objects.values_list("pk", "file"))) == (
        before
    )
    assert sorted(p for p in private_media.rglob("*") if p.is_file()) == files_before


def test_the_one_page_form_refuses_a_damaged_pdf_and_files_nothing(client, civilian, inspection):
    client.force_login(civilian)
    response = client.post(
        "/requests/new/",
        filing_form(inspection, attachments=[_file("cut.pdf", pdf_bytes()[:80])]),
    )
    assert response.status_code == 400
    assert f"“cut” {DAMAGED}" in response.content.decode()
    assert not ServiceRequest.objects.exists()
