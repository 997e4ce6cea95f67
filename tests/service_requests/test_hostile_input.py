"""Hostile input on the public forms: script tags, ten megabytes of text, NUL bytes. Each gets
a clear message, nothing half-done is stored, and nothing is reflected unescaped."""

from __future__ import annotations

import pytest

from service_requests.models import RequestEvent, ServiceRequest
from tests.builders import filing_form, submitted

NEW = "/requests/new/"
SCRIPT = "<script>alert('owned')</script>"


_form = filing_form


def _nothing_stored() -> None:
    assert not ServiceRequest.objects.exists()
    assert not RequestEvent.objects.exists()


def test_ten_megabytes_of_text_get_a_clear_page_and_store_nothing(client, civilian, inspection):
    client.force_login(civilian)
    response = client.post(NEW, _form(inspection, description="x" * (10 * 1024 * 1024)))
    assert response.status_code == 400
    page = response.content.decode()
    assert "We could not read what was sent" in page
    assert "Nothing was saved." in page
    _nothing_stored()


@pytest.mark.parametrize("field", ["description", "contact_name", "contact_phone"])
def test_nul_bytes_are_refused_with_a_message(client, civilian, inspection, field):
    client.force_login(civilian)
    response = client.post(NEW, _form(inspection, **{field: "Loose stairs\x00 and more text"}))
    assert response.status_code == 400
    assert "Null characters are not allowed." in response.content.decode()
    _nothing_stored()


def test_script_tags_are_stored_as_text_and_shown_escaped(
    client, civilian, inspection, django_capture_on_commit_callbacks, mailoutbox
):
    client.force_login(civilian)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            NEW, _form(inspection, description=f"{SCRIPT} stairs", contact_name=SCRIPT)
        )
    assert response.status_code == 302
    stored = ServiceRequest.objects.get()
    assert stored.description == f"{SCRIPT} stairs"
    for url in (
        response["Location"],
        f"/requests/{stored.tracking_number}/",
        "/requests/",
    ):
        page = client.get(url).content.decode()
        assert SCRIPT not in page, url
    page = client.get(f"/requests/{stored.tracking_number}/").content.decode()
    assert "&lt;script&gt;alert(&#x27;owned&#x27;)&lt;/script&gt; stairs" in page
    # The HTML email escapes it too; the plain-text one carries it as text.
    html, _ = mailoutbox[0].alternatives[0]
    assert SCRIPT not in html
    assert "&lt;script&gt;" in html


def test_hostile_input_refused_by_the_form_is_reflected_escaped(client, civilian, inspection):
    client.force_login(civilian)
    response = client.post(NEW, _form(inspection, contact_email=SCRIPT, description=SCRIPT))
    assert response.status_code == 400
    page = response.content.decode()
    assert SCRIPT not in page
    assert "&lt;script&gt;" in page
    assert "Enter a valid email address." in page
    _nothing_stored()


def test_an_answer_with_a_nul_byte_is_refused(client, civilian, reviewer, inspection):
    from service_requests import services

    request = submitted(civilian, inspection)
    services.request_start_review(actor=reviewer, request_id=request.pk)
    services.request_ask_info(actor=reviewer, request_id=request.pk, message="Which days?")
    client.force_login(civilian)
    response = client.post(
        f"/requests/{request.tracking_number}/respond/", {"message": "Monday\x00"}
    )
    assert response.status_code == 400
    assert "Null characters are not allowed." in response.content.decode()
    assert not RequestEvent.objects.filter(kind="info_provided").exists()


def test_an_oversized_answer_is_refused_with_its_limit(client, civilian, reviewer, inspection):
    from service_requests import services

    request = submitted(civilian, inspection)
    services.request_start_review(actor=reviewer, request_id=request.pk)
    services.request_ask_info(actor=reviewer, request_id=request.pk, message="Which days?")
    client.force_login(civilian)
    response = client.post(f"/requests/{request.tracking_number}/respond/", {"message": "x" * 5001})
    assert response.status_code == 400
    assert "at most 5000 characters" in response.content.decode()
