"""The bureau's other systems: API clients, their webhook subscriptions, and the webhook outbox.

An API client is a django-oauth-toolkit `Application` (client credentials) plus an `ApiClient`
row: the scopes the bureau grants it, its rate limit, and whether it is still allowed. The client
acts for `Application.user` (its service account, or the person it works for), so it sees and
does exactly what that user may on the screens.

Webhooks are an outbox: `Event` and one `Delivery` per matching subscription are written in the
transaction that made the event happen; Celery sends them afterwards and logs each
`DeliveryAttempt`. A broker or receiver that is down delays a delivery, never loses it.
"""

from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from oauth2_provider.settings import oauth2_settings
from simple_history.models import HistoricalRecords


def _default_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


class ApiClient(models.Model):
    """What the bureau allows one OAuth client: scopes, rate, and whether it may still call.

    Revoking (`integrations.services.client_revoke`) sets `active` off and deletes its tokens;
    the row and its history stay, so past calls remain attributable.
    """

    application = models.OneToOneField(
        oauth2_settings.APPLICATION_MODEL,
        on_delete=models.PROTECT,
        related_name="api_client",
        verbose_name=_("OAuth application"),
    )
    scopes = models.CharField(
        _("scopes"),
        max_length=500,
        blank=True,
        help_text=_("Space-separated scopes the client may ask for, e.g. requests:read."),
    )
    rate = models.CharField(
        _("rate limit"),
        max_length=20,
        blank=True,
        help_text=_("Calls per second, minute, hour or day, e.g. 600/min. Blank: the default."),
    )
    open311_key_sha256 = models.CharField(
        _("Open311 API key (SHA-256)"),
        max_length=64,
        unique=True,
        null=True,
        blank=True,
        editable=False,
        help_text=_("The digest of the api_key this client sends to POST Open311 requests."),
    )
    active = models.BooleanField(_("active"), default=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("API client")
        constraints = [
            models.CheckConstraint(
                condition=Q(active=True) | Q(revoked_at__isnull=False),
                name="integrations_apiclient_revoked_has_time",
            ),
            models.CheckConstraint(
                condition=Q(rate="") | Q(rate__regex=r"^[0-9]+/(s|sec|m|min|h|hour|d|day)$"),
                name="integrations_apiclient_rate_format",
            ),
        ]

    def __str__(self) -> str:
        return str(self.application.name or self.application.client_id)

    @property
    def scope_list(self) -> list[str]:
        known = oauth2_settings.SCOPES
        return [s for s in self.scopes.split() if s in known]


class EventType(models.TextChoices):
    REQUEST_SUBMITTED = "request.submitted", _("Request submitted")
    REQUEST_STATUS_CHANGED = "request.status_changed", _("Request status changed")
    CASE_DECIDED = "case.decided", _("Approval case decided")
    ROUND_COMMITTED = "round.committed", _("Allocation round committed")
    TRANSFER_POSTED = "transfer.posted", _("Ledger transfer posted")
    CYCLE_SETTLED = "cycle.settled", _("Clearing cycle settled")


class Subscription(models.Model):
    """A client's wish to be told of some event types at a URL, signed with `secret`."""

    client = models.ForeignKey(
        ApiClient, on_delete=models.PROTECT, related_name="subscriptions", verbose_name=_("client")
    )
    event_types = models.JSONField(_("event types"), default=list)
    target_url = models.URLField(_("target URL"), max_length=500)
    secret = models.CharField(_("signing secret"), max_length=100, default=_default_secret)
    description = models.CharField(_("description"), max_length=200, blank=True)
    active = models.BooleanField(_("active"), default=True)
    idempotency_key = models.CharField(max_length=128, null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    history = HistoricalRecords(excluded_fields=["secret"])

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["client", "idempotency_key"], name="integrations_subscription_key_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.client} → {self.target_url}"


class Event(models.Model):
    """One thing that happened, as receivers see it. `id` is what receivers drop duplicates by.
    Written once, never changed."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    type = models.CharField(_("type"), max_length=40, choices=EventType.choices)
    payload = models.JSONField(_("data"), encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(_("created"), default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.type} {self.id}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Given up")


class Delivery(models.Model):
    """One event to one subscription: the outbox row the task sends until a 2xx or the window
    closes. `lease_until` keeps a second worker off a delivery that is being sent."""

    event = models.ForeignKey(Event, on_delete=models.PROTECT, related_name="deliveries")
    subscription = models.ForeignKey(
        Subscription, on_delete=models.PROTECT, related_name="deliveries"
    )
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=DeliveryStatus.choices,
        default=DeliveryStatus.PENDING,
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), default=timezone.now)
    give_up_at = models.DateTimeField(_("retried until"))
    lease_until = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)
    last_status_code = models.PositiveIntegerField(_("last HTTP status"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=300, blank=True)
    replayed_at = models.DateTimeField(_("replayed"), null=True, blank=True)
    replayed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name_plural = _("deliveries")
        ordering = ["-created_at", "-pk"]
        permissions = [("replay_delivery", "Replay webhook deliveries")]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "subscription"], name="integrations_delivery_once"
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="integrations_delivery_due_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event.type} → {self.subscription.target_url}"


class DeliveryAttempt(models.Model):
    """One try at sending a delivery, with what the receiver answered. Append-only."""

    delivery = models.ForeignKey(Delivery, on_delete=models.PROTECT, related_name="attempt_log")
    number = models.PositiveIntegerField(_("attempt"))
    started_at = models.DateTimeField(_("started"), default=timezone.now)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), default=0)
    status_code = models.PositiveIntegerField(_("HTTP status"), null=True, blank=True)
    error = models.CharField(_("error"), max_length=300, blank=True)
    response_excerpt = models.CharField(_("response"), max_length=500, blank=True)

    class Meta:
        ordering = ["delivery", "number"]

    def __str__(self) -> str:
        return f"{self.delivery_id} #{self.number}"

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class DataImportOutcome(models.TextChoices):
    IMPORTED = "imported", _("Imported")
    CHECKED = "checked", _("Checked (dry run), nothing written")
    REFUSED = "refused", _("Refused, nothing written")


class DataImport(models.Model):
    """One run of a data migration import (`integrations.dataio`): who ran it, on which file,
    and what it found: the outcome counts and every problem, by line, column and reason.

    Written once at the end of the run, outside the import's own transaction, so a refused or
    dry run leaves this record and nothing else. Never changed or deleted.
    """

    kind = models.CharField(_("kind"), max_length=32)
    file_name = models.CharField(_("file"), max_length=255)
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    size = models.PositiveBigIntegerField(_("size in bytes"))
    dry_run = models.BooleanField(_("dry run"))
    outcome = models.CharField(_("outcome"), max_length=10, choices=DataImportOutcome.choices)
    rows = models.PositiveIntegerField(_("rows"), default=0)
    counts = models.JSONField(_("counts"), default=dict, encoder=DjangoJSONEncoder)
    problems = models.JSONField(_("problems"), default=list, encoder=DjangoJSONEncoder)
    message = models.TextField(_("message"), blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("run by"),
    )
    created_at = models.DateTimeField(_("run at"), default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("data import")
        verbose_name_plural = _("data imports")
        permissions = [
            ("import_data", "Import data from CSV and XLSX files"),
            ("export_data", "Export data to CSV and XLSX files"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} · {self.file_name} · {self.get_outcome_display()}"
