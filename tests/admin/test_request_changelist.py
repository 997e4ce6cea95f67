"""The requests changelist: filters, search, scope by program, and a bounded query count."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from service_requests import services
from service_requests.models import ServiceRequest, Status
from tests.admin.helpers import CHANGELIST, change_url

pytestmark = pytest.mark.django_db


def listed(client, query: str = "") -> list[str]:  # type: ignore[no-untyped-def]
    response = client.get(CHANGELIST + query)
    assert response.status_code == 200
    return [r.tracking_number for r in response.context["cl"].result_list]


@pytest.fixture
def housing_requests(submit, rent_help, inspection, reviewer):  # type: ignore[no-untyped-def]
    """Three housing requests: new rent help, inspection in review, an old inspection."""
    new = submit(rent_help, amount_minor=100_000, name="Nora New", email="nora@example.test")
    reviewing = submit(inspection, name="Rob Review", email="rob@example.test")
    services.request_start_review(actor=reviewer, request_id=reviewing.pk)
    old = submit(inspection, name="Olive Old", email="olive@example.test")
    ServiceRequest.objects.filter(pk=old.pk).update(
        submitted_at=timezone.now() - timedelta(days=40)
    )
    return new, reviewing, old


def test_changelist_lists_the_reviewers_program_newest_first(client, reviewer, housing_requests):
    new, reviewing, old = housing_requests
    client.force_login(reviewer)
    assert listed(client) == [
        reviewing.tracking_number,
        new.tracking_number,
        old.tracking_number,
    ]


def test_changelist_filters_by_status_service_type_assignee_and_age(
    client, reviewer, housing_requests, inspection
):
    new, reviewing, old = housing_requests
    client.force_login(reviewer)
    assert listed(client, f"?status__exact={Status.IN_REVIEW}") == [reviewing.tracking_number]
    assert listed(client, f"?service_type__id__exact={inspection.pk}") == [
        reviewing.tracking_number,
        old.tracking_number,
    ]
    assert listed(client, f"?assignee__id__exact={reviewer.pk}") == [reviewing.tracking_number]
    assert listed(client, "?assignee__isnull=True") == [new.tracking_number, old.tracking_number]
    assert listed(client, "?age=over-4w") == [old.tracking_number]
    assert listed(client, "?age=under-2d") == [reviewing.tracking_number, new.tracking_number]
    assert listed(client, "?age=2-7d") == []


def test_assignee_filter_offers_staff_only(client, reviewer, housing_requests, civilian):
    client.force_login(reviewer)
    response = client.get(CHANGELIST)
    assignee_filter = next(
        f for f in response.context["cl"].filter_specs if f.field_path == "assignee"
    )
    offered = {label for _pk, label in assignee_filter.lookup_choices}
    assert str(reviewer) in offered
    assert str(civilian) not in offered


def test_search_finds_tracking_numbers_exactly_or_by_prefix_and_names(
    client, reviewer, housing_requests
):
    new, reviewing, old = housing_requests
    client.force_login(reviewer)
    assert listed(client, f"?q={new.tracking_number}") == [new.tracking_number]
    assert listed(client, f"?q={new.tracking_number.lower()}") == [new.tracking_number]
    prefix = new.tracking_number[:9]  # "HMS-YYYY-"
    assert set(listed(client, f"?q={prefix}")) == {
        new.tracking_number,
        reviewing.tracking_number,
        old.tracking_number,
    }
    assert listed(client, "?q=olive") == [old.tracking_number]
    assert listed(client, "?q=rob@example") == [reviewing.tracking_number]
    assert listed(client, "?q=HMS-1999-000001") == []


def test_reviewer_of_another_program_sees_nothing_of_housing(
    client, outsider_reviewer, housing_requests, submit, permit_help
):
    new, _reviewing, _old = housing_requests
    business = submit(permit_help)
    client.force_login(outsider_reviewer)
    assert listed(client) == [business.tracking_number]
    assert listed(client, f"?q={new.tracking_number}") == []
    response = client.get(change_url(new))
    assert response.status_code == 302  # the admin's "does not exist" redirect
    history = reverse("admin:service_requests_servicerequest_history", args=[new.pk])
    assert client.get(history).status_code == 404


def test_auditor_with_view_all_sees_every_program(
    client, auditor, housing_requests, submit, permit_help
):
    business = submit(permit_help)
    client.force_login(auditor)
    assert len(listed(client)) == 4
    assert business.tracking_number in listed(client)


def test_anonymous_is_sent_to_the_login(client, housing_requests):
    response = client.get(CHANGELIST)
    assert response.status_code == 302
    assert "login" in response["Location"]


def test_change_page_is_read_only_and_shows_the_timeline(client, reviewer, housing_requests):
    _new, reviewing, _old = housing_requests
    client.force_login(reviewer)
    response = client.get(change_url(reviewing))
    assert response.status_code == 200
    assert response.context["has_change_permission"] is False
    assert response.context["adminform"].form.fields == {}
    content = response.content.decode()
    assert "A reviewer is looking at your request." in content
    assert "Recommend for approval" in content  # offered as an object tool
    assert 'data-action="start_review"' not in content  # not in this state

    before = ServiceRequest.objects.get(pk=reviewing.pk)
    client.post(change_url(reviewing), {"status": Status.FULFILLED, "contact_name": "X"})
    after = ServiceRequest.objects.get(pk=reviewing.pk)
    assert (after.status, after.contact_name) == (before.status, before.contact_name)


def _bulk_requests(service_type, requester, count: int, start: int) -> None:  # type: ignore[no-untyped-def]
    year = timezone.localdate().year
    ServiceRequest.objects.bulk_create(
        [
            ServiceRequest(
                tracking_number=f"HMS-{year}-{900000 + start + i:06d}",
                service_type=service_type,
                requester=requester,
                contact_name=f"Person {i}",
                contact_email=f"p{i}@example.test",
                description="Bulk.",
            )
            for i in range(count)
        ]
    )


def _changelist_queries(client, query: str = "") -> int:  # type: ignore[no-untyped-def]
    with CaptureQueriesContext(connection) as queries:
        response = client.get(CHANGELIST + query)
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize("persona", ["superuser", "reviewer"])
def test_changelist_query_count_is_bounded_and_independent_of_the_data(
    client, request, persona, inspection, civilian, reviewer, django_assert_max_num_queries
):
    user = request.getfixturevalue(persona)
    client.force_login(user)
    _bulk_requests(inspection, civilian, 3, 0)
    services.request_start_review(
        actor=reviewer, request_id=ServiceRequest.objects.order_by("pk").first().pk
    )
    client.get(CHANGELIST)  # session and content types warmed up
    one_page = _changelist_queries(client)
    _bulk_requests(inspection, civilian, 160, 100)
    first_of_many = _changelist_queries(client)
    third_of_many = _changelist_queries(client, "?p=3")
    filtered = _changelist_queries(client, f"?status__exact={Status.SUBMITTED}")
    assert one_page == first_of_many == third_of_many == filtered
    with django_assert_max_num_queries(15):
        client.get(CHANGELIST + "?p=2")
