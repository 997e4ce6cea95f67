"""OAuth 2.0 client credentials: tokens carry at most the granted scopes, expire, end with a
revoked client; every endpoint refuses a client without its scope; people keep their session
(CSRF) and the ledger's per-user tokens."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import URLPattern, get_resolver
from django.utils import timezone
from oauth2_provider.models import get_access_token_model
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from integrations import services
from service_requests.models import ServiceRequest
from tests.builders import submitted
from tests.integrations.conftest import bearer, fetch_token

pytestmark = pytest.mark.django_db

# Methods each API endpoint answers (besides OPTIONS/HEAD).
NOT_CLIENT_ROUTES = {"api:schema", "api:docs"}
ARGUMENTS = {"code": "nope", "tracking_number": "HMS-2026-000001", "pk": 1}


def _api_routes() -> list[tuple[str, str]]:
    """Every `/api/v1/` route (name, concrete path), found from the URLconf itself: a new
    endpoint is covered by these tests without being listed here."""
    resolver = get_resolver()
    routes = []
    for pattern in resolver.url_patterns:
        if str(pattern.pattern) != "api/v1/":
            continue
        for sub in pattern.url_patterns:  # type: ignore[union-attr]
            assert isinstance(sub, URLPattern)
            name = f"api:{sub.name}"
            if name in NOT_CLIENT_ROUTES:
                continue
            route = str(sub.pattern)
            for key, value in ARGUMENTS.items():
                for converter in ("str", "slug", "int"):
                    route = route.replace(f"<{converter}:{key}>", str(value))
            routes.append((name, "/api/v1/" + route))
    return routes


ROUTES = _api_routes()


def test_the_route_list_is_not_empty():
    names = {name for name, _ in ROUTES}
    assert {"api:requests", "api:ledger-transfers", "api:webhook-subscriptions"} <= names


def test_token_endpoint_grants_only_the_scopes_given_to_the_client(make_client, reviewer):
    client = make_client(reviewer, "requests:read ledger:read")
    granted = fetch_token(client)
    assert granted.status_code == 200
    body = granted.json()
    assert set(body["scope"].split()) == {"requests:read", "ledger:read"}
    assert body["token_type"] == "Bearer"
    assert 0 < body["expires_in"] <= 3600
    narrower = fetch_token(client, "requests:read")
    assert narrower.json()["scope"] == "requests:read"
    refused = fetch_token(client, "requests:read ledger:write")
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_scope"


def test_a_wrong_secret_gets_no_token(make_client, reviewer):
    client = make_client(reviewer, "requests:read")
    client.secret = "not-the-secret"
    response = fetch_token(client)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


@pytest.mark.parametrize(("name", "path"), ROUTES)
def test_every_endpoint_refuses_a_client_without_its_scope(make_client, reviewer, name, path):
    # funds:read is a real scope that none of these endpoints accepts.
    api = bearer(make_client(reviewer, "funds:read"))
    for method in ("get", "post", "patch", "delete"):
        response = getattr(api, method)(path, {}, format="json")
        assert response.status_code == 403, (method, path, response.content)
        assert response.json()["error"]["code"] == "insufficient_scope"


@pytest.mark.parametrize(("name", "path"), ROUTES)
def test_every_endpoint_refuses_an_expired_token(make_client, finance_officer, name, path):
    client = make_client(finance_officer)
    api = bearer(client)
    get_access_token_model().objects.filter(application=client.api_client.application).update(
        expires=timezone.now() - timedelta(seconds=1)
    )
    response = api.get(path)
    assert response.status_code == 401
    assert response.json()["error"]["code"] in {"not_authenticated", "authentication_failed"}
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(("name", "path"), ROUTES)
def test_every_endpoint_refuses_a_revoked_client(make_client, finance_officer, actor, name, path):
    client = make_client(finance_officer)
    api = bearer(client)
    services.client_revoke(actor=actor, client_id=client.api_client.pk)
    assert api.get(path).status_code == 401


def test_a_revoked_client_gets_no_new_token_and_its_tokens_are_gone(make_client, reviewer, actor):
    client = make_client(reviewer, "requests:read")
    api = bearer(client)
    assert api.get("/api/v1/requests/").status_code == 200
    services.client_revoke(actor=actor, client_id=client.api_client.pk)
    assert fetch_token(client).status_code == 401
    assert api.get("/api/v1/requests/").status_code == 401
    assert (
        not get_access_token_model()
        .objects.filter(application=client.api_client.application)
        .exists()
    )
    client.api_client.refresh_from_db()
    assert client.api_client.revoked_by == actor
    assert client.api_client.history.first().history_change_reason == "revoked"


def test_a_revoked_flag_alone_refuses_a_live_token(make_client, reviewer, actor):
    """Even a token that survived (e.g. written by a concurrent request) is refused."""
    client = make_client(reviewer, "requests:read")
    api = bearer(client)
    type(client.api_client).objects.filter(pk=client.api_client.pk).update(
        active=False, revoked_at=timezone.now()
    )
    assert api.get("/api/v1/requests/").status_code == 401


def test_the_client_acts_for_its_user_and_history_names_the_client(
    make_client, civilian, inspection
):
    client = make_client(civilian, "requests:write requests:read")
    api = bearer(client)
    response = api.post(
        "/api/v1/requests/",
        {
            "service_type": "inspection",
            "description": "Mould in the bathroom.",
            "contact_name": "Alice",
            "contact_email": "alice@example.test",
        },
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-1",
    )
    assert response.status_code == 201, response.content
    created = ServiceRequest.objects.get(tracking_number=response.json()["tracking_number"])
    assert created.requester == civilian
    record = created.history.get()
    assert record.history_user == civilian
    assert f"via API client #{client.api_client.application.pk}" in record.history_change_reason


def test_a_client_whose_user_was_deactivated_is_refused(make_client, reviewer):
    api = bearer(make_client(reviewer, "requests:read"))
    reviewer.is_active = False
    reviewer.save()
    response = api.get("/api/v1/requests/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "client_without_user"


def test_people_use_the_api_with_their_session_and_csrf(civilian, inspection):
    api = APIClient(enforce_csrf_checks=True)
    api.force_login(civilian)
    submitted(civilian, inspection)
    listed = api.get("/api/v1/requests/")
    assert listed.status_code == 200
    # A person's session sees their own contact details (as on their pages).
    assert listed.json()["results"][0]["contact"]["email"] == civilian.email
    refused = api.post(
        "/api/v1/requests/",
        {"service_type": "inspection", "description": "x", "contact_name": "A"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k",
    )
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["error"]["message"]


def test_the_ledger_token_keeps_working_and_clients_need_ledger_scopes(
    finance_officer, make_client
):
    token, _ = Token.objects.get_or_create(user=finance_officer)
    person = APIClient()
    person.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert person.get("/api/v1/ledger/accounts/").status_code == 200
    reader = bearer(make_client(finance_officer, "ledger:read"))
    assert reader.get("/api/v1/ledger/accounts/").status_code == 200
    refused = reader.post("/api/v1/ledger/transfers/", {}, format="json")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "insufficient_scope"


def test_a_client_never_has_more_rights_than_its_user(make_client, reviewer):
    """A reviewer's client with ledger:write still cannot post: the reviewer may not."""
    api = bearer(make_client(reviewer, "ledger:read ledger:write"))
    assert api.get("/api/v1/ledger/accounts/").status_code == 403
    response = api.post("/api/v1/ledger/transfers/", {}, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_the_schema_describes_the_client_credentials_flow(client):
    schema = client.get("/api/v1/schema/?format=json")
    assert schema.status_code == 200
    document = schema.json()
    flow = document["components"]["securitySchemes"]["oauth2"]["flows"]["clientCredentials"]
    assert flow["tokenUrl"] == "/o/token/"
    assert "requests:pii" in flow["scopes"]
    listing = document["paths"]["/api/v1/requests/"]["get"]["security"]
    assert {"oauth2": ["requests:read"]} in listing


def test_expired_tokens_are_cleared_by_the_daily_task(make_client, reviewer):
    from integrations.tasks import clear_expired_tokens

    client = make_client(reviewer, "requests:read")
    bearer(client)
    bearer(client)
    tokens = get_access_token_model().objects.filter(application=client.api_client.application)
    tokens.filter(pk=tokens.first().pk).update(expires=timezone.now() - timedelta(days=2))
    clear_expired_tokens()
    assert tokens.count() == 1
