"""Every change to API clients, subscriptions and deliveries; callers pass the acting user.

Sending a delivery (`delivery_attempt`) is the one step that talks to the outside: it takes a
lease on the delivery in one short statement, sends without holding a transaction, and records
the attempt and the next step in a second transaction. A worker killed mid-send leaves the
lease to expire and the delivery to be sent again, with the same event id for the receiver to
drop the duplicate.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import random
import secrets
import time
import urllib.error
import urllib.request
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

from hms_portal.audit import record_history

from . import conf, signing
from .events import EVENT_SPECS, enqueue_deliveries
from .models import ApiClient, Delivery, DeliveryAttempt, DeliveryStatus, Event, Subscription

if TYPE_CHECKING:
    from django.contrib.auth.models import User

logger = logging.getLogger(__name__)

ERR_EVENT_TYPES = "Choose one or more of the event types: {known}."
ERR_SCOPE = "This client lacks the scope {scope} that {event_type} needs."
ERR_URL = "Enter an https URL (http only in development)."
ERR_KEY_REUSED = "This Idempotency-Key was used for a different subscription."
ERR_CLIENT_INACTIVE = "This client is revoked."

USER_AGENT = "HMS-ACH-Webhooks/1"


class IntegrationError(ValidationError):
    """A refused change; its message says why and nothing was written."""


# --- API clients ----------------------------------------------------------------------------


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


# --- Subscriptions ---------------------------------------------------------------------------


def subscription_validate(*, client: ApiClient, event_types: list[str], target_url: str) -> None:
    """The rules the admin form and the API show as field errors and the service enforces."""
    if not event_types or any(t not in EVENT_SPECS for t in event_types):
        raise IntegrationError(
            ERR_EVENT_TYPES.format(known=", ".join(EVENT_SPECS)),
            code="event_types",
            params={"field": "event_types"},
        )
    for event_type in event_types:
        scope = EVENT_SPECS[event_type].scope
        if scope not in client.scope_list:
            raise IntegrationError(
                ERR_SCOPE.format(scope=scope, event_type=event_type),
                code="scope_missing",
                params={"field": "event_types"},
            )
    try:
        URLValidator(schemes=["https", "http"] if conf.allow_http() else ["https"])(target_url)
    except ValidationError:
        raise IntegrationError(ERR_URL, code="target_url", params={"field": "target_url"}) from None


def subscription_create(
    *,
    actor: User,
    client: ApiClient,
    event_types: list[str],
    target_url: str,
    description: str = "",
    idempotency_key: str | None = None,
) -> tuple[Subscription, bool]:
    """Subscribe `client` to `event_types` at `target_url`. Returns it and whether it is new;
    a retry under the same `idempotency_key` returns the first one, a different one under the
    same key is refused."""
    event_types = sorted(set(event_types))
    if idempotency_key:
        earlier = Subscription.objects.filter(
            client=client, idempotency_key=idempotency_key
        ).first()
        if earlier is not None:
            return _same_or_conflict(earlier, event_types, target_url), False
    try:
        return _subscription_create(
            actor=actor,
            client=client,
            event_types=event_types,
            target_url=target_url,
            description=description,
            idempotency_key=idempotency_key,
        ), True
    except IntegrityError:
        earlier = Subscription.objects.filter(
            client=client, idempotency_key=idempotency_key
        ).first()
        if earlier is None:
            raise
    return _same_or_conflict(earlier, event_types, target_url), False


def _same_or_conflict(
    earlier: Subscription, event_types: list[str], target_url: str
) -> Subscription:
    if sorted(earlier.event_types) != event_types or earlier.target_url != target_url:
        raise IntegrationError(ERR_KEY_REUSED, code="idempotency_conflict")
    return earlier


@transaction.atomic
def _subscription_create(
    *,
    actor: User,
    client: ApiClient,
    event_types: list[str],
    target_url: str,
    description: str,
    idempotency_key: str | None,
) -> Subscription:
    if not client.active:
        raise IntegrationError(ERR_CLIENT_INACTIVE, code="client_revoked")
    subscription_validate(client=client, event_types=event_types, target_url=target_url)
    subscription = Subscription(
        client=client,
        event_types=event_types,
        target_url=target_url,
        description=description.strip(),
        idempotency_key=idempotency_key or None,
    )
    record_history(subscription, actor=actor, reason="subscribed")
    subscription.save()
    return subscription


@transaction.atomic
def subscription_update(
    *,
    actor: User,
    subscription_id: int,
    event_types: list[str] | None = None,
    target_url: str | None = None,
    description: str | None = None,
    active: bool | None = None,
) -> Subscription:
    """Change a subscription's event types, URL, description or whether it is active."""
    # Lock it: a concurrent emit sees the old or the new version, never half of each.
    subscription = (
        Subscription.objects.select_for_update(of=("self",))
        .select_related("client")
        .get(pk=subscription_id)
    )
    if event_types is not None:
        subscription.event_types = sorted(set(event_types))
    if target_url is not None:
        subscription.target_url = target_url
    if description is not None:
        subscription.description = description.strip()
    if active is not None:
        subscription.active = active
    if subscription.active:
        subscription_validate(
            client=subscription.client,
            event_types=subscription.event_types,
            target_url=subscription.target_url,
        )
    record_history(subscription, actor=actor, reason="changed")
    subscription.save()
    return subscription


def subscription_deactivate(*, actor: User, subscription_id: int) -> Subscription:
    """Stop a subscription (kept, with its deliveries, for the record)."""
    return subscription_update(actor=actor, subscription_id=subscription_id, active=False)


