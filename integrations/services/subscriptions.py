"""Webhook subscriptions: a client's choice of event types and the URL they are sent to.

Any change to a subscription or a client drops the outbox's cached set of subscribed event
types (`forget_subscribed_types`, connected to their `post_save`/`post_delete` signals).
"""

from __future__ import annotations

import urllib.parse
from typing import TYPE_CHECKING, Any

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction

from core.audit import record_history
from integrations import conf, targets
from integrations.models import ApiClient, Subscription
from integrations.outbox import (
    EVENT_SPECS,
    SUBSCRIBED_TYPES_CACHE_KEY,
    forget_local_subscribed_types,
)

from .clients import ERR_CLIENT_INACTIVE, IntegrationError

if TYPE_CHECKING:
    from django.contrib.auth.models import User

ERR_EVENT_TYPES = "Choose one or more of the event types: {known}."
ERR_SCOPE = "This client lacks the scope {scope} that {event_type} needs."
ERR_URL = "Enter an https URL (http only in development)."
ERR_TARGET = "The target must be a public HTTPS address: {reason}."
ERR_TARGET_UNRESOLVED = "The target's host {host} does not resolve: check its DNS name."
ERR_KEY_REUSED = "This Idempotency-Key was used for a different subscription."


def subscription_validate(*, client: ApiClient, event_types: list[str], target_url: str) -> None:
    """The rules the admin form and the API show as field errors and the service enforces."""
    _validate_event_types(client=client, event_types=event_types)
    subscription_validate_target(target_url=target_url)


def _validate_event_types(*, client: ApiClient, event_types: list[str]) -> None:
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


def subscription_validate_target(*, target_url: str) -> None:
    """A URL the worker may send to: https (http only where `HMS_WEBHOOK_ALLOW_HTTP` is on), no
    credentials, and a host whose every address is public (`integrations.targets`), unless
    `HMS_WEBHOOK_ALLOW_PRIVATE_TARGETS` is on. The worker checks again before each connection."""
    field = {"field": "target_url"}
    allow_http = conf.allow_http()
    try:
        form = targets.check_form(target_url, allow_http=allow_http)
        URLValidator(schemes=["https", "http"] if allow_http else ["https"])(target_url)
    except ValidationError:
        raise IntegrationError(ERR_URL, code="target_url", params=field) from None
    except targets.TargetRefused as refused:
        if refused.kind == "scheme":
            raise IntegrationError(ERR_URL, code="target_url", params=field) from None
        message = ERR_TARGET.format(reason=refused.reason)
        raise IntegrationError(message, code="target_refused", params=field) from None
    if conf.allow_private_targets():
        return
    try:
        targets.resolve(form, allow_private=False)
    except targets.TargetRefused as refused:
        message = ERR_TARGET.format(reason=refused.reason)
        raise IntegrationError(message, code="target_refused", params=field) from None
    except (OSError, UnicodeError):
        host = urllib.parse.urlsplit(target_url).hostname or ""
        message = ERR_TARGET_UNRESOLVED.format(host=host)
        raise IntegrationError(message, code="target_unresolved", params=field) from None


def subscription_create(
    *,
    actor: User,
    client: ApiClient,
    event_types: list[str],
    target_url: str,
    description: str = "",
    idempotency_key: str | None = None,
    active: bool = True,
) -> tuple[Subscription, bool]:
    """Subscribe `client` to `event_types` at `target_url` (or, with `active` off, record the
    subscription stopped). Returns it and whether it is new; a retry under the same
    `idempotency_key` returns the first one, a different one under the same key is refused."""
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
            active=active,
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
    active: bool,
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
        active=active,
    )
    record_history(subscription, actor=actor, reason="subscribed")
    subscription.save()
    return subscription


@transaction.atomic
def subscription_update(
    *,
    actor: User,
    subscription_id: int,
    client: ApiClient | None = None,
    event_types: list[str] | None = None,
    target_url: str | None = None,
    description: str | None = None,
    active: bool | None = None,
) -> Subscription:
    """Change a subscription's event types, URL, description or whether it is active (staff
    may also move it to another `client`)."""
    # The target is checked before the row is locked: its DNS lookup may take seconds, and the
    # lock would hold up every delivery written for this subscription meanwhile.
    before = Subscription.objects.values("active", "target_url").get(pk=subscription_id)
    checked = target_url if target_url is not None else before["target_url"]
    prechecked = before["active"] if active is None else active
    if prechecked:
        subscription_validate_target(target_url=checked)
    # Lock it: a concurrent emit sees the old or the new version, never half of each.
    subscription = (
        Subscription.objects.select_for_update(of=("self",))
        .select_related("client")
        .get(pk=subscription_id)
    )
    if client is not None:
        subscription.client = client
    if event_types is not None:
        subscription.event_types = sorted(set(event_types))
    if target_url is not None:
        subscription.target_url = target_url
    if description is not None:
        subscription.description = description.strip()
    if active is not None:
        subscription.active = active
    if subscription.active:
        _validate_event_types(client=subscription.client, event_types=subscription.event_types)
        if not prechecked or subscription.target_url != checked:
            # Changed by someone else in between: checked again, under the lock this time.
            subscription_validate_target(target_url=subscription.target_url)
    record_history(subscription, actor=actor, reason="changed")
    subscription.save()
    return subscription


def subscription_deactivate(*, actor: User, subscription_id: int) -> Subscription:
    """Stop a subscription (kept, with its deliveries, for the record)."""
    return subscription_update(actor=actor, subscription_id=subscription_id, active=False)


def forget_subscribed_types() -> None:
    """Drop the cached set (shared, and this process's copy) now and once the current
    transaction commits."""
    _forget()
    transaction.on_commit(_forget)


def _forget() -> None:
    cache.delete(SUBSCRIBED_TYPES_CACHE_KEY)
    forget_local_subscribed_types()


def subscriptions_changed(sender: Any, **kwargs: Any) -> None:
    """`post_save`/`post_delete` of a subscription or a client: see `forget_subscribed_types`."""
    forget_subscribed_types()
