"""A database that is away or gives up on a statement is answered 503 with `Retry-After`, in
the shape of the part of the site that was asked, never a 500; a fault of the portal's own
stays a 500. The drill in tests/integration/test_drills.py cuts a real web process off its
database and back."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from django.db import OperationalError
from django.test import Client, RequestFactory

from hms_portal.errors import RETRY_AFTER_SECONDS, server_error

pytestmark = pytest.mark.urls("tests.hms_portal.urls_database_errors")


@pytest.fixture
def client() -> Client:
    return Client(raise_request_exception=False)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("prefix", ["", "/api/v1", "/open311/v2"])
def test_a_cancelled_statement_is_a_503_with_retry_after(require_postgres, client, prefix):
    suffix = ".json" if prefix == "/open311/v2" else ""
    response = client.get(f"{prefix}/drill/cancelled{suffix}")
    assert response.status_code == 503
    assert response["Retry-After"] == str(RETRY_AFTER_SECONDS)
    if prefix == "/api/v1":
        assert response.json()["error"]["code"] == "unavailable"
    elif prefix == "/open311/v2":
        assert response.json() == [{"code": 503, "description": response.json()[0]["description"]}]
        assert "database" in response.json()[0]["description"]
    else:
        assert b"briefly unavailable" in response.content
    # The connection is usable again for the next request: no restart.
    assert client.get("/healthz").status_code == 200
    assert client.get("/rounds/").status_code == 200


def _answer(path: str, error: BaseException):  # type: ignore[no-untyped-def]
    request = RequestFactory().get(path)
    try:
        raise error
    except BaseException:
        return server_error(request)


def test_a_refused_connection_is_a_503_page_without_the_database():
    response = _answer("/requests/new/", OperationalError("connection refused"))
    assert response.status_code == 503
    assert response["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert b"<h1>The service is briefly unavailable</h1>" in response.content


def test_open311_xml_gets_its_own_error_shape():
    response = _answer("/open311/v2/requests.xml", OperationalError("server closed the connection"))
    assert response.status_code == 503
    root = ET.fromstring(response.content)
    assert root.tag == "errors"
    assert root.find("error/code").text == "503"


@pytest.mark.parametrize(
    ("path", "kind"), [("/drill/fault", "html"), ("/api/v1/drill/fault", "json")]
)
def test_a_fault_of_the_portal_stays_a_500(client, path, kind):
    response = client.get(path)
    assert response.status_code == 500
    assert "Retry-After" not in response
    if kind == "json":
        assert json.loads(response.content)["error"]["code"] == "server_error"
    else:
        assert b"Something went wrong on our side" in response.content