# --- Deliveries -----------------------------------------------------------------------------


def event_body(event: Event) -> bytes:
    """The JSON a receiver gets: the event's id, type, time and data."""
    document: dict[str, Any] = {
        "id": str(event.id),
        "type": event.type,
        "created_at": event.created_at.isoformat(),
        "data": event.payload,
    }
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode("utf-8")


def backoff(attempts: int) -> timedelta:
    """The wait after `attempts` failed attempts: 30 s, 1 min, 2 min, … up to 2 h, ±10 %."""
    base = conf.first_backoff().total_seconds() * 2 ** max(attempts - 1, 0)
    seconds = min(base, conf.max_backoff().total_seconds())
    return timedelta(seconds=seconds * random.uniform(0.9, 1.1))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not an instruction: it counts as a failed attempt."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect, urllib.request.ProxyHandler({}))


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, str, str]:
    """POST and return (status, the start of the answer, error)."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with _opener.open(request, timeout=conf.timeout_seconds()) as response:
            return response.status, response.read(500).decode("utf-8", "replace"), ""
    except urllib.error.HTTPError as error:
        excerpt = error.read(500).decode("utf-8", "replace") if error.fp else ""
        return error.code, excerpt, ""
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as error:
        return None, "", f"{type(error).__name__}: {error}"[:300]


def delivery_attempt(*, delivery_id: int) -> str:
    """Send one delivery once if it is due and nobody else is sending it; record the outcome.

    Returns "delivered", "retry", "failed" (given up, or the subscription ended) or "skipped"
    (not due, already done, or leased by another worker).
    """
    now = timezone.now()
    # The lease: one UPDATE, so two workers (a retry and a beat re-enqueue) never both send.
    claimed = (
        Delivery.objects.filter(
            pk=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now
        )
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lte=now))
        .update(lease_until=now + conf.lease(), attempts=F("attempts") + 1)
    )
    if not claimed:
        return "skipped"
    delivery = Delivery.objects.select_related("event", "subscription__client").get(pk=delivery_id)
    subscription = delivery.subscription
    if not (subscription.active and subscription.client.active):
        _record(delivery, status_code=None, excerpt="", error="subscription ended", duration=0)
        return "failed"
    body = event_body(delivery.event)
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        signing.EVENT_ID_HEADER: str(delivery.event_id),
        signing.EVENT_TYPE_HEADER: delivery.event.type,
        signing.DELIVERY_HEADER: str(delivery.pk),
        signing.ATTEMPT_HEADER: str(delivery.attempts),
        signing.SIGNATURE_HEADER: signing.signature_header(subscription.secret, timestamp, body),
    }
    started = time.monotonic()
    status_code, excerpt, error = _post(subscription.target_url, body, headers)
    duration = int((time.monotonic() - started) * 1000)
    return _record(
        delivery, status_code=status_code, excerpt=excerpt, error=error, duration=duration
    )


@transaction.atomic
def _record(
    delivery: Delivery, *, status_code: int | None, excerpt: str, error: str, duration: int
) -> str:
    now = timezone.now()
    DeliveryAttempt.objects.create(
        delivery=delivery,
        number=delivery.attempts,
        started_at=now - timedelta(milliseconds=duration),
        duration_ms=duration,
        status_code=status_code,
        error=error,
        response_excerpt=excerpt,
    )
    changes: dict[str, Any] = {
        "lease_until": None,
        "last_status_code": status_code,
        "last_error": error or ("" if status_code is None else f"HTTP {status_code}"),
    }
    if status_code is not None and 200 <= status_code < 300:
        changes.update(status=DeliveryStatus.DELIVERED, delivered_at=now, last_error="")
        outcome = "delivered"
    elif error == "subscription ended" or now >= delivery.give_up_at:
        changes.update(status=DeliveryStatus.FAILED)
        outcome = "failed"
    else:
        wait = backoff(delivery.attempts)
        due = min(now + wait, delivery.give_up_at)
        changes.update(next_attempt_at=due)
        outcome = "retry"
        seconds = max((due - now).total_seconds(), 0)
        transaction.on_commit(lambda: enqueue_deliveries([delivery.pk], countdown=seconds))
    Delivery.objects.filter(pk=delivery.pk).update(**changes)
    return outcome


@transaction.atomic
def delivery_replay(*, actor: User, delivery_id: int) -> Delivery:
    """Send a delivery again (staff, from the admin): pending now, retried for another window,
    with the same event id. A delivery being sent right now is left to finish first."""
    # Lock it: a worker recording an attempt waits, then the replay resets what it wrote.
    delivery = Delivery.objects.select_for_update().get(pk=delivery_id)
    now = timezone.now()
    Delivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.PENDING,
        next_attempt_at=now,
        give_up_at=now + conf.retry_window(),
        replayed_at=now,
        replayed_by=actor,
    )
    transaction.on_commit(lambda: enqueue_deliveries([delivery.pk]))
    delivery.refresh_from_db()
    return delivery


def deliveries_due(*, limit: int = 1000) -> list[int]:
    """Pending deliveries due for longer than the grace period with no live lease: the ones the
    broker never took (it was down) or whose worker died."""
    now = timezone.now()
    return list(
        Delivery.objects.filter(
            status=DeliveryStatus.PENDING, next_attempt_at__lt=now - conf.outbox_grace()
        )
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lte=now))
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
