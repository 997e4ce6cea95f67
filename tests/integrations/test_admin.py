"""Clients are registered, rotated and revoked in the admin; subscriptions, events and
deliveries are shown there."""

from __future__ import annotations

import re

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from integrations.models import ApiClient, Delivery, Event, Subscription
from integrations.services.subscriptions import ERR_TARGET
from tests.builders import reauthenticate, submitted
from tests.factories import UserFactory
from tests.integrations.conftest import Client, bearer, fetch_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):  # type: ignore[no-untyped-def]
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    reauthenticate(client)  # registering a client asks for it
    return client


def _messages(response) -> str:  # type: ignore[no-untyped-def]
    return " ".join(str(m) for m in get_messages(response.wsgi_request))


def test_an_administrator_registers_a_client_and_sees_its_secret_once(
    admin_client, reviewer, inspection
):
    response = admin_client.post(
        reverse("admin:integrations_apiclient_add"),
        {
            "name": "Case system",
            "acting_username": reviewer.username,
            "scopes": ["requests:read", "webhooks:manage"],
            "rate": "120/min",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    text = _messages(response)
    secret = re.search(r"client secret: <code>([^<]+)</code>", text).group(1)
    registered = ApiClient.objects.get()
    application = registered.application
    assert application.user == reviewer
    assert registered.scope_list == ["requests:read", "webhooks:manage"]
    assert secret not in application.client_secret  # stored hashed
    credentials = Client(registered, application.client_id, secret)
    assert fetch_token(credentials).json()["scope"] == "requests:read webhooks:manage"
    assert registered.history.get().history_user.username == "root"


def test_the_add_form_refuses_an_unknown_user_and_a_bad_rate(admin_client):
    response = admin_client.post(
        reverse("admin:integrations_apiclient_add"),
        {"name": "X", "acting_username": "nobody", "scopes": ["requests:read"], "rate": "fast"},
    )
    assert response.status_code == 200
    assert not ApiClient.objects.exists()


def test_revoke_and_rotate_from_the_admin(admin_client, make_client, reviewer, inspection):
    client = make_client(reviewer, "requests:read")
    api = bearer(client)
    changelist = reverse("admin:integrations_apiclient_changelist")
    rotated = admin_client.post(
        changelist, {"action": "rotate_secret", "_selected_action": [client.api_client.pk]}
    )
    new_secret = re.search(r"New client secret: <code>([^<]+)</code>", _messages(rotated)).group(1)
    assert api.get("/api/v1/requests/").status_code == 401  # its tokens ended
    assert fetch_token(client).status_code == 401  # the old secret
    client.secret = new_secret
    assert fetch_token(client).status_code == 200
    admin_client.post(changelist, {"action": "revoke", "_selected_action": [client.api_client.pk]})
    assert fetch_token(client).status_code == 401
    client.api_client.refresh_from_db()
    assert client.api_client.active is False


def test_every_integrations_page_renders_with_data(
    admin_client,
    make_client,
    reviewer,
    civilian,
    inspection,
    receiver,
    django_capture_on_commit_callbacks,
):
    client = make_client(reviewer)
    subscription = Subscription.objects.create(
        client=client.api_client, event_types=["request.submitted"], target_url=receiver.url
    )
    with django_capture_on_commit_callbacks(execute=True):
        submitted(civilian, inspection)
    pages = [
        reverse("admin:integrations_apiclient_change", args=[client.api_client.pk]),
        reverse("admin:integrations_apiclient_history", args=[client.api_client.pk]),
        reverse("admin:integrations_subscription_change", args=[subscription.pk]),
        reverse("admin:integrations_subscription_add"),
        reverse("admin:integrations_event_change", args=[Event.objects.get().pk]),
        reverse("admin:integrations_delivery_change", args=[Delivery.objects.get().pk]),
        reverse("admin:integrations_delivery_changelist") + "?status=delivered",
    ]
    for url in pages:
        assert admin_client.get(url).status_code == 200, url
    body = admin_client.get(pages[2]).content.decode()
    assert subscription.secret not in body  # only its last characters


def _add_subscription(admin_client, client: Client, *, event_type: str, target_url: str):  # type: ignore[no-untyped-def]
    """Post the admin's "add subscription" form for `client`."""
    return admin_client.post(
        reverse("admin:integrations_subscription_add"),
        {
            "client": client.api_client.pk,
            "event_types": [event_type],
            "target_url": target_url,
            "active": "on",
        },
    )


def test_a_subscription_made_in_the_admin_is_validated(admin_client, make_client, reviewer):
    client = make_client(reviewer, "requests:read webhooks:manage")
    response = _add_subscription(
        admin_client, client, event_type="transfer.posted", target_url="https://example.test/h"
    )
    assert response.status_code == 200  # the form, with the error
    assert "ledger:read" in response.content.decode()
    assert not Subscription.objects.exists()


def test_the_admin_form_shows_a_refused_target_on_its_field(
    admin_client, make_client, reviewer, settings
):
    settings.HMS_WEBHOOK_ALLOW_PRIVATE_TARGETS = False  # the target rules on, as in production
    client = make_client(reviewer, "requests:read webhooks:manage")
    response = _add_subscription(
        admin_client, client, event_type="request.submitted", target_url="https://192.168.0.10/h"
    )
    assert response.status_code == 200  # the form again, with the error
    errors = response.context["adminform"].form.errors
    assert errors["target_url"] == [ERR_TARGET.format(reason="192.168.0.10 is a private address")]
    assert not Subscription.objects.exists()


def test_the_page_showing_a_new_client_secret_is_sent_uncompressed(admin_client, reviewer):
    """BREACH: the one page that shows the secret is never gzip-compressed; the next is."""
    gzip_ok = {"accept-encoding": "gzip"}
    admin_client.post(
        reverse("admin:integrations_apiclient_add"),
        {
            "name": "Case system",
            "acting_username": reviewer.username,
            "scopes": ["requests:read"],
            "rate": "120/min",
        },
    )
    changelist = reverse("admin:integrations_apiclient_changelist")
    shown = admin_client.get(changelist, headers=gzip_ok)
    assert "client secret: <code>" in shown.content.decode()
    assert not shown.has_header("Content-Encoding")
    after = admin_client.get(changelist, headers=gzip_ok)
    assert after["Content-Encoding"] == "gzip"


def test_the_page_showing_a_rotated_secret_is_sent_uncompressed(
    admin_client, make_client, reviewer
):
    client = make_client(reviewer, "requests:read")
    changelist = reverse("admin:integrations_apiclient_changelist")
    shown = admin_client.post(
        changelist,
        {"action": "rotate_secret", "_selected_action": [client.api_client.pk]},
        follow=True,
        headers={"accept-encoding": "gzip"},
    )
    assert "New client secret: <code>" in shown.content.decode()
    assert not shown.has_header("Content-Encoding")
