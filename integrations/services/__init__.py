"""Every change to the integrations' own tables, each taking the acting user where a person or
a client acts: API clients, webhook subscriptions, the outbox's events and deliveries, and the
runs of a data migration."""

from .clients import (
    ERR_CLIENT_INACTIVE,
    IntegrationError,
    client_change,
    client_new_open311_key,
    client_register,
    client_revoke,
    client_rotate_secret,
)
from .deliveries import backoff, delivery_attempt, delivery_replay
from .imports import data_import
from .subscriptions import (
    subscription_create,
    subscription_deactivate,
    subscription_update,
    subscription_validate,
)

__all__ = [
    "ERR_CLIENT_INACTIVE",
    "IntegrationError",
    "backoff",
    "client_change",
    "client_new_open311_key",
    "client_register",
    "client_revoke",
    "client_rotate_secret",
    "data_import",
    "delivery_attempt",
    "delivery_replay",
    "subscription_create",
    "subscription_deactivate",
    "subscription_update",
    "subscription_validate",
]
