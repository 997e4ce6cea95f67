"""Filing in steps: the server-side draft, the review page, filing without an account through
the emailed one-time link, claiming such requests, and possible duplicates."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.core import mail, signing
from django.core.files.uploadedfile import SimpleUploadedFile

from service_requests import selectors, services
from service_requests.models import (
    Attachment,
    DraftFile,
    EventKind,
    RequestDraft,
    RequestEvent,
    ServiceRequest,
)
from tests.builders import pdf_bytes, submitted

pytestmark = pytest.mark.usefixtures("fresh_rate_limits")

PDF = pdf_bytes()
STEP = "/requests/new/{}/"
DESCRIPTION = "The stairs to the basement are loose and one step is cracked."


def _file(name: str, content: bytes, content_type: str = "application/pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


def _details(client, service_type, **overrides):  # type: ignore[no-untyped-def]
    data = {"service_type": str(service_type.pk), "description": DESCRIPTION, "amount": ""}
    data.update(overrides)
    return client.post(STEP.format("details"), data)


def _contact(client, **overrides):  # type: ignore[no-untyped-def]
    data = {
        "contact_name": "Alice Example",
        "contact_email": "alice@example.test",
        "contact_phone": "",
    }
    data.update(overrides)
    return client.post(STEP.format("contact"), data)


def _to_review(client, service_type, files=()):  # type: ignore[no-untyped-def]
    assert _details(client, service_type)["Location"] == STEP.format("documents")
    response = client.post(STEP.format("documents"), {"attachments": list(files)})
    assert response["Location"] == STEP.format("contact")
    assert _contact(client)["Location"] == STEP.format("review")


def _token(client) -> str:  # type: ignore[no-untyped-def]
    page = client.get(STEP.format("review")).content.decode()
    found = re.search(r'name="submission_token" value="([0-9a-f-]+)"', page)
    assert found is not None
    return found.group(1)


def _link(message) -> str:  # type: ignore[no-untyped-def]
    found = re.search(r"http://[^/\s]+(/requests/new/verify/[^/\s]+/)", message.body)
    assert found is not None, message.body
    return found.group(1)


def test_the_first_step_is_open_to_everyone_with_the_service_chosen(client, inspection):
    response = client.get("/requests/new/?service=inspection")
    page = response.content.decode()
    assert response.status_code == 200
    assert "usa-step-indicator" in page
    assert f'<option value="{inspection.pk}" selected>' in page
    assert 'aria-current="step"' in page


def test_a_signed_in_civilian_files_through_the_steps_with_a_document(
    client, civilian, inspection, django_capture_on_commit_callbacks
):
    client.force_login(civilian)
    _to_review(client, inspection, [_file("lease.pdf", PDF)])
    review = client.get(STEP.format("review")).content.decode()
    assert DESCRIPTION in review
    assert "lease.pdf" in review
    assert "Submit request" in review
    draft = RequestDraft.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(STEP.format("review"), {"submission_token": _token(client)})
    filed = ServiceRequest.objects.get()
    assert response["Location"] == f"/requests/{filed.tracking_number}/confirmation/"
    assert (filed.requester, filed.description) == (civilian, DESCRIPTION)
    assert filed.submission_token == draft.submission_token
    assert [a.name for a in filed.attachments.all()] == ["lease.pdf"]
    assert not DraftFile.objects.exists()
    draft.refresh_from_db()
    assert draft.filed_request == filed
    assert draft.data == {}
    assert mail.outbox[-1].to == ["alice@example.test"]
    assert filed.history.get().history_user == civilian


def test_a_double_click_on_submit_files_once(client, civilian, inspection):
    client.force_login(civilian)
    _to_review(client, inspection, [_file("lease.pdf", PDF)])
    token = _token(client)
    first = client.post(STEP.format("review"), {"submission_token": token})
    second = client.post(STEP.format("review"), {"submission_token": token})
    assert first["Location"] == second["Location"]
    assert ServiceRequest.objects.count() == 1
    assert Attachment.objects.count() == 1
    assert RequestEvent.objects.filter(kind=EventKind.SUBMITTED).count() == 1


def test_a_stale_review_page_files_nothing(client, civilian, inspection):
    client.force_login(civilian)
    _to_review(client, inspection)
    response = client.post(
        STEP.format("review"), {"submission_token": "00000000-0000-0000-0000-000000000000"}
    )
    assert response.status_code == 400
    assert "error-summary" in response.content.decode()
    assert not ServiceRequest.objects.exists()


def test_a_refused_step_keeps_what_was_typed_and_links_each_error(client, civilian, inspection):
    client.force_login(civilian)
    response = _details(client, inspection, description="<script>")
    page = response.content.decode()
    assert response.status_code == 400
    assert 'id="error-summary"' in page
    assert 'href="#id_description"' in page
    assert "&lt;script&gt;" in page
    assert "<script>x" not in page
    assert not RequestDraft.objects.exists()


def test_earlier_steps_survive_a_refused_later_step_and_going_back(client, civilian, inspection):
    client.force_login(civilian)
    _details(client, inspection)
    client.post(STEP.format("documents"), {"attachments": [_file("lease.pdf", PDF)]})
    refused = client.post(
        STEP.format("documents"), {"attachments": [_file("x.png", b"MZ\x90", "image/png")]}
    )
    assert refused.status_code == 400
    assert "is not a" in refused.content.decode()
    assert "lease.pdf" in refused.content.decode()
    response = _contact(client, contact_email="not-an-email")
    assert response.status_code == 400
    back = client.get(STEP.format("details")).content.decode()
    assert DESCRIPTION in back
    assert [f.name for f in DraftFile.objects.all()] == ["lease.pdf"]


def test_a_document_can_be_removed_from_the_draft(client, civilian, inspection, private_media):
    client.force_login(civilian)
    _details(client, inspection)
    client.post(STEP.format("documents"), {"attachments": [_file("lease.pdf", PDF)], "add": "1"})
    kept = DraftFile.objects.get()
    path = private_media / kept.file.name
    assert path.exists()
    response = client.post(STEP.format("documents"), {"remove": str(kept.pk)})
    assert response["Location"] == STEP.format("documents")
    assert not DraftFile.objects.exists()


def test_signed_in_civilians_get_the_contact_step_prefilled(client, civilian, inspection):
    client.force_login(civilian)
    _details(client, inspection)
    page = client.get(STEP.format("contact")).content.decode()
    assert f'value="{civilian.email}"' in page
    assert f'value="{civilian.get_full_name()}"' in page


def test_later_steps_without_a_draft_go_back_to_the_services(client):
    response = client.get(STEP.format("review"))
    assert response["Location"] == "/requests/new/"
    assert client.get(STEP.format("nonsense"))["Location"] == "/requests/new/"


def test_another_accounts_draft_is_not_used(client, civilian, other_civilian, inspection):
    client.force_login(civilian)
    _details(client, inspection)
    draft = RequestDraft.objects.get()
    assert selectors.draft_of(draft_id=draft.pk, user=other_civilian) is None
    assert selectors.draft_of(draft_id="not-a-uuid", user=civilian) is None
    assert selectors.draft_of(draft_id=draft.pk, user=civilian) == draft


def test_without_an_account_the_request_is_filed_once_the_emailed_link_is_followed(
    client, inspection, django_capture_on_commit_callbacks
):
    _to_review(client, inspection, [_file("lease.pdf", PDF)])
    review = client.get(STEP.format("review")).content.decode()
    assert "Email me the link" in review
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(STEP.format("review"), {"email": "Alice@Example.test"})
    assert response["Location"] == "/requests/new/sent/"
    assert "alice@example.test" in client.get("/requests/new/sent/").content.decode()
    assert not ServiceRequest.objects.exists()
    (message,) = mail.outbox
    assert message.to == ["alice@example.test"]
    link = _link(message)

    # Opening the link files nothing yet: a mail scanner following links files nothing.
    opened = client.get(link)
    assert opened.status_code == 200
    assert DESCRIPTION in opened.content.decode()
    assert not ServiceRequest.objects.exists()

    other_browser = client.__class__()
    with django_capture_on_commit_callbacks(execute=True):
        filed_response = other_browser.post(link)
    filed = ServiceRequest.objects.get()
    assert filed_response["Location"] == f"/requests/{filed.tracking_number}/confirmation/"
    assert filed.requester.username.startswith(selectors.GUEST_PREFIX)
    assert not filed.requester.has_usable_password()
    assert filed.requester.email == ""
    assert [a.name for a in filed.attachments.all()] == ["lease.pdf"]
    assert filed.tracking_number in other_browser.get(filed_response["Location"]).content.decode()
    assert other_browser.get(f"/requests/{filed.tracking_number}/").status_code == 200
    assert mail.outbox[-1].subject.startswith(filed.tracking_number)

    # Single use: a second click files nothing more and says so.
    again = other_browser.post(link)
    assert again.status_code == 400
    assert "already used" in again.content.decode()
    assert ServiceRequest.objects.count() == 1


def test_a_double_click_on_send_the_link_sends_one_email(
    client, inspection, django_capture_on_commit_callbacks
):
    _to_review(client, inspection)
    for _click in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            client.post(STEP.format("review"), {"email": "alice@example.test"})
    assert len(mail.outbox) == 1


def test_a_new_link_replaces_the_old_one(client, inspection, django_capture_on_commit_callbacks):
    _to_review(client, inspection)
    for email in ("alice.other@example.test", "alice@example.test"):
        with django_capture_on_commit_callbacks(execute=True):
            client.post(STEP.format("review"), {"email": email})
    first, second = (_link(m) for m in mail.outbox)
    assert client.post(first).status_code == 400
    assert not ServiceRequest.objects.exists()
    assert client.post(second).status_code == 302
    assert ServiceRequest.objects.get().contact_email == "alice@example.test"


def test_a_tampered_or_expired_link_files_nothing(
    client, inspection, settings, django_capture_on_commit_callbacks
):
    _to_review(client, inspection)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(STEP.format("review"), {"email": "alice@example.test"})
    link = _link(mail.outbox[0])
    tampered = client.post(link[:-3] + "xx/")
    assert tampered.status_code == 400
    assert "not valid" in tampered.content.decode()
    settings.HMS_REQUESTS_VERIFY_LINK_SECONDS = -1
    expired = client.post(link)
    assert expired.status_code == 400
    assert "expired" in expired.content.decode()
    assert not ServiceRequest.objects.exists()
    assert client.get("/requests/new/verify/nonsense/").status_code == 400


def test_a_forged_signature_for_a_real_draft_is_refused(client, inspection):
    _to_review(client, inspection)
    draft = RequestDraft.objects.get()
    forged = signing.TimestampSigner(salt=selectors.VERIFY_SALT).sign(f"{draft.pk}:")
    assert client.post(f"/requests/new/verify/{forged}/").status_code == 400
    assert not ServiceRequest.objects.exists()


def _guest_request(client, inspection, capture):  # type: ignore[no-untyped-def]
    _to_review(client, inspection)
    with capture(execute=True):
        client.post(STEP.format("review"), {"email": "alice@example.test"})
    with capture(execute=True):
        client.post(_link(mail.outbox[-1]))
    return ServiceRequest.objects.get()


def test_a_civilian_claims_a_request_filed_with_their_verified_email(
    client, civilian, other_civilian, inspection, django_capture_on_commit_callbacks
):
    filed = _guest_request(client, inspection, django_capture_on_commit_callbacks)
    client.force_login(other_civilian)
    assert "claimable" not in client.get("/requests/").content.decode()
    refused = client.post("/requests/claim/", {"tracking_number": filed.tracking_number})
    assert refused["Location"] == "/requests/"
    filed = ServiceRequest.objects.get(pk=filed.pk)
    assert filed.requester.username.startswith(selectors.GUEST_PREFIX)

    client.force_login(civilian)
    page = client.get("/requests/").content.decode()
    assert 'id="claimable"' in page
    assert filed.tracking_number in page
    response = client.post("/requests/claim/", {"tracking_number": filed.tracking_number})
    assert response["Location"] == f"/requests/{filed.tracking_number}/"
    filed = ServiceRequest.objects.get(pk=filed.pk)
    assert filed.requester == civilian
    latest = filed.history.first()
    assert (latest.history_user, latest.history_change_reason) == (
        civilian,
        "claimed into an account",
    )
    assert filed.events.filter(kind=EventKind.CLAIMED, actor=civilian).exists()
    assert 'id="claimable"' not in client.get("/requests/").content.decode()
    with pytest.raises(services.RequestError):
        services.request_claim(actor=civilian, request_id=filed.pk)


def test_the_same_email_files_again_under_the_same_guest(
    client, inspection, django_capture_on_commit_callbacks
):
    first = _guest_request(client, inspection, django_capture_on_commit_callbacks)
    assert services.guest_user_for(actor=None, email="ALICE@example.test ") == first.requester


def test_the_review_page_warns_of_a_very_similar_open_request(client, civilian, inspection):
    earlier = submitted(civilian, inspection)
    client.force_login(civilian)
    _details(client, inspection, description=earlier.description + " Please help.")
    client.post(STEP.format("documents"), {})
    _contact(client)
    page = client.get(STEP.format("review")).content.decode()
    assert 'id="possible-duplicates"' in page
    assert f'href="/requests/{earlier.tracking_number}/"' in page


def test_no_warning_for_a_different_request_or_someone_elses(
    client, civilian, other_civilian, inspection
):
    submitted(other_civilian, inspection)
    mine = submitted(civilian, inspection)
    client.force_login(civilian)
    _to_review(client, inspection)
    page = client.get(STEP.format("review")).content.decode()
    assert 'id="possible-duplicates"' not in page
    assert mine.tracking_number not in page


def test_similarity_ignores_case_accents_and_short_words():
    assert selectors.similarity("La escalera está rota", "LA ESCALERA ESTA ROTA") == 1.0
    assert selectors.similarity("broken stairs", "") == 0.0
    assert selectors.similarity("broken basement stairs", "noisy neighbours upstairs") == 0.0


def test_stale_drafts_are_purged_with_their_files(client, civilian, inspection, private_media):
    client.force_login(civilian)
    _details(client, inspection)
    client.post(STEP.format("documents"), {"attachments": [_file("lease.pdf", PDF)], "add": "1"})
    path = private_media / DraftFile.objects.get().file.name
    assert services.drafts_purge(older_than=timedelta(days=1)) == 0
    assert services.drafts_purge(older_than=timedelta(seconds=-1)) >= 1
    assert not RequestDraft.objects.exists()
    assert not path.exists()
    schedule = django_settings.CELERY_BEAT_SCHEDULE["purge-stale-drafts"]
    assert schedule["task"] == "service_requests.tasks.purge_stale_drafts"


def test_emailed_links_are_rate_limited_per_address(
    client, inspection, settings, django_capture_on_commit_callbacks
):
    settings.HMS_REQUESTS_VERIFY_LIMIT_PER_EMAIL = 1
    _to_review(client, inspection)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(STEP.format("review"), {"email": "a@example.test"}).status_code == 302
        limited = client.post(STEP.format("review"), {"email": "a@example.test"})
    assert limited.status_code == 429
    assert "too many links" in limited.content.decode()
    assert len(mail.outbox) == 1


def test_the_review_page_runs_the_same_queries_whatever_the_number_of_documents(
    client, civilian, inspection
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(civilian)
    _to_review(client, inspection, [_file("one.pdf", PDF)])
    with CaptureQueriesContext(connection) as one:
        client.get(STEP.format("review"))
    client.post(
        STEP.format("documents"),
        {"attachments": [_file(f"{n}.pdf", PDF) for n in range(3)], "add": "1"},
    )
    with CaptureQueriesContext(connection) as four:
        page = client.get(STEP.format("review")).content.decode()
    assert "2.pdf" in page
    assert len(four) == len(one)
    assert len(one) <= 15


def test_hostile_input_in_the_steps_is_refused_or_made_harmless(client, civilian, inspection):
    client.force_login(civilian)
    refused = _details(client, inspection, description="Loose stairs\x00 in the basement.")
    assert refused.status_code == 400
    assert "Null characters are not allowed." in refused.content.decode()
    assert not RequestDraft.objects.exists()
    _details(client, inspection)
    client.post(
        STEP.format("documents"),
        {"attachments": [_file("../../etc/<script>passwd.pdf", PDF)], "add": "1"},
    )
    kept = DraftFile.objects.get()
    assert "/" not in kept.name
    assert "<" not in kept.name
    assert kept.file.name.startswith(f"drafts/{kept.draft_id}/")
    page = client.get(STEP.format("documents")).content.decode()
    assert "<script>passwd" not in page
    client.post(STEP.format("documents"), {"remove": "9" * 30})
    client.post(STEP.format("documents"), {"remove": "not-a-number"})
    assert DraftFile.objects.count() == 1
