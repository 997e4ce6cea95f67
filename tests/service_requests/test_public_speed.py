"""What makes the public pages fast without weakening them: the page layout's fixed parts are
cached per language and visitor kind (never the CSRF token, the current address or another
visitor's navigation); the request page runs a fixed number of queries; a /track/ lookup keeps
its grant in a signed, expiring cookie bound to the tracking number instead of a new session."""

from __future__ import annotations

import re
import time
from unittest import mock

import pytest
from django.contrib.sessions.models import Session
from django.core import signing
from django.core.files.uploadedfile import SimpleUploadedFile

from service_requests import services, tracking
from tests.builders import pdf_bytes, submitted
from tests.conftest import SESSION_QUERIES

TRACK = "/track/"
PDF = pdf_bytes()


@pytest.fixture
def filed(civilian, inspection):  # type: ignore[no-untyped-def]
    return submitted(civilian, inspection)


def _page(client, path: str = "/") -> str:  # type: ignore[no-untyped-def]
    response = client.get(path)
    assert response.status_code == 200
    return response.content.decode()


def _tokenless(html: str) -> str:
    """The page without its form tokens (masked afresh on every response)."""
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)


# --- The cached layout -------------------------------------------------------------------------


def test_the_cached_layout_follows_the_language(client, db):
    english = _page(client)
    client.cookies["django_language"] = "es"
    spanish = _page(client)
    client.cookies["django_language"] = "en"
    again = _page(client)
    assert "An official website of the" in english
    assert "Return to top" in english
    assert "Un sitio web oficial de la" in spanish
    assert "Volver arriba" in spanish
    assert "An official website of the" not in spanish
    assert "Un sitio web oficial de la" not in again


def test_the_cached_layout_keeps_each_visitors_own_navigation(client, civilian, reviewer):
    anonymous = _page(client)
    client.force_login(civilian)
    signed_in = _page(client)
    client.force_login(reviewer)
    staff = _page(client)
    client.logout()
    anonymous_again = _page(client)
    assert "Sign in" in anonymous
    assert "Sign out" not in anonymous
    assert "Sign out" in signed_in
    assert "My requests" in signed_in
    assert "Workflow" not in signed_in
    assert "Workflow" in staff
    assert "Staff admin" in staff
    assert "Sign in" in anonymous_again
    assert "Sign out" not in anonymous_again
    assert "Workflow" not in anonymous_again


def test_the_cached_layout_marks_the_current_page(client, db):
    home = _page(client, "/")
    track = _page(client, TRACK)
    assert home.count('aria-current="page"') == 1
    assert 'href="/" class="usa-nav-link usa-current"' in home
    assert 'href="/track/" class="usa-nav-link usa-current"' in track
    assert 'href="/" class="usa-nav-link usa-current"' not in track


def test_the_language_switcher_keeps_its_own_token_and_address(client, civilian, inspection):
    first = _page(client, TRACK)
    other = client.__class__()
    second = _page(other, "/requests/new/")

    def token(html: str) -> str:
        switcher = html.split('id="language-switcher"', 1)[1]
        return switcher.split('name="csrfmiddlewaretoken" value="', 1)[1].split('"', 1)[0]

    assert token(first) != token(second)
    assert 'name="next" value="/track/"' in first
    assert 'name="next" value="/requests/new/"' in second


# --- The request page's queries ----------------------------------------------------------------


def _with_history(civilian, reviewer, inspection):  # type: ignore[no-untyped-def]
    request = submitted(civilian, inspection)
    services.request_start_review(actor=reviewer, request_id=request.pk)
    services.request_ask_info(actor=reviewer, request_id=request.pk, message="Which floor?")
    services.request_provide_info(actor=civilian, request_id=request.pk, message="The second.")
    services.attachments_add(
        actor=civilian,
        request_id=request.pk,
        files=[
            SimpleUploadedFile(f"note-{n}.pdf", PDF, content_type="application/pdf")
            for n in range(3)
        ],
    )
    return request


