"""`/api/v1/outcomes/`: the scope and permission matrix, the same figures as the command, and
checked query parameters."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from tests.builders import submitted
from tests.integrations.conftest import bearer, register_client

from .conftest import ny, place

URL = "/api/v1/outcomes/"


@pytest.fixture
def some_requests(inspection: Any, permit_help: Any, civilian: Any) -> None:
    place(submitted(civilian, inspection), ny(3, 3, 10))
    place(submitted(civilian, permit_help), ny(3, 4, 10))


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("supervisor", 200),
        ("finance_officer", 200),
        ("auditor", 200),
        ("reviewer", 403),
        ("civilian", 403),
    ],
)
def test_people_need_the_view_outcomes_permission(
    request: Any, persona: str, expected: int, some_requests: None
) -> None:
    client = APIClient()
    client.force_login(request.getfixturevalue(persona))
    assert client.get(URL).status_code == expected


def test_anonymous_callers_are_asked_to_authenticate(db: Any) -> None:
    answer = APIClient().get(URL)
    assert answer.status_code == 401


def test_a_client_needs_the_outcomes_read_scope(auditor: Any, some_requests: None) -> None:
    allowed = register_client(auditor, "outcomes:read", name="dashboard")
    assert bearer(allowed).get(URL).status_code == 200
    other = register_client(auditor, "requests:read funds:read", name="other")
    refused = bearer(other).get(URL)
    assert refused.status_code == 403
    assert refused.json()["error"]["message"] == "The access token lacks the scope outcomes:read."


def test_a_client_acting_for_a_reviewer_is_refused_despite_the_scope(reviewer: Any) -> None:
    client = register_client(reviewer, "outcomes:read", name="reviewer-tool")
    assert bearer(client).get(URL).status_code == 403


def test_the_api_and_the_command_give_the_same_figures(
    finance_officer: Any, some_requests: None
) -> None:
    client = APIClient()
    client.force_login(finance_officer)
    params = {"since": "2026-03-01", "until": "2026-03-31"}
    answer = client.get(URL, params)
    out = StringIO()
    call_command(
        "outcomes_report", "--json", "--since", "2026-03-01", "--until", "2026-03-31", stdout=out
    )
    assert answer.json() == json.loads(out.getvalue())
    assert answer.json()["received"] == 2


def test_a_supervisor_sees_only_their_programs(
    supervisor: Any, business: Any, some_requests: None
) -> None:
    client = APIClient()
    client.force_login(supervisor)
    assert client.get(URL, {"until": "2026-03-31"}).json()["received"] == 1  # housing only
    refused = client.get(URL, {"program": "business"})
    assert refused.status_code == 400
    assert refused.json()["error"]["fields"] == {
        "program": ["You may not see the figures of the program 'business'."]
    }


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "03/01/2026"}, "since"),
        ({"until": "2026-02-30"}, "until"),
        ({"since": "2026-03-05", "until": "2026-03-01"}, "until"),
        ({"program": "no-such"}, "program"),
    ],
)
def test_bad_parameters_answer_400_naming_the_field(
    auditor: Any, params: dict[str, str], field: str
) -> None:
    client = APIClient()
    client.force_login(auditor)
    answer = client.get(URL, params)
    assert answer.status_code == 400
    assert list(answer.json()["error"]["fields"]) == [field]


def test_the_schema_documents_the_endpoint_and_its_scope(auditor: Any) -> None:
    client = APIClient()
    client.force_login(auditor)
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()
    operation = schema["paths"]["/api/v1/outcomes/"]["get"]
    assert {"oauth2": ["outcomes:read"]} in operation["security"]
    assert {p["name"] for p in operation["parameters"]} == {"since", "until", "program"}
