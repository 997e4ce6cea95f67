"""The service a civilian files for is read from the cache after the first filing, and every
change an administrator makes to it, its questions, its program or its fund is seen by the next
filing: nothing stale is accepted."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from service_requests import selectors
from service_requests.models import QuestionKind, ServiceQuestion, ServiceRequest
from tests.builders import filing_form

NEW = "/requests/new/"


def _service_queries(client, data) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    with CaptureQueriesContext(connection) as captured:
        status = client.post(NEW, data).status_code
    reads = [
        q["sql"]
        for q in captured.captured_queries
        if q["sql"].startswith("SELECT")
        and ('FROM "service_requests_servicetype"' in q["sql"] or "servicequestion" in q["sql"])
    ]
    return status, len(reads)


@pytest.mark.django_db(transaction=True)
def test_the_second_filing_reads_the_service_from_the_cache(client, civilian, inspection):
    client.force_login(civilian)
    assert _service_queries(client, filing_form(inspection)) == (302, 2)
    assert _service_queries(client, filing_form(inspection)) == (302, 0)
    assert ServiceRequest.objects.count() == 2


def test_a_closed_service_is_refused_at_once(client, civilian, inspection):
    client.force_login(civilian)
    assert client.post(NEW, filing_form(inspection)).status_code == 302
    inspection.active = False
    inspection.save()
    response = client.post(NEW, filing_form(inspection))
    assert response.status_code == 400
    assert "Choose one of the services listed." in response.content.decode()
    assert ServiceRequest.objects.count() == 1


def test_a_new_required_question_is_asked_at_once(client, civilian, inspection):
    client.force_login(civilian)
    assert client.post(NEW, filing_form(inspection)).status_code == 302
    ServiceQuestion.objects.create(
        service_type=inspection,
        code="household",
        label="How many people live in the home?",
        kind=QuestionKind.NUMBER,
        required=True,
    )
    response = client.post(NEW, filing_form(inspection))
    assert response.status_code == 400
    assert ServiceRequest.objects.count() == 1
    assert client.post(NEW, filing_form(inspection, q_household="3")).status_code == 302
    assert ServiceRequest.objects.latest("pk").answers[0]["answer"] == "3"


def test_a_renamed_program_or_fund_drops_its_services(civilian, rent_help):
    cached = selectors.service_type_for_filing(pk=rent_help.pk)
    assert cached is not None
    assert cached.fund is not None
    program, fund = rent_help.program, rent_help.fund
    program.name = "Housing and homes"
    program.save()
    assert selectors.service_type_for_filing(pk=rent_help.pk).program.name == "Housing and homes"
    fund.name = "Rent relief 2027"
    fund.save()
    assert selectors.service_type_for_filing(pk=rent_help.pk).fund.name == "Rent relief 2027"


def test_each_caller_gets_its_own_copy(db, inspection):
    first = selectors.service_type_for_filing(pk=inspection.pk)
    first.name = "Changed in memory only"
    assert selectors.service_type_for_filing(pk=inspection.pk).name == inspection.name


@pytest.mark.django_db(transaction=True)
def test_a_change_rolled_back_leaves_no_stale_entry(inspection):
    from django.db import transaction

    assert selectors.service_type_for_filing(pk=inspection.pk).name == inspection.name
    seen_inside = []

    def change_then_fail() -> None:
        with transaction.atomic():
            inspection.name = "Never committed"
            inspection.save()
            seen_inside.append(selectors.service_type_for_filing(pk=inspection.pk).name)
            raise RuntimeError

    with pytest.raises(RuntimeError):
        change_then_fail()
    # Read inside the transaction, the uncommitted name; after the rollback, nothing of it.
    assert seen_inside == ["Never committed"]
    assert selectors.service_type_for_filing(pk=inspection.pk).name != "Never committed"


def test_an_unknown_or_closed_id_is_none(db, inspection):
    assert selectors.service_type_for_filing(pk=inspection.pk + 1000) is None
    inspection.active = False
    inspection.save()
    assert selectors.service_type_for_filing(pk=inspection.pk) is None
