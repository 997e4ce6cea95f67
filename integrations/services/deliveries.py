"""Webhook deliveries: sending them, recording each attempt, and replaying them.

Sending a delivery (`delivery_attempt`) is the one step that talks to the outside: it leases
the delivery, and the due deliveries of the same subscription behind it, in one short
transaction, sends them over one connection without holding a transaction, and records the
attempts and the next steps in a second transaction. A worker killed mid-send leaves the lease
to expire and the deliveries to be sent again, with the same event ids for the receiver to
drop the duplicates.
"""

from __future__ import annotations

import http.client
import json
import random
import socket
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core.outbox import hand_over
from integrations import conf, signing, targets
from integrations.models import Delivery, DeliveryAttempt, DeliveryStatus, Event
from integrations.outbox import OUTBOX_WEBHOOKS, enqueue_batches, enqueue_each
from integrations.selectors import lease_free

if TYPE_CHECKING:
    from django.contrib.auth.models import User

USER_AGENT = "HMS-ACH-Webhooks/1"


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


class _PinnedConnection(http.client.HTTPConnection):
    """An HTTP(S) connection to addresses already resolved and checked: the socket goes to one
    of `addresses`, never to a fresh lookup of the name, while the URL's host name stays in the
    Host header and, for HTTPS, in SNI and the certificate check."""

    def __init__(
        self,
        target: targets.Target,
        *,
        timeout: float,
        context: ssl.SSLContext | None,
    ) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self.default_port = 443 if context is not None else 80
        self.addresses = target.addresses
        self.context = context

    def connect(self) -> None:
        error: OSError = OSError(f"no address for {self.host}")
        for address in self.addresses:
            try:
                sock = socket.create_connection((address, self.port), self.timeout)
                break
            except OSError as failed:
                error = failed
        else:
            raise error
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.context is not None:
                sock = self.context.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


