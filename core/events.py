"""Facts an app announces, and the handlers other apps register for them: the one way a lower
app tells a higher one that something happened without importing it.

    # in the app that owns the change, inside its service's transaction:
    events.announce(events.ROUND_COMMITTED, round=allocation_round)

    # in the listening app's AppConfig.ready():
    events.subscribe(events.ROUND_COMMITTED, receivers.round_committed)

Handlers run at once, in the announcer's transaction and in the order they subscribed: what they
write commits or rolls back with the change, and a handler that raises refuses the change. A
fact nobody subscribed to costs a dictionary look-up.

A fact that must have exactly one handler (an approval case's final outcome reaches the app that
owns its subject) is announced with `announce_to_one(fact, key, ...)`: one handler per key,
registered with `subscribe_one`; a missing handler is a bug and raises.

`batch()` lets a bulk path announce many facts while listeners write them together: each
listener may register a context manager with `on_batch` (the webhook outbox collects its
events and writes them in one insert when the outermost block ends).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from typing import Any

Handler = Callable[..., Any]

# The facts the apps announce, with the keyword data each carries.
REQUEST_SUBMITTED = "request.submitted"  # request: the new ServiceRequest
# request, source, target (statuses), transition (its name): before the request is saved
REQUEST_STATUS_CHANGED = "request.status_changed"
CASE_DECIDED = "case.decided"  # case: the ApprovalCase, outcome: "approved" or "rejected"
CASE_OUTCOME = "case.outcome"  # to one handler per subject kind: case, decision, actor
# to one handler per subject kind: case, viewer; returns what the case page shows of the
# subject (`governance.subjects.SubjectDetails`) or None
CASE_SUBJECT_DETAILS = "case.subject_details"
ROUND_COMMITTED = "round.committed"  # round: the committed AllocationRound
# claim_ids: the claims a committed round (or a finance officer) granted, actor: who granted
CLAIMS_GRANTED = "claims.granted"
TRANSFERS_POSTED = "ledger.transfers_posted"  # transfers: the posted Transfer rows just written
CYCLE_SETTLED = "ledger.cycle_settled"  # cycle: the ClearingCycle just settled

FACTS = frozenset(
    {
        REQUEST_SUBMITTED,
        REQUEST_STATUS_CHANGED,
        CASE_DECIDED,
        CASE_OUTCOME,
        CASE_SUBJECT_DETAILS,
        ROUND_COMMITTED,
        CLAIMS_GRANTED,
        TRANSFERS_POSTED,
        CYCLE_SETTLED,
    }
)

_handlers: dict[str, list[Handler]] = {}
_single: dict[tuple[str, str], Handler] = {}
_batch_contexts: list[Callable[[], AbstractContextManager[Any]]] = []


def _known(fact: str) -> str:
    if fact not in FACTS:
        raise ValueError(f"Unknown fact {fact!r}: add it to core.events.FACTS.")
    return fact


def subscribe(fact: str, handler: Handler) -> Handler:
    """Call `handler(**data)` whenever `fact` is announced (registering it again does
    nothing). Returns the handler, so it can decorate a function."""
    listeners = _handlers.setdefault(_known(fact), [])
    if handler not in listeners:
        listeners.append(handler)
    return handler


def unsubscribe(fact: str, handler: Handler) -> None:
    """Stop calling `handler` for `fact` (tests)."""
    listeners = _handlers.get(fact, [])
    if handler in listeners:
        listeners.remove(handler)


def subscribed(fact: str) -> bool:
    """Whether anyone listens to `fact` (lets an announcer skip building its data)."""
    return bool(_handlers.get(fact))


def announce(fact: str, /, **data: Any) -> None:
    """Tell every handler of `fact`, now, in the caller's transaction."""
    for handler in list(_handlers.get(_known(fact), ())):
        handler(**data)


def subscribe_one(fact: str, key: str, handler: Handler) -> Handler:
    """Register the one handler of `fact` for `key`; registering another is a bug."""
    current = _single.get((_known(fact), key))
    if current is not None and current is not handler:
        raise RuntimeError(f"A handler of {fact!r} for {key!r} is already registered.")
    _single[(fact, key)] = handler
    return handler


def handler_for(fact: str, key: str) -> Handler:
    """The handler `subscribe_one` registered for `key`; raises when there is none."""
    try:
        return _single[(_known(fact), key)]
    except KeyError:
        raise RuntimeError(f"No handler of {fact!r} registered for {key!r}.") from None


def registered_for(fact: str, key: str) -> bool:
    """Whether a handler of `fact` is registered for `key` (for optional single handlers)."""
    return (_known(fact), key) in _single


def announce_to_one(fact: str, key: str, /, **data: Any) -> Any:
    """Call the one handler of `fact` for `key` and return what it returns."""
    return handler_for(fact, key)(**data)


def on_batch(context: Callable[[], AbstractContextManager[Any]]) -> None:
    """Enter `context()` around every `batch()` block (once per registration)."""
    if context not in _batch_contexts:
        _batch_contexts.append(context)


@contextmanager
def batch() -> Iterator[None]:
    """Around a bulk path that announces many facts: every listener's batch context is open
    for the block, so each may write what the facts call for together at its end."""
    with ExitStack() as stack:
        for context in list(_batch_contexts):
            stack.enter_context(context())
        yield
