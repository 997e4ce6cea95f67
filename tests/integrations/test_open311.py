"""Open311 GeoReport v2: the standard's shapes in JSON and XML, its errors, public reads with
no personal data, and a POST with an api_key that files the same request staff see."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from integrations import services as integration_services
from service_requests.models import ServiceRequest
from service_requests.selectors import requests_for_staff
from tests.builders import submitted

pytestmark = pytest.mark.django_db

BASE = "/open311/v2/"
SERVICE_KEYS = {
    "service_code",
    "service_name",
    "description",
    "metadata",
    "type",
    "keywords",
    "group",
}
REQUEST_KEYS = {
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
}
ATTRIBUTE_KEYS = {
    "variable",
    "code",
    "datatype",
    "required",
    "datatype_description",
    "order",
    "description",
}


def _xml(response: Any) -> ET.Element:
    assert response["Content-Type"].startswith("text/xml")
    return ET.fromstring(response.content)


def _has_zone(value: str) -> bool:
    return value[-6] in "+-" and value[-3] == ":"


@pytest.fixture
def open311_key(make_client, civilian) -> str:  # type: ignore[no-untyped-def]
    client = make_client(civilian, "requests:write", name="311-app")
    return integration_services.client_new_open311_key(
        actor=civilian, client_id=client.api_client.pk
    )


def test_discovery_in_json_and_xml(client):
    body = client.get(f"{BASE}discovery.json").json()
    assert {"changeset", "contact", "key_service", "endpoints"} <= body.keys()
    (endpoint,) = body["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["formats"] == ["text/xml", "application/json"]
    root = _xml(client.get(f"{BASE}discovery.xml"))
    assert root.tag == "discovery"
    formats = [f.text for f in root.findall("./endpoints/endpoint/formats/format")]
    assert formats == ["text/xml", "application/json"]


def test_services_and_their_definitions(client, inspection, rent_help):
    services = client.get(f"{BASE}services.json").json()
    assert [s["service_code"] for s in services] == ["inspection", "rent-help"]
    assert all(s.keys() >= SERVICE_KEYS for s in services)
    assert [s["metadata"] for s in services] == [False, True]
    root = _xml(client.get(f"{BASE}services.xml"))
    assert root.tag == "services"
    assert [s.findtext("service_code") for s in root.findall("service")] == [
        "inspection",
        "rent-help",
    ]
    assert root.find("service/metadata").text == "false"
    definition = client.get(f"{BASE}services/rent-help.json").json()
    assert definition["service_code"] == "rent-help"
    (attribute,) = definition["attributes"]
    assert attribute.keys() >= ATTRIBUTE_KEYS
    assert attribute["code"] == "amount"
    assert attribute["datatype"] == "number"
    xml_definition = _xml(client.get(f"{BASE}services/rent-help.xml"))
    assert xml_definition.tag == "service_definition"
    assert xml_definition.findtext("attributes/attribute/code") == "amount"
    assert client.get(f"{BASE}services/inspection.json").json()["attributes"] == []


def test_errors_have_the_standards_shape(client):
    missing = client.get(f"{BASE}services/nope.json")
    assert missing.status_code == 404
    assert missing.json() == [{"code": 404, "description": "No open service has the code 'nope'."}]
    as_xml = client.get(f"{BASE}services/nope.xml")
    root = _xml(as_xml)
    assert root.tag == "errors"
    assert root.findtext("error/code") == "404"
    assert client.get(f"{BASE}services.yaml").status_code == 400
    assert client.get(f"{BASE}requests.json", {"status": "lost"}).status_code == 400
    assert client.get(f"{BASE}requests.json", {"start_date": "2026-01-01"}).status_code == 400


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_no_public_read_carries_personal_data_whatever_the_caller_holds(
    make_client, reviewer, civilian, inspection, fmt
):
    """Open311's reads are public: no description, name, email or phone in any of them, for
    an anonymous caller or one presenting a token with `requests:pii`."""
    from tests.integrations.conftest import bearer

    filed = submitted(civilian, inspection)
    with_pii = bearer(make_client(reviewer, "requests:read requests:pii"))
    paths = [
        f"{BASE}requests.{fmt}",
        f"{BASE}requests/{filed.tracking_number}.{fmt}",
        f"{BASE}tokens/{filed.submission_token}.{fmt}",
    ]
    for caller in (APIClient(), with_pii):
        for path in paths:
            response = caller.get(path)
            assert response.status_code == 200, (path, response.content)
            text = response.content.decode()
            assert filed.tracking_number in text
            for personal in (
                filed.description,
                filed.contact_name,
                filed.contact_email,
                civilian.email,
                civilian.username,
            ):
                assert personal not in text, (path, personal)


def test_requests_are_public_without_personal_data(client, civilian, inspection):
    filed = submitted(civilian, inspection)
    listed = client.get(f"{BASE}requests.json").json()
    (one,) = listed
    assert one.keys() >= REQUEST_KEYS
    assert one["service_request_id"] == filed.tracking_number
    assert one["status"] == "open"
    assert one["description"] is None
    assert all(_has_zone(one[k]) for k in ("requested_datetime", "updated_datetime"))
    text = client.get(f"{BASE}requests.json").content.decode()
    assert civilian.email not in text
    assert filed.description not in text
    root = _xml(client.get(f"{BASE}requests.xml"))
    assert root.tag == "service_requests"
    assert root.findtext("request/service_request_id") == filed.tracking_number
    detail = client.get(f"{BASE}requests/{filed.tracking_number}.json").json()
    assert detail[0]["service_request_id"] == filed.tracking_number
    assert client.get(f"{BASE}requests/HMS-2020-999999.json").status_code == 404


def test_request_filters(client, civilian, reviewer, inspection, permit_help):
    from service_requests import services

    first = submitted(civilian, inspection)
    second = submitted(civilian, permit_help)
    services.request_start_review(actor=reviewer, request_id=first.pk)

    def ids(**params: str) -> list[str]:
        return [r["service_request_id"] for r in client.get(f"{BASE}requests.json", params).json()]

    assert ids(service_code="permit-help") == [second.tracking_number]
    assert ids(service_request_id=f"{first.tracking_number},{second.tracking_number}") == [
        second.tracking_number,
        first.tracking_number,
    ]
    assert ids(status="closed") == []
    assert len(ids(status="open")) == 2
    future = (timezone.now() + timedelta(days=1)).isoformat()
    assert ids(start_date=future) == []
    past = (timezone.now() - timedelta(days=1)).isoformat()
    assert len(ids(start_date=past, end_date=future)) == 2


def test_posting_needs_a_valid_api_key(client, inspection, open311_key):
    form = {"service_code": "inspection", "email": "x@example.test", "description": "Leak"}
    refused = client.post(f"{BASE}requests.json", form)
    assert refused.status_code == 403
    assert refused.json()[0]["code"] == 403
    assert client.post(f"{BASE}requests.json", {**form, "api_key": "wrong"}).status_code == 403
    assert not ServiceRequest.objects.exists()


def test_a_posted_request_is_the_one_staff_see(client, civilian, reviewer, inspection, open311_key):
    response = client.post(
        f"{BASE}requests.json",
        {
            "api_key": open311_key,
            "service_code": "inspection",
            "email": "carla@example.test",
            "first_name": "Carla",
            "last_name": "Diaz",
            "description": "No heat.",
            "address_string": "1 Main St",
        },
    )
    assert response.status_code == 201, response.content
    (answer,) = response.json()
    created = ServiceRequest.objects.get(tracking_number=answer["service_request_id"])
    assert created.requester == civilian
    assert created.contact_name == "Carla Diaz"
    assert "1 Main St" in created.description
    assert requests_for_staff(user=reviewer).filter(pk=created.pk).exists()
    assert "via API client" in created.history.get().history_change_reason
    token = client.get(f"{BASE}tokens/{answer['token']}.json").json()
    assert token == [{"service_request_id": created.tracking_number, "token": answer["token"]}]


def test_a_funding_request_needs_its_amount(client, rent_help, open311_key):
    form = {
        "api_key": open311_key,
        "service_code": "rent-help",
        "email": "x@example.test",
        "description": "Behind on rent.",
    }
    missing = client.post(f"{BASE}requests.xml", form)
    assert missing.status_code == 400
    assert _xml(missing).findtext("error/code") == "400"
    made = client.post(f"{BASE}requests.xml", {**form, "attribute[amount]": "120000"})
    assert made.status_code == 201
    number = _xml(made).findtext("request/service_request_id")
    assert ServiceRequest.objects.get(tracking_number=number).amount_minor == 120000


def test_a_retry_with_the_same_idempotency_key_files_once(client, inspection, open311_key):
    form = {
        "api_key": open311_key,
        "service_code": "inspection",
        "email": "x@example.test",
        "description": "Leak",
    }
    first = client.post(f"{BASE}requests.json", form, HTTP_IDEMPOTENCY_KEY="r1")
    again = client.post(f"{BASE}requests.json", form, HTTP_IDEMPOTENCY_KEY="r1")
    assert first.json()[0]["service_request_id"] == again.json()[0]["service_request_id"]
    assert ServiceRequest.objects.count() == 1


def test_a_revoked_clients_key_is_refused(client, inspection, open311_key, actor):
    from integrations.models import ApiClient

    api_client = ApiClient.objects.get()
    integration_services.client_revoke(actor=actor, client_id=api_client.pk)
    form = {
        "api_key": open311_key,
        "service_code": "inspection",
        "email": "x@example.test",
        "description": "Leak",
    }
    assert client.post(f"{BASE}requests.json", form).status_code == 403


@pytest.mark.parametrize("name", ["start_date", "end_date"])
@pytest.mark.parametrize("offset", ["+99:00", "-14:01", "+24:00"])
def test_a_date_whose_offset_no_clock_has_is_refused_in_the_standards_shape(
    client: Any, name: str, offset: str
) -> None:
    answer = client.get(f"{BASE}requests.json", {name: f"2026-01-01T00:00:00{offset}"})
    assert answer.status_code == 400
    assert answer.json() == [
        {"code": 400, "description": f"{name} must be a W3C date-time with a time zone."}
    ]
    as_xml = client.get(f"{BASE}requests.xml", {name: f"2026-01-01T00:00:00{offset}"})
    assert as_xml.status_code == 400
    assert _xml(as_xml).findtext("error/code") == "400"


def test_the_widest_real_offsets_are_accepted(client: Any) -> None:
    answer = client.get(
        f"{BASE}requests.json",
        {"start_date": "2026-01-01T00:00:00+14:00", "end_date": "2026-01-02T00:00:00-12:00"},
    )
    assert answer.status_code == 200
    assert answer.json() == []


def test_a_reused_idempotency_key_with_another_body_is_a_conflict(
    client: Any, inspection: Any, open311_key: str
) -> None:
    form = {
        "api_key": open311_key,
        "service_code": "inspection",
        "email": "x@example.test",
        "description": "Leak",
    }
    first = client.post(f"{BASE}requests.json", form, HTTP_IDEMPOTENCY_KEY="r2")
    assert first.status_code == 201
    other = client.post(
        f"{BASE}requests.json", {**form, "description": "Mould"}, HTTP_IDEMPOTENCY_KEY="r2"
    )
    assert other.status_code == 409
    assert other.json() == [
        {
            "code": 409,
            "description": "This Idempotency-Key was used for a different request.",
        }
    ]
    as_xml = client.post(
        f"{BASE}requests.xml", {**form, "email": "y@example.test"}, HTTP_IDEMPOTENCY_KEY="r2"
    )
    assert as_xml.status_code == 409
    assert _xml(as_xml).findtext("error/code") == "409"
    same = client.post(f"{BASE}requests.json", form, HTTP_IDEMPOTENCY_KEY="r2")
    assert same.status_code == 201
    assert same.json() == first.json()
    assert ServiceRequest.objects.get().description == "Leak"