class _Sender:
    """POSTs to one receiver over one kept-alive connection (a redirect is an answer, not an
    instruction: it counts as a failed attempt; no proxy is used). Each new connection
    resolves the host once, checks every address (`integrations.targets`) and connects to a
    checked one; a refused target raises `targets.TargetRefused`."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.path = "/"
        self.connection: http.client.HTTPConnection | None = None
        self.used = False

    def _connect(self) -> http.client.HTTPConnection:
        target = targets.resolve_target(
            self.url,
            allow_http=conf.allow_http(),
            allow_private=conf.allow_private_targets(),
        )
        self.path = target.path
        context = ssl.create_default_context() if target.https else None
        return _PinnedConnection(target, timeout=conf.timeout_seconds(), context=context)

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
        self.connection = None
        self.used = False

    def post(self, body: bytes, headers: dict[str, str]) -> tuple[int | None, str, str]:
        """POST and return (status, the start of the answer, error)."""
        for retry in (False, True):
            reused = self.used
            try:
                if self.connection is None:
                    self.connection = self._connect()
                self.connection.request("POST", self.path, body=body, headers=headers)
                response = self.connection.getresponse()
                length = response.getheader("Content-Length")
                if length is not None and length.isdigit() and int(length) <= 65_536:
                    content = response.read()
                else:  # an unbounded answer: keep its start, not the connection
                    content = response.read(500)
                    response.close()
                    self.close()
                if response.will_close:
                    self.close()
                else:
                    self.used = True
                return response.status, content[:500].decode("utf-8", "replace"), ""
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as error:
                # A kept-alive connection the receiver closed while idle: open a new one once.
                self.close()
                if not reused or retry:
                    return None, "", f"{type(error).__name__}: {error}"[:300]
            except targets.TargetRefused:
                self.close()
                raise
            except (OSError, http.client.HTTPException, ValueError) as error:
                self.close()
                return None, "", f"{type(error).__name__}: {error}"[:300]
        return None, "", "unreachable"  # not reached: the second pass always returns


@transaction.atomic
def _lease(delivery_id: int, now: Any, batch: Sequence[int] = ()) -> tuple[bool, list[int]]:
    """Lease `delivery_id` and the rest of its `batch` that are due and free, and fill up to
    the batch size with other due, free deliveries of their subscription, oldest first.
    Returns whether `delivery_id` was leased and every leased id, oldest first."""
    size = conf.batch_size()
    due = Delivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now).filter(
        lease_free(now)
    )
    # Row locks (skipping rows another worker holds) make the check and the lease one step:
    # two workers, a retry and a beat re-enqueue never lease the same delivery.
    named = list(
        due.filter(pk__in=[delivery_id, *batch])
        .select_for_update(skip_locked=True)
        .order_by("next_attempt_at", "pk")
        .values_list("pk", "subscription_id", "next_attempt_at")
    )
    own = next((row for row in named if row[0] == delivery_id), None)
    if own is not None:
        subscription_id = own[1]
    elif named:
        subscription_id = named[0][1]
    else:
        # The batch is already sent (by an earlier task's batch), not due, or leased: this
        # worker drains what else its subscription has waiting, so no task does nothing.
        found = (
            Delivery.objects.filter(pk=delivery_id)
            .values_list("subscription_id", flat=True)
            .first()
        )
        if found is None:
            return False, []
        subscription_id = found
    rows = [row for row in named if row[1] == subscription_id][:size]
    if len(rows) < size:
        rows += list(
            due.filter(subscription_id=subscription_id)
            .exclude(pk__in=[row[0] for row in rows])
            .select_for_update(skip_locked=True)
            .order_by("next_attempt_at", "pk")
            .values_list("pk", "subscription_id", "next_attempt_at")[: size - len(rows)]
        )
    rows.sort(key=lambda row: (row[2], row[0]))
    leased = [row[0] for row in rows]
    if leased:
        Delivery.objects.filter(pk__in=leased).update(
            lease_until=now + conf.lease(), attempts=F("attempts") + 1
        )
    return own is not None, leased


@dataclass
class _Sent:
    """One attempt's outcome, to be recorded."""

    delivery: Delivery
    status_code: int | None
    excerpt: str = ""
    error: str = ""
    duration: int = 0
    final: bool = False  # given up whatever the retry window says


def delivery_attempt(*, delivery_id: int, batch: Sequence[int] = ()) -> str:
    """Send delivery `delivery_id` once if it is due and nobody else is sending it, and with it
    the deliveries of its `batch` (the others its task was enqueued for) and the other due
    deliveries of its subscription waiting behind them (up to `HMS_WEBHOOK_BATCH_SIZE`, 50),
    oldest first, over one connection; record every outcome. When `delivery_id` itself is not
    to be sent, the others still are: a burst of events drains at the pace of the batches.

    Returns the outcome of `delivery_id`: "delivered", "retry", "failed" (given up, or the
    subscription ended) or "skipped" (not due, already done, or leased by another worker).
    The batch stops at the first answer that is not a success, or when half the lease has
    gone: the deliveries not sent are released at once and enqueued again.
    """
    started_batch = time.monotonic()
    own, leased = _lease(delivery_id, timezone.now(), batch)
    if not leased:
        return "skipped"
    found = Delivery.objects.select_related("event", "subscription__client").in_bulk(leased)
    deliveries = [found[pk] for pk in leased]
    subscription = deliveries[0].subscription
    if not (subscription.active and subscription.client.active):
        ended = [_Sent(d, None, error="subscription ended", final=True) for d in deliveries]
        outcomes = _record_all(ended)
        return outcomes[delivery_id] if own else "skipped"
    sender = _Sender(subscription.target_url)
    sent: list[_Sent] = []
    budget = conf.lease().total_seconds() / 2
    try:
        for delivery in deliveries:
            if sent and (not _succeeded(sent[-1]) or time.monotonic() - started_batch > budget):
                break
            sent.append(_send(sender, delivery))
    except targets.TargetRefused as refused:
        # Not a fault that passes: every leased delivery is given up, none retried.
        error = _refusal(refused)
        sent += [_Sent(d, None, error=error, final=True) for d in deliveries[len(sent) :]]
    finally:
        sender.close()
    outcomes = _record_all(sent, released=[d.pk for d in deliveries[len(sent) :]])
    return outcomes.get(delivery_id, "skipped") if own else "skipped"


