"""The requests API: what each caller sees, personal data only with `requests:pii`, filing with
an Idempotency-Key, staff steps through the services, filters, cursor pages, fixed queries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from service_requests.models import ServiceRequest, Status
from tests.builders import status_of, submitted
from tests.integrations.conftest import bearer

pytestmark = pytest.mark.django_db

LIST = "/api/v1/requests/"
READ = "requests:read"
PII = "requests:read requests:pii"


def _payload(**extra):  # type: ignore[no-untyped-def]
    return {
        "service_type": "inspection",
        "description": "The boiler leaks.",
        "contact_name": "Alice Example",
        "contact_email": "alice@example.test",
        "contact_phone": "555-0100",
        **extra,
    }


def _numbers(response) -> list[str]:  # type: ignore[no-untyped-def]
    return [r["tracking_number"] for r in response.json()["results"]]


def test_service_types_are_listed_and_read(make_client, reviewer, inspection, rent_help):
    api = bearer(make_client(reviewer, READ))
    listed = api.get("/api/v1/service-types/")
    assert listed.status_code == 200
    codes = [t["code"] for t in listed.json()["results"]]
    assert codes == sorted(["inspection", "rent-help"])
    one = api.get("/api/v1/service-types/rent-help/").json()
    assert one["funding"] is True
    assert one["program"] == "housing"
    assert api.get("/api/v1/service-types/nope/").status_code == 404


def test_a_staff_client_sees_its_programs_requests_only(
    make_client, reviewer, civilian, inspection, permit_help
):
    mine = submitted(civilian, inspection)
    submitted(civilian, permit_help)  # business: not the housing reviewer's
    api = bearer(make_client(reviewer, READ))
    response = api.get(LIST)
    assert response.status_code == 200
    assert _numbers(response) == [mine.tracking_number]
    other = ServiceRequest.objects.exclude(pk=mine.pk).get()
    assert api.get(f"{LIST}{other.tracking_number}/").status_code == 404


def test_a_civilian_client_sees_only_its_civilians_requests(
    make_client, civilian, other_civilian, inspection
):
    own = submitted(civilian, inspection)
    theirs = submitted(other_civilian, inspection)
    api = bearer(make_client(civilian, READ))
    assert _numbers(api.get(LIST)) == [own.tracking_number]
    assert api.get(f"{LIST}{theirs.tracking_number}/").status_code == 404


PERSONAL = ("description", "contact")


def test_personal_data_only_with_the_pii_scope(make_client, reviewer, civilian, inspection):
    """The description (the civilian's own words) and the contact are absent without
    `requests:pii`, from the list, one request and a step's answer; present with it."""
    request = submitted(civilian, inspection)
    client = make_client(reviewer, "requests:read requests:write requests:pii")
    without = bearer(client, "requests:read requests:write")
    listed = without.get(LIST).json()["results"][0]
    assert not set(PERSONAL) & listed.keys()
    body = without.get(f"{LIST}{request.tracking_number}/").content.decode()
    for personal in (civilian.email, request.description, request.contact_name):
        assert personal not in body
    stepped = without.post(
        f"{LIST}{request.tracking_number}/steps/", {"action": "start_review"}, format="json"
    )
    assert stepped.status_code == 200, stepped.content
    assert not set(PERSONAL) & stepped.json().keys()
    with_pii = bearer(client, PII)
    one = with_pii.get(f"{LIST}{request.tracking_number}/").json()
    assert one["contact"] == {
        "name": request.contact_name,
        "email": civilian.email,
        "phone": request.contact_phone,
    }
    assert one["description"] == request.description
    assert with_pii.get(LIST).json()["results"][0]["description"] == request.description


def test_a_person_signed_in_sees_the_personal_data_of_their_own_request(
    client, civilian, inspection
):
    request = submitted(civilian, inspection)
    client.force_login(civilian)
    one = client.get(f"{LIST}{request.tracking_number}/").json()
    assert one["description"] == request.description
    assert one["contact"]["email"] == civilian.email


def test_filing_needs_an_idempotency_key_and_a_retry_returns_the_first(
    make_client, civilian, inspection
):
    api = bearer(make_client(civilian, "requests:read requests:write"))
    missing = api.post(LIST, _payload(), format="json")
    assert missing.status_code == 400
    assert "Idempotency-Key" in missing.json()["error"]["fields"]
    first = api.post(LIST, _payload(), format="json", HTTP_IDEMPOTENCY_KEY="abc")
    assert first.status_code == 201, first.content
    again = api.post(LIST, _payload(), format="json", HTTP_IDEMPOTENCY_KEY="abc")
    assert again.status_code == 200
    assert again.json()["tracking_number"] == first.json()["tracking_number"]
    conflict = api.post(
        LIST, _payload(description="Other"), format="json", HTTP_IDEMPOTENCY_KEY="abc"
    )
    assert conflict.status_code == 409
    assert conflict.json()["error"]["code"] == "idempotency_conflict"
    assert ServiceRequest.objects.count() == 1
    assert not set(PERSONAL) & first.json().keys()  # no requests:pii


def test_the_same_key_from_two_users_makes_two_requests(
    make_client, civilian, other_civilian, inspection
):
    for user in (civilian, other_civilian):
        api = bearer(make_client(user, "requests:write"))
        assert (
            api.post(LIST, _payload(), format="json", HTTP_IDEMPOTENCY_KEY="same").status_code
            == 201
        )
    assert ServiceRequest.objects.count() == 2


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (_payload(service_type="nope"), "service_type"),
        (_payload(contact_email="not-an-email"), "contact_email"),
        (_payload(description=""), "description"),
        (_payload(amount_minor=0), "amount_minor"),
    ],
)
def test_malformed_requests_name_the_field(make_client, civilian, inspection, payload, field):
    api = bearer(make_client(civilian, "requests:write"))
    response = api.post(LIST, payload, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


def test_the_service_rules_answer_422(make_client, civilian, inspection):
    api = bearer(make_client(civilian, "requests:write"))
    response = api.post(LIST, _payload(amount_minor=500), format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "amount_not_allowed"


def test_staff_steps_go_through_the_services(make_client, reviewer, civilian, inspection):
    request = submitted(civilian, inspection)
    api = bearer(make_client(reviewer, "requests:read requests:write"))
    url = f"{LIST}{request.tracking_number}/steps/"
    started = api.post(url, {"action": "start_review"}, format="json")
    assert started.status_code == 200, started.content
    assert started.json()["status"] == Status.IN_REVIEW
    stale = api.post(url, {"action": "start_review"}, format="json")
    assert stale.status_code == 409
    assert stale.json()["error"]["code"] == "stale"
    asked = api.post(url, {"action": "ask_info", "message": "Send a photo."}, format="json")
    assert asked.json()["status"] == Status.INFO_REQUESTED
    history = ServiceRequest.history.filter(id=request.pk).order_by("history_id").last()
    assert history.history_user == reviewer


def test_a_civilian_client_may_not_take_staff_steps_but_may_answer(
    make_client, reviewer, civilian, inspection
):
    from service_requests import services

    request = submitted(civilian, inspection)
    api = bearer(make_client(civilian, "requests:read requests:write"))
    url = f"{LIST}{request.tracking_number}/steps/"
    refused = api.post(url, {"action": "start_review"}, format="json")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden"
    services.request_start_review(actor=reviewer, request_id=request.pk)
    services.request_ask_info(actor=reviewer, request_id=request.pk, message="Photo?")
    answered = api.post(url, {"action": "provide_info", "message": "Attached."}, format="json")
    assert answered.status_code == 200
    assert status_of(request) == Status.IN_REVIEW


def test_a_step_without_its_inputs_is_refused(make_client, reviewer, civilian, inspection):
    request = submitted(civilian, inspection)
    api = bearer(make_client(reviewer, "requests:write"))
    url = f"{LIST}{request.tracking_number}/steps/"
    assert api.post(url, {"action": "fly"}, format="json").status_code == 400
    assert api.post(url, {"action": "assign"}, format="json").status_code == 400
    assert (
        api.post(f"{LIST}HMS-2020-999999/steps/", {"action": "fulfil"}, format="json").status_code
        == 404
    )


def test_filters_by_status_service_type_and_update_time(
    make_client, reviewer, civilian, inspection, rent_help
):
    from service_requests import services

    plain = submitted(civilian, inspection)
    funded = submitted(civilian, rent_help, amount_minor=10_000)
    services.request_start_review(actor=reviewer, request_id=plain.pk)
    api = bearer(make_client(reviewer, READ))
    assert _numbers(api.get(LIST, {"status": "in_review"})) == [plain.tracking_number]
    assert _numbers(api.get(LIST, {"status": "in_review,submitted"})) == [
        funded.tracking_number,
        plain.tracking_number,
    ]
    assert _numbers(api.get(LIST, {"service_type": "rent-help"})) == [funded.tracking_number]
    later = (timezone.now() + timedelta(minutes=5)).isoformat()
    assert _numbers(api.get(LIST, {"updated_since": later})) == []
    bad = api.get(LIST, {"status": "lost"})
    assert bad.status_code == 400
    assert "status" in bad.json()["error"]["fields"]
    assert api.get(LIST, {"updated_since": "yesterday"}).status_code == 400


def test_cursor_pages_walk_every_request_once(make_client, reviewer, civilian, inspection):
    made = {submitted(civilian, inspection).tracking_number for _ in range(7)}
    api = bearer(make_client(reviewer, READ))
    seen: list[str] = []
    url: str | None = f"{LIST}?page_size=3"
    while url:
        page = api.get(url).json()
        seen += [r["tracking_number"] for r in page["results"]]
        url = page["next"]
    assert sorted(seen) == sorted(made)
    assert len(seen) == len(made)


def test_the_list_runs_a_fixed_number_of_queries(
    make_client, reviewer, civilian, inspection, django_assert_max_num_queries
):
    api = bearer(make_client(reviewer, PII))
    submitted(civilian, inspection)
    with django_assert_max_num_queries(10) as few:
        assert api.get(LIST).status_code == 200
    for _ in range(20):
        submitted(civilian, inspection)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(api.get(LIST).json()["results"]) == 21
