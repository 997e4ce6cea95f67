"""Signal receivers connected in `ServiceRequestsConfig.ready()`."""

from __future__ import annotations

from typing import Any

from core import events


def request_status_changed(
    sender: Any, instance: Any, name: str, source: Any, target: Any, **kwargs: Any
) -> None:
    """django-fsm's `post_transition` of a request (inside the service's transaction, just
    before it saves the request): announce the change of status."""
    events.announce(
        events.REQUEST_STATUS_CHANGED,
        request=instance,
        source=source,
        target=target,
        transition=name,
    )
