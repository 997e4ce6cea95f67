"""The supervisors' workflow screens: who sees which case, and deciding through the page."""

from __future__ import annotations

import pytest

from governance.models import CaseStatus, Decision
from tests.builders import pending_approval


@pytest.fixture
def case(civilian, reviewer, rent_help):  # type: ignore[no-untyped-def]
    return pending_approval(civilian, reviewer, rent_help, amount_minor=50_000)[1]


def test_anonymous_visitor_is_sent_to_sign_in(client, case):
    for url in ("/workflow/", f"/workflow/cases/{case.pk}/"):
        response = client.get(url)
        assert response.status_code == 302
        assert "/accounts/login/" in response["Location"]


def test_civilian_and_outsiders_see_no_case(client, case, civilian, outsider_supervisor, reviewer):
    for person in (civilian, outsider_supervisor, reviewer):
        client.force_login(person)
        inbox = client.get("/workflow/")
        assert case.subject_label not in inbox.content.decode()
        assert client.get(f"/workflow/cases/{case.pk}/").status_code == 404
        response = client.post(
            f"/workflow/cases/{case.pk}/", {"outcome": "approve", "reason": "ok"}
        )
        assert response.status_code == 404
    assert not Decision.objects.exists()


def test_supervisor_sees_the_case_and_decides_it(
    client, case, supervisor, django_assert_max_num_queries
):
    client.force_login(supervisor)
    # One of them reads the separation-of-duties rules.
    with django_assert_max_num_queries(13):
        inbox = client.get("/workflow/")
    assert case.subject_label in inbox.content.decode()
    page = client.get(f"/workflow/cases/{case.pk}/").content.decode()
    assert "$500.00" in page
    response = client.post(
        f"/workflow/cases/{case.pk}/", {"outcome": "reject", "reason": "Too late"}
    )
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.status == CaseStatus.REJECTED
    assert f"/workflow/cases/{case.pk}/" not in client.get("/workflow/").content.decode()
    # The second click (a stale page) gets a message and nothing changes.
    again = client.post(f"/workflow/cases/{case.pk}/", {"outcome": "approve", "reason": "ok"})
    assert again.status_code == 400
    assert "already decided" in again.content.decode()
    assert Decision.objects.count() == 1


def test_inbox_query_count_does_not_grow_with_cases(
    client, civilian, reviewer, supervisor, rent_help, django_assert_max_num_queries
):
    for _ in range(8):
        pending_approval(civilian, reviewer, rent_help, amount_minor=1_000)
    client.force_login(supervisor)
    with django_assert_max_num_queries(13):
        page = client.get("/workflow/")
    assert page.content.decode().count("HMS-") >= 8


def test_supervisor_who_recommended_sees_why_they_cannot_decide(
    client, civilian, supervisor, rent_help
):
    _, own = pending_approval(civilian, supervisor, rent_help, amount_minor=1_000)
    client.force_login(supervisor)
    page = client.get(f"/workflow/cases/{own.pk}/")
    assert page.status_code == 200
    assert "You recommended this" in page.content.decode()
    response = client.post(f"/workflow/cases/{own.pk}/", {"outcome": "approve", "reason": "ok"})
    assert response.status_code == 400
    assert not Decision.objects.exists()
