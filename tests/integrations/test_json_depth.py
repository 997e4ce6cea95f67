"""A JSON body nested past `MAX_JSON_DEPTH` is refused with a 400 before anything parses it:
Python's parser recurses once per level, and a thousand levels raised `RecursionError` (a 500)
while the OAuth authentication read the body, before any caller was known."""

from __future__ import annotations

import json
from typing import Any

import pytest
from rest_framework.test import APIClient

from core.api import MAX_JSON_DEPTH, json_depth_exceeds
from service_requests.models import ServiceRequest
from tests.integrations.conftest import bearer

pytestmark = pytest.mark.django_db

LIST = "/api/v1/requests/"
TOO_DEEP = {
    "error": {
        "code": "too_deep",
        "message": f"JSON may nest at most {MAX_JSON_DEPTH} levels of arrays and objects.",
    }
}


def _nested(depth: int, opener: str = "[", closer: str = "]") -> str:
    return opener * depth + closer * depth


def _objects(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


@pytest.mark.parametrize("body", [_nested(1000), _objects(1000), _nested(100_000)])
def test_a_deeply_nested_body_is_a_400_for_an_anonymous_caller(body: str) -> None:
    answer = APIClient().post(LIST, data=body, content_type="application/json")
    assert answer.status_code == 400
    assert answer.json() == TOO_DEEP


def test_a_deeply_nested_body_is_a_400_for_a_client_with_a_token(
    make_client: Any, civilian: Any, inspection: Any
) -> None:
    api = bearer(make_client(civilian, "requests:read requests:write"))
    answer = api.post(
        LIST,
        data=_nested(1000),
        content_type="application/json; charset=utf-8",
        HTTP_IDEMPOTENCY_KEY="deep",
    )
    assert answer.status_code == 400
    assert answer.json() == TOO_DEEP
    assert not ServiceRequest.objects.exists()


@pytest.mark.parametrize("content_type", ["application/*", "*/*"])
def test_a_content_type_the_json_parser_would_take_is_checked_too(content_type: str) -> None:
    answer = APIClient().post(LIST, data=_nested(1000), content_type=content_type)
    assert answer.status_code == 400


def test_brackets_inside_strings_do_not_count_and_the_request_is_filed(
    make_client: Any, civilian: Any, inspection: Any
) -> None:
    api = bearer(make_client(civilian, "requests:read requests:write"))
    payload = {
        "service_type": "inspection",
        "description": '[{"[' * 500 + '\\" escaped quote ]]',
        "contact_name": "Alice Example",
        "contact_email": "alice@example.test",
        "contact_phone": "",
    }
    answer = api.post(
        LIST,
        data=json.dumps(payload),
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="strings",
    )
    assert answer.status_code == 201, answer.content
    assert ServiceRequest.objects.get().description == payload["description"]


def test_a_body_at_the_limit_reaches_the_api_which_answers_as_usual() -> None:
    answer = APIClient().post(LIST, data=_nested(MAX_JSON_DEPTH), content_type="application/json")
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "not_authenticated"


def test_open311_refuses_a_deep_json_body_in_its_own_shape(client: Any) -> None:
    answer = client.post(
        "/open311/v2/requests.json", data=_nested(1000), content_type="application/json"
    )
    assert answer.status_code == 400
    assert answer.json() == [
        {
            "code": 400,
            "description": (
                f"JSON may nest at most {MAX_JSON_DEPTH} levels of arrays and objects."
            ),
        }
    ]


def test_form_bodies_and_other_paths_are_not_scanned(client: Any) -> None:
    # A form field may hold any text; only JSON bodies on the API paths are checked.
    answer = client.post(
        "/open311/v2/requests.json", {"api_key": "nope", "description": "[" * 1000}
    )
    assert answer.status_code == 403


@pytest.mark.parametrize(
    ("body", "deeper"),
    [
        (b"", False),
        (b"[]", False),
        (_nested(MAX_JSON_DEPTH).encode(), False),
        (_nested(MAX_JSON_DEPTH + 1).encode(), True),
        (_objects(MAX_JSON_DEPTH + 1).encode(), True),
        (b'"' + b"[" * 1000 + b'"', False),
        (b'["\\"' + b"[" * 1000 + b'"]', False),
        (b'["\\\\"' + b"[" * (MAX_JSON_DEPTH + 1), True),
        (b"[]" * 10_000, False),
        ('["\u00e9'.encode() + b"{" * 100 + b'"]', False),
    ],
)
def test_the_depth_check_skips_strings_and_escapes(body: bytes, deeper: bool) -> None:
    assert json_depth_exceeds(body, MAX_JSON_DEPTH) is deeper
