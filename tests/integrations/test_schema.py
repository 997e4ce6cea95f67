"""schemathesis against the OpenAPI schema, in process (WSGI), with a test client credential
holding every scope: no 500, and every answer's status, content type and body as documented."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.builders import submitted
from tests.integrations.conftest import ALL_SCOPES, fetch_token, register_client

pytestmark = pytest.mark.django_db

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@contextmanager
def _keeping_the_test_connection() -> Iterator[None]:
    """As Django's test client does around each request: the app's end-of-request hook must
    not close the test's database connection (and with it the test's transaction)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


# Loaded at collection, served by the app in process (the schema view reads no database).
# (schemathesis' `from_fixture` does not work with pytest 9.)
schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", get_wsgi_application())


@pytest.fixture
def credential(finance_officer, reviewer, civilian, inspection, rent_help) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """A bearer token for a client acting for a reviewer who is also a finance officer, with
    every scope, and some requests to find."""
    from django.contrib.auth.models import Group

    reviewer.groups.add(Group.objects.get(name="finance_officer"))
    submitted(civilian, inspection)
    submitted(civilian, rent_help, amount_minor=10_000)
    client = register_client(reviewer, ALL_SCOPES, name="schemathesis", rate="100000/min")
    token = fetch_token(client).json()["access_token"]
    return {"Authorization": f"Bearer {token}", "Idempotency-Key": "schemathesis"}


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_the_api_keeps_to_its_schema(case, credential):  # type: ignore[no-untyped-def]
    with _keeping_the_test_connection():
        case.call_and_validate(headers=credential, checks=CHECKS, excluded_checks=[])