def test_the_request_page_runs_a_fixed_number_of_queries(
    client, civilian, reviewer, inspection, django_assert_num_queries
):
    request = _with_history(civilian, reviewer, inspection)
    client.force_login(civilian)
    path = f"/requests/{request.tracking_number}/"
    client.get(path)
    # Its parts come from the cache: the user, and the request with its service type and the
    # versions of its public events and documents.
    with django_assert_num_queries(2 + SESSION_QUERIES):
        page = client.get(path)
    assert page.status_code == 200
    text = page.content.decode()
    assert text.count('class="usa-process-list__item"') >= 4
    documents = text.split('id="attachment-list"', 1)[1].split("</ul>", 1)[0]
    assert documents.count("note-") == 3
    services.request_ask_info(actor=reviewer, request_id=request.pk, message="And the door?")
    # The changed parts are rendered again: the timeline and the documents are read.
    with django_assert_num_queries(4 + SESSION_QUERIES):
        assert "And the door?" in client.get(path).content.decode()
    # The question asked is shown above the answer form, outside the cached parts.
    with django_assert_num_queries(3 + SESSION_QUERIES):
        assert "And the door?" in client.get(path).content.decode()


def test_a_request_with_answers_reads_its_questions_once(
    client, civilian, inspection, django_assert_num_queries
):
    from service_requests.models import ServiceQuestion

    floor = {"code": "floor", "label": "Which floor?", "kind": "text", "required": False}
    ServiceQuestion.objects.create(service_type=inspection, **floor)
    request = submitted(civilian, inspection)
    type(request).objects.filter(pk=request.pk).update(
        answers=[{"code": "floor", "question": "Which floor?", "answer": "Second"}]
    )
    client.force_login(civilian)
    path = f"/requests/{request.tracking_number}/"
    # The first view renders the answers: the user, the request, its timeline and the questions
    # (it has no documents: its version says so, and they are not read).
    with django_assert_num_queries(4 + SESSION_QUERIES):
        first = client.get(path).content.decode()
    # The next one takes the rendered parts from the cache and reads none of them.
    with django_assert_num_queries(2 + SESSION_QUERIES):
        text = client.get(path).content.decode()
    assert _tokenless(text) == _tokenless(first)
    assert "Which floor?" in text
    assert "Second" in text


# --- The request page's cached parts ---------------------------------------------------------


def test_the_request_page_shows_every_change_at_once(client, civilian, reviewer, inspection):
    request = submitted(civilian, inspection)
    client.force_login(civilian)
    path = f"/requests/{request.tracking_number}/"
    assert "It is waiting for a reviewer." in _page(client, path)
    services.request_start_review(actor=reviewer, request_id=request.pk)
    reviewing = _page(client, path)
    assert "It is waiting for a reviewer." not in reviewing
    assert reviewing.count('class="usa-process-list__item"') == 2
    services.request_ask_info(actor=reviewer, request_id=request.pk, message="Which floor?")
    asked = _page(client, path)
    assert "Which floor?" in asked
    assert "Send my answer" in asked
    services.attachments_add(
        actor=civilian,
        request_id=request.pk,
        files=[SimpleUploadedFile("floor-plan.pdf", PDF, content_type="application/pdf")],
    )
    assert "floor-plan.pdf" in _page(client, path)


def test_a_renamed_service_or_new_target_shows_at_once(client, civilian, inspection):
    request = submitted(civilian, inspection)
    client.force_login(civilian)
    path = f"/requests/{request.tracking_number}/"
    assert "Home safety inspection" in _page(client, path)
    inspection.name = "Home safety check"
    inspection.target_days = 9
    inspection.save()
    page = _page(client, path)
    assert "Home safety check" in page
    assert "9 days after you filed it" in page


def test_a_refused_form_shows_its_errors_and_never_reaches_the_cache(client, civilian, inspection):
    request = submitted(civilian, inspection)
    client.force_login(civilian)
    path = f"/requests/{request.tracking_number}/"
    fresh = _page(client, path)
    refused = client.post(f"{path}withdraw/", {"reason": "Fixed it myself."})
    assert refused.status_code == 400
    text = refused.content.decode()
    withdraw = text.split('id="withdraw"', 1)[1]
    assert "usa-form-group--error" in withdraw
    assert "Tick the box to confirm" in withdraw
    assert "Fixed it myself." in withdraw
    again = _page(client, path)
    assert "usa-form-group--error" not in again
    assert "Fixed it myself." not in again
    assert _tokenless(again) == _tokenless(fresh)


