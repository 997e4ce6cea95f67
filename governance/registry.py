"""The one place a final decision reaches the app that owns the subject.

Subject apps register a handler per subject kind in their `AppConfig.ready()`. The handler runs
inside the decision's transaction: if it refuses (raises), the decision is not recorded either.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from .models import ApprovalCase, Decision

Handler = Callable[["ApprovalCase", "Decision", "User"], None]

_handlers: dict[str, Handler] = {}


def register(subject_kind: str, handler: Handler) -> None:
    """Register the handler for `subject_kind`; registering another for the same kind is a bug."""
    current = _handlers.get(subject_kind)
    if current is not None and current is not handler:
        raise RuntimeError(f"A decision handler for {subject_kind!r} is already registered.")
    _handlers[subject_kind] = handler


def handler_for(subject_kind: str) -> Handler:
    try:
        return _handlers[subject_kind]
    except KeyError:
        raise RuntimeError(f"No decision handler registered for {subject_kind!r}.") from None