def _refusal(refused: targets.TargetRefused) -> str:
    """The recorded error of an attempt whose target was refused."""
    if refused.kind in targets.KIND_PHRASES:
        return f"target refused: resolves to {refused.address} ({refused.kind})"
    return f"target refused: {refused.reason}"


def _send(sender: _Sender, delivery: Delivery) -> _Sent:
    subscription = delivery.subscription
    body = event_body(delivery.event)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        signing.EVENT_ID_HEADER: str(delivery.event_id),
        signing.EVENT_TYPE_HEADER: delivery.event.type,
        signing.DELIVERY_HEADER: str(delivery.pk),
        signing.ATTEMPT_HEADER: str(delivery.attempts),
        signing.SIGNATURE_HEADER: signing.signature_header(
            subscription.secret, int(time.time()), body
        ),
    }
    started = time.monotonic()
    status_code, excerpt, error = sender.post(body, headers)
    duration = int((time.monotonic() - started) * 1000)
    return _Sent(delivery, status_code, excerpt, error, duration)


def _succeeded(sent: _Sent) -> bool:
    return sent.status_code is not None and 200 <= sent.status_code < 300


@transaction.atomic
def _record_all(sent: list[_Sent], *, released: list[int] | None = None) -> dict[int, str]:
    """Log every attempt and move each delivery on (delivered, retried later, or given up);
    release the leased deliveries that were not sent. Returns each sent delivery's outcome."""
    now = timezone.now()
    DeliveryAttempt.objects.bulk_create(
        [
            DeliveryAttempt(
                delivery=s.delivery,
                number=s.delivery.attempts,
                started_at=now - timedelta(milliseconds=s.duration),
                duration_ms=s.duration,
                status_code=s.status_code,
                error=s.error,
                response_excerpt=s.excerpt,
            )
            for s in sent
        ]
    )
    outcomes: dict[int, str] = {}
    delivered: dict[int, list[int]] = {}
    for s in sent:
        if _succeeded(s):
            delivered.setdefault(s.status_code or 200, []).append(s.delivery.pk)
            outcomes[s.delivery.pk] = "delivered"
        else:
            outcomes[s.delivery.pk] = _record_failure(s, now)
    for status_code, ids in delivered.items():
        Delivery.objects.filter(pk__in=ids).update(
            status=DeliveryStatus.DELIVERED,
            delivered_at=now,
            lease_until=None,
            last_status_code=status_code,
            last_error="",
        )
    if released:
        Delivery.objects.filter(pk__in=released).update(
            lease_until=None, attempts=F("attempts") - 1
        )
        # Handed back as one batch: its first task leases and sends them all.
        transaction.on_commit(lambda: enqueue_batches([released]))
    return outcomes


def _record_failure(sent: _Sent, now: Any) -> str:
    delivery = sent.delivery
    changes: dict[str, Any] = {
        "lease_until": None,
        "last_status_code": sent.status_code,
        "last_error": sent.error
        or ("" if sent.status_code is None else f"HTTP {sent.status_code}"),
    }
    if sent.final or now >= delivery.give_up_at:
        changes.update(status=DeliveryStatus.FAILED)
        outcome = "failed"
    else:
        wait = backoff(delivery.attempts)
        due = min(now + wait, delivery.give_up_at)
        changes.update(next_attempt_at=due)
        outcome = "retry"
        seconds = max((due - now).total_seconds(), 0)
        transaction.on_commit(lambda: enqueue_each([delivery.pk], countdown=seconds))
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
    hand_over(OUTBOX_WEBHOOKS, [[delivery.pk]], lambda: enqueue_each([delivery.pk]))
    delivery.refresh_from_db()
    return delivery
