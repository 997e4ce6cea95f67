"""What the bureau keeps about signing in: the security log and each person's known devices."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class SecurityEventKind(models.TextChoices):
    SIGNED_IN = "signed_in", _("Signed in")
    SIGN_IN_FAILED = "sign_in_failed", _("Sign-in failed")
    SIGNED_OUT = "signed_out", _("Signed out")
    MFA_PASSED = "mfa_passed", _("Second factor passed")
    MFA_FAILED = "mfa_failed", _("Second factor failed")
    MFA_ENROLLED = "mfa_enrolled", _("Authenticator added")
    MFA_REMOVED = "mfa_removed", _("Authenticator removed")
    RECOVERY_CODE_USED = "recovery_code_used", _("Recovery code used")
    RECOVERY_CODES_REGENERATED = "recovery_codes_regenerated", _("Recovery codes regenerated")
    REAUTHENTICATED = "reauthenticated", _("Reauthenticated")
    LOCKED_OUT = "locked_out", _("Locked out")
    PASSWORD_CHANGED = "password_changed", _("Password changed")
    PASSWORD_RESET = "password_reset", _("Password reset")
    SESSION_IDLE_EXPIRED = "session_idle_expired", _("Session ended: idle")
    SESSION_LIFETIME_EXPIRED = "session_lifetime_expired", _("Session ended: lifetime")
    NEW_DEVICE = "new_device", _("Sign-in from a new device")


class SecurityEvent(models.Model):
    """One authentication event, as it happened. Append-only: rows are never changed or
    deleted (on PostgreSQL a trigger refuses UPDATE and DELETE); written only through
    `core.services.security.security_event_record`."""

    kind = models.CharField(max_length=32, choices=SecurityEventKind.choices)
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    # What was typed as the login on a failed attempt or a lockout (no user may match it).
    login = models.CharField(max_length=254, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ("-at", "-pk")
        indexes = [models.Index(fields=["user", "-at"], name="core_secevent_user_at")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} at {self.at:%Y-%m-%d %H:%M:%S}"


class KnownDevice(models.Model):
    """A browser family on an address from which a person has signed in; a sign-in from a
    pair not seen before tells its owner. Written once, when first seen, and never changed."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="known_devices"
    )
    agent_family = models.CharField(max_length=64)
    # The address as text ("" when the request named none).
    ip_address = models.CharField(max_length=45, blank=True)
    first_seen = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "agent_family", "ip_address"],
                name="core_knowndevice_one_per_pair",
            )
        ]

    def __str__(self) -> str:
        return f"{self.agent_family} from {self.ip_address or 'an unknown address'}"


class QueuedTask(models.Model):
    """A Celery task a transaction asked for (a staff email, a long admin job), kept in the
    database with that transaction so that no request waits on the broker and nothing is lost
    while the broker is away: `core.outbox.task_enqueue` writes it, and the worker's outbox
    drainer (or, with tasks in-process, the committing request) publishes it and stamps
    `published_at`. Tasks named here are idempotent: a row published twice (a drainer killed
    between the publish and the stamp) does its work once. The task's own effect is recorded
    where it happens; this row only carries it to the broker."""

    name = models.CharField(max_length=200)
    args = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["created_at"],
                name="core_queuedtask_pending",
                condition=models.Q(published_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        state = "published" if self.published_at else "waiting"
        return f"{self.name} ({state})"
