"""API clients: registered, changed, given new secrets and Open311 keys, revoked. Every
function takes the acting user and names them in the client's history."""

from __future__ import annotations

import hashlib
import secrets
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import (
    get_access_token_model,
    get_application_model,
    get_refresh_token_model,
)

from core.audit import record_history
from integrations.models import ApiClient

if TYPE_CHECKING:
    from django.contrib.auth.models import User

ERR_CLIENT_INACTIVE = "This client is revoked."


class IntegrationError(ValidationError):
    """A refused change; its message says why and nothing was written."""


@transaction.atomic
def client_register(
    *, actor: User, name: str, user: Any, scopes: str, rate: str
) -> tuple[ApiClient, str]:
    """Register a client (client credentials) acting for `user`, with its scopes and rate.
    Returns it and its secret: shown once, stored hashed."""
    application_model = get_application_model()
    secret = generate_client_secret()
    client = ApiClient(
        application=application_model.objects.create(
            name=name,
            user=user,
            client_type=application_model.CLIENT_CONFIDENTIAL,
            authorization_grant_type=application_model.GRANT_CLIENT_CREDENTIALS,
            client_secret=secret,
            hash_client_secret=True,
        ),
        scopes=scopes,
        rate=rate,
    )
    record_history(client, actor=actor, reason="registered")
    client.save()
    return client, secret


@transaction.atomic
def client_change(*, actor: User, client_id: int, scopes: str, rate: str) -> ApiClient:
    """Set a client's scopes and rate limit."""
    # Lock the client: a revocation or rotation at the same moment waits, then sees the change.
    client = ApiClient.objects.select_for_update().get(pk=client_id)
    client.scopes = scopes
    client.rate = rate
    record_history(client, actor=actor, reason="changed")
    client.save()
    return client


@transaction.atomic
def client_revoke(*, actor: User, client_id: int) -> ApiClient:
    """Revoke a client: no new tokens, its tokens deleted, refused at once. The row stays so
    its past calls stay attributable. Revoking twice changes nothing."""
    # Lock the client: a concurrent token request sees it revoked once this commits.
    client = ApiClient.objects.select_for_update().select_related("application").get(pk=client_id)
    if not client.active:
        return client
    client.active = False
    client.revoked_at = timezone.now()
    client.revoked_by = actor
    record_history(client, actor=actor, reason="revoked")
    client.save()
    get_refresh_token_model().objects.filter(application=client.application).delete()
    get_access_token_model().objects.filter(application=client.application).delete()
    for subscription in client.subscriptions.filter(active=True):
        subscription.active = False
        record_history(subscription, actor=actor, reason="client revoked")
        subscription.save(update_fields=["active"])
    return client


@transaction.atomic
def client_rotate_secret(*, actor: User, client_id: int) -> str:
    """Give the client a new secret (returned once; stored hashed) and end its tokens."""
    client = ApiClient.objects.select_for_update().select_related("application").get(pk=client_id)
    if not client.active:
        raise IntegrationError(ERR_CLIENT_INACTIVE, code="client_revoked")
    secret = generate_client_secret()
    application = client.application
    application.client_secret = secret
    application.save(update_fields=["client_secret"])
    get_access_token_model().objects.filter(application=application).delete()
    record_history(client, actor=actor, reason="secret rotated")
    client.save()  # a history row naming who rotated it
    return secret


def open311_key_digest(key: str) -> str:
    """What is stored of an Open311 api_key, and looked up when a call presents one."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@transaction.atomic
def client_new_open311_key(*, actor: User, client_id: int) -> str:
    """Give the client a new Open311 api_key (returned once; only its digest is stored)."""
    client = ApiClient.objects.select_for_update().get(pk=client_id)
    if not client.active:
        raise IntegrationError(ERR_CLIENT_INACTIVE, code="client_revoked")
    key = secrets.token_urlsafe(32)
    client.open311_key_sha256 = open311_key_digest(key)
    record_history(client, actor=actor, reason="new Open311 key")
    client.save()
    return key