def test_the_owner_and_a_tracking_visitor_each_get_their_own_page(
    client, civilian, inspection, fresh_rate_limits
):
    request = submitted(civilian, inspection)
    path = f"/requests/{request.tracking_number}/"
    client.force_login(civilian)
    owner = _page(client, path)
    visitor = client.__class__()
    assert _lookup(visitor, request).status_code == 302
    seen = _page(visitor, path)
    assert "Withdraw this request" in owner
    assert "Withdraw this request" not in seen
    assert "You are seeing this request through its tracking number." in seen
    assert "You are seeing this request through its tracking number." not in owner
    client.cookies["django_language"] = "es"
    spanish = _page(client, path)
    assert "Retirar esta solicitud" in spanish
    assert "Withdraw this request" not in spanish


def test_each_session_gets_its_own_form_tokens(civilian, inspection):
    from django.test import Client

    request = submitted(civilian, inspection)
    path = f"/requests/{request.tracking_number}/"
    tokens = []
    for _ in range(2):
        browser = Client(enforce_csrf_checks=True)
        browser.force_login(civilian)
        page = _page(browser, path)
        withdraw = page.split('id="withdraw"', 1)[1]
        token = withdraw.split('name="csrfmiddlewaretoken" value="', 1)[1].split('"', 1)[0]
        tokens.append((browser, token))
    assert tokens[0][1] != tokens[1][1]
    first, token = tokens[0]
    response = first.post(
        f"{path}withdraw/", {"csrfmiddlewaretoken": token, "reason": "", "confirm": "on"}
    )
    assert response.status_code == 302


# --- The lookup's grant ------------------------------------------------------------------------


def _lookup(client, request):  # type: ignore[no-untyped-def]
    return client.post(
        TRACK, {"tracking_number": request.tracking_number, "email": request.contact_email}
    )


@pytest.mark.usefixtures("fresh_rate_limits")
def test_a_lookup_grants_by_a_signed_http_only_cookie_and_writes_no_session(client, filed):
    sessions = Session.objects.count()
    response = _lookup(client, filed)
    assert response.status_code == 302
    cookie = response.cookies[tracking.TRACK_COOKIE_NAME]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"
    assert int(cookie["max-age"]) == 60 * 60
    grants = signing.loads(cookie.value, salt=tracking.TRACK_COOKIE_SALT)
    assert list(grants) == [filed.tracking_number]
    assert 0 < grants[filed.tracking_number] - time.time() <= 60 * 60
    assert Session.objects.count() == sessions
    assert client.get(f"/requests/{filed.tracking_number}/").status_code == 200


@pytest.mark.usefixtures("fresh_rate_limits")
def test_the_grant_is_bound_to_its_tracking_number(client, filed, civilian, inspection):
    other = submitted(civilian, inspection)
    assert _lookup(client, filed).status_code == 302
    assert client.get(f"/requests/{filed.tracking_number}/").status_code == 200
    assert client.get(f"/requests/{other.tracking_number}/").status_code == 302
    # A second lookup adds its number and keeps the first.
    assert _lookup(client, other).status_code == 302
    assert client.get(f"/requests/{filed.tracking_number}/").status_code == 200
    assert client.get(f"/requests/{other.tracking_number}/").status_code == 200


@pytest.mark.usefixtures("fresh_rate_limits")
def test_a_forged_or_altered_grant_cookie_is_ignored(client, filed, civilian, inspection):
    other = submitted(civilian, inspection)
    far = int(time.time()) + 3600
    client.cookies[tracking.TRACK_COOKIE_NAME] = signing.dumps({other.tracking_number: far})
    assert client.get(f"/requests/{other.tracking_number}/").status_code == 302
    assert _lookup(client, filed).status_code == 302
    value = client.cookies[tracking.TRACK_COOKIE_NAME].value
    flipped = "B" if value[6] == "A" else "A"
    client.cookies[tracking.TRACK_COOKIE_NAME] = value[:6] + flipped + value[7:]
    assert client.get(f"/requests/{other.tracking_number}/").status_code == 302
    assert client.get(f"/requests/{filed.tracking_number}/").status_code == 302


@pytest.mark.usefixtures("fresh_rate_limits")
def test_the_grant_cookie_expires(client, filed):
    assert _lookup(client, filed).status_code == 302
    path = f"/requests/{filed.tracking_number}/"
    assert client.get(path).status_code == 200
    later = time.time() + 60 * 60 + 5
    with mock.patch("time.time", return_value=later):
        assert client.get(path).status_code == 302
