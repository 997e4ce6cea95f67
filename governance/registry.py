"""The one place a final outcome reaches the app that owns the subject.

Subject apps register a handler per subject kind in their `AppConfig.ready()`. The handler runs
inside the decision's transaction: if it refuses (raises), the decision is not recorded either.

It is called once per case, with `decision.outcome` one of:
- `approve`: the last applicable step was approved (earlier steps' approvals do not call it);
- `reject`: final, with the decider's reason;
- `return`: sent back to review with a reason; a new recommendation opens a new case;
- `recall`: the maker withdrew the case before any decision (`decision.decided_by` is the maker).
`decision.on_behalf_of` names the delegator when a delegate decided.
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
