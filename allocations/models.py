"""Funds and the claims made on them.

A fund's money lives in the ledger: its available amount is always read from the fund's ledger
account (posted credits less posted and pending debits), never kept on the side. A claim is a
demand on a fund; granting it posts a pending ledger transfer (the obligation) from the fund to
the payee, and paying it posts that transfer.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from governance.models import Program
from ledger.models import Account, Transfer

GRANT_CLAIMS_PERMISSION = "allocations.grant_claims"


class Fund(models.Model):
    """A program's budget, backed by one ledger account that may not be overdrawn."""

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="funds")
    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=200)
    currency = models.CharField(_("currency"), max_length=3, default="USD")
    account = models.OneToOneField(
        Account, on_delete=models.PROTECT, related_name="fund", verbose_name=_("ledger account")
    )
    source_account = models.ForeignKey(
        Account,
        on_delete=models.PROTECT,
        related_name="funded_funds",
        verbose_name=_("appropriation account"),
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        permissions = [("grant_claims", "Grant the fund's waiting claims")]

    def __str__(self) -> str:
        return self.name


class ClaimStatus(models.TextChoices):
    AWAITING_FUNDS = "awaiting_funds", _("Awaiting funds")
    GRANTED = "granted", _("Granted (funds obligated)")
    PAID = "paid", _("Paid")
    CANCELLED = "cancelled", _("Cancelled")


class Claim(models.Model):
    """A demand on a fund for `amount_minor`, payable to `payee_account`.

    `reference` is the subject's opaque reference (a tracking number); allocations does not know
    what a request is.
    """

    fund = models.ForeignKey(Fund, on_delete=models.PROTECT, related_name="claims")
    reference = models.CharField(_("reference"), max_length=64, db_index=True)
    amount_minor = models.BigIntegerField(_("amount asked (minor units)"))
    granted_minor = models.BigIntegerField(_("amount granted (minor units)"), default=0)
    currency = models.CharField(_("currency"), max_length=3)
    payee_account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="claims_payable"
    )
    status = models.CharField(
        _("status"), max_length=16, choices=ClaimStatus.choices, default=ClaimStatus.AWAITING_FUNDS
    )
    obligation = models.OneToOneField(
        Transfer, on_delete=models.PROTECT, null=True, blank=True, related_name="obligated_claim"
    )
    payment = models.OneToOneField(
        Transfer, on_delete=models.PROTECT, null=True, blank=True, related_name="paid_claim"
    )
    explanation = models.TextField(_("explanation"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["fund", "status"], name="allocations_claim_queue_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount_minor__gt=0), name="allocations_claim_amount_positive"
            ),
            models.CheckConstraint(
                condition=Q(granted_minor__gte=0) & Q(granted_minor__lte=models.F("amount_minor")),
                name="allocations_claim_granted_within_asked",
            ),
            models.CheckConstraint(
                condition=Q(status=ClaimStatus.AWAITING_FUNDS, obligation__isnull=True)
                | ~Q(status=ClaimStatus.AWAITING_FUNDS),
                name="allocations_claim_no_obligation_while_waiting",
            ),
        ]

    def __str__(self) -> str:
        return f"Claim {self.reference} on {self.fund}"
