"""Documents: several per request, type checked by content, size limited, private storage,
served only to the requester and to staff who may see the request, names sanitised."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from service_requests import services
from service_requests.attachments import PrivateStorage
from service_requests.models import Attachment, RequestEvent, ServiceRequest
from tests.builders import filing_form, image_bytes, pdf_bytes, submitted

PDF = pdf_bytes()
PNG = image_bytes("PNG")
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff"


def _file(name: str, content: bytes, content_type: str = "application/pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


_form = filing_form


def test_files_are_added_when_filing_and_kept_privately(
    client, civilian, inspection, private_media: Path
):
    client.force_login(civilian)
    response = client.post(
        "/requests/new/",
        _form(
            inspection,
            attachments=[_file("lease.pdf", PDF), _file("photo.png", PNG, "image/png")],
        ),
    )
    assert response.status_code == 302
    request = ServiceRequest.objects.get()
    stored = list(request.attachments.order_by("name"))
    assert [(a.name, a.content_type, a.size) for a in stored] == [
        ("lease.pdf", "application/pdf", len(PDF)),
        ("photo.png", "image/png", len(PNG)),
    ]
    for attachment in stored:
        path = Path(attachment.file.path)
        assert path.is_relative_to(private_media)
        assert path.name != attachment.name  # a random name on disk
        assert path.read_bytes() in (PDF, PNG)
    assert (private_media / ".gitignore").read_text() == "*\n"
    event = RequestEvent.objects.get(kind="documents_added")
    assert event.message == "lease.pdf\nphoto.png"


def test_the_requester_downloads_a_document_as_an_attachment(client, civilian, inspection):
    request = submitted(civilian, inspection)
    (attachment,) = services.attachments_add(
        actor=civilian, request_id=request.pk, files=[_file("lease.pdf", PDF)]
    )
    client.force_login(civilian)
    page = client.get(f"/requests/{request.tracking_number}/").content.decode()
    url = f"/requests/{request.tracking_number}/attachments/{attachment.pk}/"
    assert url in page
    response = client.get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="lease.pdf"'
    assert "sandbox" in response["Content-Security-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"


def test_documents_are_served_only_to_the_requester_and_staff_who_may_see_them(
    client, civilian, other_civilian, reviewer, outsider_reviewer, inspection
):
    request = submitted(civilian, inspection)
    (attachment,) = services.attachments_add(
        actor=civilian, request_id=request.pk, files=[_file("lease.pdf", PDF)]
    )
    url = f"/requests/{request.tracking_number}/attachments/{attachment.pk}/"
    assert client.get(url).status_code == 302  # anonymous: sign in first
    client.force_login(other_civilian)
    assert client.get(url).status_code == 404
    client.force_login(outsider_reviewer)  # reviews another program
    assert client.get(url).status_code == 404
    client.force_login(reviewer)
    assert client.get(url).status_code == 200
    # An attachment id of another request does not leak through this one's number.
    other = submitted(other_civilian, inspection)
    client.force_login(other_civilian)
    assert (
        client.get(f"/requests/{other.tracking_number}/attachments/{attachment.pk}/").status_code
        == 404
    )


def test_the_storage_has_no_public_url():
    with pytest.raises(ValueError, match="no public URL"):
        PrivateStorage().url("requests/1/x.pdf")


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (_file("invoice.pdf", EXE), "is not a PDF, PNG, JPEG, TXT file"),
        (_file("notes.txt", b"plain\x00text with a NUL", "text/plain"), "is not a PDF"),
        (_file("empty.pdf", b""), "is empty"),
        (_file("big.pdf", PDF + b"0" * (4 * 1024 * 1024)), "each file can be at most 4.0"),
    ],
)
def test_a_dangerous_or_oversized_file_gets_a_message_and_the_form_survives(
    client, civilian, inspection, upload, message
):
    client.force_login(civilian)
    response = client.post(
        "/requests/new/",
        _form(inspection, contact_name="Alice Keeps This", attachments=[upload]),
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert message in page
    assert 'value="Alice Keeps This"' in page
    assert "The stairs to the basement are loose" in page
    assert not ServiceRequest.objects.exists()
    assert not Attachment.objects.exists()


def test_names_with_path_tricks_are_sanitised(civilian, inspection):
    request = submitted(civilian, inspection)
    names = ["../../etc/passwd", "..\\..\\boot.ini", "<script>x</script>.pdf", "a\x00b.exe"]
    saved = services.attachments_add(
        actor=civilian,
        request_id=request.pk,
        files=[_file(name, PDF) for name in names],
    )
    assert [a.name for a in saved] == ["passwd.pdf", "boot.pdf", "script.pdf", "ab.pdf"]
    for attachment in saved:
        assert ".." not in attachment.file.name
        assert attachment.file.name.startswith(f"requests/{request.pk}/")


def test_one_bad_file_stores_none_of_them(civilian, inspection, private_media: Path):
    request = submitted(civilian, inspection)
    with pytest.raises(services.RequestError, match="is not a PDF"):
        services.attachments_add(
            actor=civilian,
            request_id=request.pk,
            files=[_file("good.pdf", PDF), _file("bad.pdf", EXE)],
        )
    assert not Attachment.objects.exists()
    assert not list(private_media.rglob("*.pdf"))


def test_the_number_of_documents_is_limited(civilian, inspection, settings):
    settings.HMS_REQUESTS_ATTACHMENTS_PER_REQUEST = 2
    request = submitted(civilian, inspection)
    services.attachments_add(actor=civilian, request_id=request.pk, files=[_file("a.pdf", PDF)])
    with pytest.raises(services.RequestError, match="at most 2 documents"):
        services.attachments_add(
            actor=civilian,
            request_id=request.pk,
            files=[_file("b.pdf", PDF), _file("c.pdf", PDF)],
        )
    assert Attachment.objects.count() == 1


def test_only_the_requester_adds_documents_and_only_while_open(
    client, civilian, other_civilian, inspection
):
    request = submitted(civilian, inspection)
    with pytest.raises(services.RequestError, match="You may not do that"):
        services.attachments_add(
            actor=other_civilian, request_id=request.pk, files=[_file("a.pdf", PDF)]
        )
    services.request_withdraw(actor=civilian, request_id=request.pk)
    with pytest.raises(services.RequestError, match="is closed"):
        services.attachments_add(actor=civilian, request_id=request.pk, files=[_file("a.pdf", PDF)])
    client.force_login(civilian)
    assert 'type="file"' not in client.get(f"/requests/{request.tracking_number}/").content.decode()


def test_documents_added_from_the_request_page(client, civilian, inspection):
    request = submitted(civilian, inspection)
    client.force_login(civilian)
    url = f"/requests/{request.tracking_number}/attachments/"
    missing = client.post(url, {})
    assert missing.status_code == 400
    assert "Choose at least one file to add." in missing.content.decode()
    refused = client.post(url, {"attachments": [_file("virus.pdf", EXE)]})
    assert refused.status_code == 400
    assert "“virus” is not a PDF, PNG, JPEG, TXT file" in refused.content.decode()
    response = client.post(url, {"attachments": [_file("lease.pdf", PDF)]}, follow=True)
    assert "Thank you: your documents were added." in response.content.decode()
    assert request.attachments.get().name == "lease.pdf"
