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


def _queries(client, url):  # type: ignore[no-untyped-def]
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return response, [q["sql"] for q in captured.captured_queries]


def test_case_page_runs_a_fixed_number_of_queries_and_reads_object_permissions_once(
    client, case, supervisor
):
    from governance import services as governance

    client.force_login(supervisor)
    url = f"/workflow/cases/{case.pk}/"
    client.get(url)  # the first request of a process fills Django's own caches
    _, sql = _queries(client, url)
    # The session, the user, the case, the program's object permissions (guardian's checker,
    # prefetched once), the grant (delegations, duty rules, groups, program permissions,
    # decisions, the grant itself), the decisions, the steps and the timeline.
    # Then what the subject's app shows of it (the request, the staff member's model
    # permissions, the programs' services, the fund's account, documents, questions and answers,
    # earlier requests): a fixed number, whatever the case holds.
    assert len(sql) <= 23
    checker_reads = [q for q in sql if '"governance_programuserobjectpermission"."id"' in q]
    assert len(checker_reads) == 1
    # A decided case with more history: no query per event or step.
    governance.case_decide(actor=supervisor, case_id=case.pk, outcome="approve", reason="ok")
    page, sql = _queries(client, url)
    assert len(sql) <= 15  # 7 of the case, 8 of its subject
    assert page.content.decode().count("usa-process-list__item") >= 2


def test_inbox_and_case_page_have_no_whitespace_between_tags(client, case, supervisor):
    import re

    client.force_login(supervisor)
    pages = {
        "/workflow/": ("<h1", '<nav aria-label="Pages"'),
        f"/workflow/cases/{case.pk}/": ('<div class="grid-row">', '<button class="usa-button"'),
    }
    for url, (start, end) in pages.items():
        html = client.get(url).content.decode()
        content = html[html.index(start) : html.index(end)]
        assert "</td></tr>" in content or "decision-form" in content
        assert not re.search(r">\s{2,}<", content), url
