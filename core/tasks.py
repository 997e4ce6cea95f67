"""Core's Celery tasks (autodiscovery registers the ones defined next to what they send)."""

from core.authn.emails import notify_account_owner

__all__ = ["notify_account_owner"]
