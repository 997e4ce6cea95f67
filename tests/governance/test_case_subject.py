"""The supervisor's case page shows the request behind the case: documents, the question-and-
answer thread, the recommendation, the amount against the fund's balance, earlier requests."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from service_requests import services
from tests.builders import pdf_bytes, submitted

pytestmark = pytest.mark.django_db


@pytest.fixture
def case(civilian, reviewer, rent_help, inspection):  # type: ignore[no-untyped-def]
    earlier = submitted(civilian, inspection)
    request = submitted(civilian, rent_help, amount_minor=50_000)
    services.attachments_add(
        actor=civilian,
        request_id=request.pk,
        files=[SimpleUploadedFile("lease.pdf", pdf_bytes(), content_type="application/pdf")],
    )
    services.request_start_review(actor=reviewer, request_id=request.pk)
    services.request_ask_info(actor=reviewer, request_id=request.pk, message="Which month?")
    services.request_provide_info(actor=civilian, request_id=request.pk, message="March and April.")
    recommended = services.request_recommend(
        actor=reviewer, request_id=request.pk, note="Arrears confirmed by the landlord."
    )
    return recommended.approval_case, request, earlier


def test_the_supervisor_sees_the_request_behind_the_case(client, case, supervisor):
    approval_case, _request, earlier = case
    client.force_login(supervisor)
    page = client.get(f"/workflow/cases/{approval_case.pk}/")
    assert page.status_code == 200
    subject = page.context["subject"]
    assert subject.recommendation_note == "Arrears confirmed by the landlord."
    assert [d.name for d in subject.documents] == ["lease.pdf"]
    assert [(m.kind, m.text) for m in subject.thread] == [
        ("Information requested", "Which month?"),
        ("Information provided", "March and April."),
    ]
    assert (subject.amount_minor, subject.currency) == (50_000, "USD")
    # The rent fund holds 10,000.00 and nothing is granted yet.
    assert subject.fund_available_minor == 1_000_000
    assert [r.label.split(" · ")[0] for r in subject.earlier] == [earlier.tracking_number]
    html = page.content.decode()
    for text in (
        "Arrears confirmed by the landlord.",
        "Which month?",
        "March and April.",
        "$500.00",
        "$10,000.00",
        earlier.tracking_number,
    ):
        assert text in html
    download = client.get(subject.documents[0].url)
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith("attachment")


def test_others_see_neither_the_case_nor_its_documents(client, case, reviewer, outsider_supervisor):
    approval_case, request, _earlier = case
    client.force_login(outsider_supervisor)
    assert client.get(f"/workflow/cases/{approval_case.pk}/").status_code == 404
    attachment = request.attachments.get()
    url = f"/requests/{request.tracking_number}/attachments/{attachment.pk}/"
    assert client.get(url).status_code == 404
    client.logout()
    assert "/accounts/login/" in client.get(f"/workflow/cases/{approval_case.pk}/")["Location"]
