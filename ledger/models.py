"""The double-entry ledger: accounts, immutable transfers and their postings.

A transfer moves an integer amount of minor units of one currency from a debit account to a
credit account. Two-phase transfers reserve first (`pending`) and are later resolved exactly once
by a `post_pending` or `void_pending` transfer. Rows of `Transfer` and `Posting` are written once
and never changed: the ORM refuses it everywhere, PostgreSQL triggers refuse it in the database.
"""

from __future__ import annotations

from typing import Any, NoReturn

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from .chain import GENESIS_HASH

CURRENCY_REGEX = r"^[A-Z]{3}$"
IMMUTABLE_MESSAGE = "Ledger rows are immutable: correct them with a reversing transfer."


# The tables PostgreSQL keeps append-only (UPDATE, DELETE and TRUNCATE refused by triggers,
# migrations 0002, 0005, 0014): the portal's database role may only SELECT and INSERT them.
APPEND_ONLY_TABLES = ("ledger_transfer", "ledger_posting", "ledger_ledgercheckpoint")


class ImmutableRowError(Exception):
    """Raised when code tries to change or delete a ledger row."""


class ImmutableQuerySet(models.QuerySet):
    """A queryset that can read and insert, never update or delete."""

    def update(self, **kwargs: Any) -> NoReturn:
        raise ImmutableRowError(IMMUTABLE_MESSAGE)

    def delete(self) -> NoReturn:
        raise ImmutableRowError(IMMUTABLE_MESSAGE)

    def bulk_update(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise ImmutableRowError(IMMUTABLE_MESSAGE)


class ImmutableModel(models.Model):
    """Base for append-only rows: `save()` inserts once, `delete()` refuses."""

    objects = ImmutableQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ImmutableRowError(IMMUTABLE_MESSAGE)
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise ImmutableRowError(IMMUTABLE_MESSAGE)


class AccountType(models.TextChoices):
    ASSET = "asset", _("Asset")
    LIABILITY = "liability", _("Liability")
    EQUITY = "equity", _("Equity")
    REVENUE = "revenue", _("Revenue")
    EXPENSE = "expense", _("Expense")


class OwnerKind(models.TextChoices):
    BUREAU = "bureau", _("Bureau")
    FUND = "fund", _("Program fund")
    CIVILIAN = "civilian", _("Civilian payee")
    VENDOR = "vendor", _("Vendor")
    AGENCY = "agency", _("Other agency")


class Account(models.Model):
    """A ledger account with running pending and posted totals on each side.

    The totals are caches of the postings, updated in the same transaction as the transfer that
    moves them, so a balance read never sums the whole ledger. Optional limits: with
    `debits_must_not_exceed_credits`, pending plus posted debits may never pass posted credits
    (a fund cannot promise money it has not received); the reverse flag mirrors it.
    """

    code = models.CharField(_("code"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200)
    type = models.CharField(_("type"), max_length=16, choices=AccountType.choices)
    currency = models.CharField(_("currency"), max_length=3)
    owner_kind = models.CharField(_("owner kind"), max_length=16, choices=OwnerKind.choices)
    owner_ref = models.CharField(_("owner reference"), max_length=64, blank=True)
    debits_must_not_exceed_credits = models.BooleanField(default=False)
    credits_must_not_exceed_debits = models.BooleanField(default=False)
    closed = models.BooleanField(_("closed"), default=False)
    debits_pending = models.BigIntegerField(default=0, editable=False)
    debits_posted = models.BigIntegerField(default=0, editable=False)
    credits_pending = models.BigIntegerField(default=0, editable=False)
    credits_posted = models.BigIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords(
        excluded_fields=["debits_pending", "debits_posted", "credits_pending", "credits_posted"]
    )

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(currency__regex=CURRENCY_REGEX), name="ledger_account_currency_iso"
            ),
            models.CheckConstraint(
                condition=Q(debits_pending__gte=0)
                & Q(debits_posted__gte=0)
                & Q(credits_pending__gte=0)
                & Q(credits_posted__gte=0),
                name="ledger_account_totals_not_negative",
            ),
            models.CheckConstraint(
                condition=~Q(
                    debits_must_not_exceed_credits=True, credits_must_not_exceed_debits=True
                ),
                name="ledger_account_one_limit",
            ),
            models.CheckConstraint(
                condition=Q(debits_must_not_exceed_credits=False)
                | Q(debits_pending__lte=models.F("credits_posted") - models.F("debits_posted")),
                name="ledger_account_debits_within_credits",
            ),
            models.CheckConstraint(
                condition=Q(credits_must_not_exceed_debits=False)
                | Q(credits_pending__lte=models.F("debits_posted") - models.F("credits_posted")),
                name="ledger_account_credits_within_debits",
            ),
            models.UniqueConstraint(
                fields=["owner_kind", "owner_ref", "currency"],
                condition=~Q(owner_ref=""),
                name="ledger_account_one_per_owner_currency",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} · {self.name}"

    @property
    def available_minor(self) -> int:
        """What a credit-normal account can still pay out: posted credits less all debits."""
        return self.credits_posted - self.debits_posted - self.debits_pending

    @property
    def posted_balance_minor(self) -> int:
        """Posted credits less posted debits (positive for credit-normal accounts in credit)."""
        return self.credits_posted - self.debits_posted

    @property
    def pending_in_minor(self) -> int:
        """Money promised to this account by pending transfers."""
        return self.credits_pending


class TransferKind(models.TextChoices):
    POSTED = "posted", _("Posted (single phase)")
    PENDING = "pending", _("Pending (reservation)")
    POST_PENDING = "post_pending", _("Posts a pending transfer")
    VOID_PENDING = "void_pending", _("Voids a pending transfer")


RESOLVING_KINDS = (TransferKind.POST_PENDING, TransferKind.VOID_PENDING)


class LedgerHead(models.Model):
    """The single row holding the chain's head: locked by every writer, so sequence numbers are
    gapless and each hash covers the one before it."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    sequence = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64, default=GENESIS_HASH)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=1), name="ledger_head_singleton")]

    def __str__(self) -> str:
        return f"head #{self.sequence} {self.hash[:12]}"


class Transfer(ImmutableModel):
    """One immutable movement of money, chained by SHA-256 to the transfer before it."""

    sequence = models.BigIntegerField(unique=True, editable=False)
    # Unique through Meta.constraints, not `unique=True`: on PostgreSQL a unique or indexed
    # CharField also gets a `varchar_pattern_ops` index for LIKE, which nothing here runs and
    # every insert paid for (as for `reference`).
    idempotency_key = models.CharField(max_length=128)
    kind = models.CharField(max_length=16, choices=TransferKind.choices)
    # `pending` and `reverses` name an earlier transfer; on PostgreSQL the statement-level
    # trigger of migration 0009 checks that on insert (in place of foreign keys: a transfer is
    # never updated or deleted, so the link cannot dangle later).
    pending = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="resolutions",
        db_constraint=False,
    )
    debit_account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="debit_transfers"
    )
    credit_account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="credit_transfers"
    )
    amount_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    expires_at = models.DateTimeField(null=True, blank=True)
    reverses = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reversal",
        db_constraint=False,
    )
    reference = models.CharField(max_length=128, blank=True)
    memo = models.CharField(max_length=255, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField()
    payload_digest = models.CharField(max_length=64)
    prev_hash = models.CharField(max_length=64)
    # Not UNIQUE: it covers the unique sequence number. On PostgreSQL the database checks the
    # link instead: a new transfer's `prev_hash` is the hash of the one numbered before it.
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["sequence"]
        indexes = [models.Index(fields=["reference"], name="ledger_transfer_reference_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["idempotency_key"], name="ledger_transfer_idempotency_key_unique"
            ),
            models.CheckConstraint(
                condition=Q(amount_minor__gt=0), name="ledger_transfer_amount_positive"
            ),
            models.CheckConstraint(
                condition=~Q(debit_account=models.F("credit_account")),
                name="ledger_transfer_two_accounts",
            ),
            models.CheckConstraint(
                condition=Q(currency__regex=CURRENCY_REGEX), name="ledger_transfer_currency_iso"
            ),
            models.CheckConstraint(
                condition=(Q(kind__in=RESOLVING_KINDS) & Q(pending__isnull=False))
                | (~Q(kind__in=RESOLVING_KINDS) & Q(pending__isnull=True)),
                name="ledger_transfer_pending_only_when_resolving",
            ),
            models.UniqueConstraint(
                fields=["pending"],
                condition=Q(kind__in=RESOLVING_KINDS),
                name="ledger_transfer_resolved_once",
            ),
            models.CheckConstraint(
                condition=Q(expires_at__isnull=True) | Q(kind=TransferKind.PENDING),
                name="ledger_transfer_expiry_only_when_pending",
            ),
            models.CheckConstraint(
                condition=Q(reverses__isnull=True) | Q(kind=TransferKind.POSTED),
                name="ledger_transfer_reversal_is_posted",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.kind} {self.amount_minor} {self.currency}"


class PostingSide(models.TextChoices):
    DEBIT = "debit", _("Debit")
    CREDIT = "credit", _("Credit")


class PostingPhase(models.TextChoices):
    PENDING = "pending", _("Pending")
    POSTED = "posted", _("Posted")


def transfer_legs(
    *, kind: str, debit_id: int, credit_id: int, amount_minor: int, reserved_minor: int | None
) -> list[tuple[int, str, str, int]]:
    """The postings a transfer of `kind` writes, as (account id, side, phase, amount): the one
    rule the writer follows and the verifier checks. Resolving a reservation first releases all
    of it (`reserved_minor`, negative pending legs); a post then moves `amount_minor` as posted.
    """
    if kind in (TransferKind.POSTED, TransferKind.PENDING):
        phase = PostingPhase.POSTED if kind == TransferKind.POSTED else PostingPhase.PENDING
        return [
            (debit_id, PostingSide.DEBIT.value, phase.value, amount_minor),
            (credit_id, PostingSide.CREDIT.value, phase.value, amount_minor),
        ]
    if reserved_minor is None:
        raise ValueError("Resolving a reservation needs the amount it reserved.")
    legs = [
        (debit_id, PostingSide.DEBIT.value, PostingPhase.PENDING.value, -reserved_minor),
        (credit_id, PostingSide.CREDIT.value, PostingPhase.PENDING.value, -reserved_minor),
    ]
    if kind == TransferKind.POST_PENDING:
        legs += [
            (debit_id, PostingSide.DEBIT.value, PostingPhase.POSTED.value, amount_minor),
            (credit_id, PostingSide.CREDIT.value, PostingPhase.POSTED.value, amount_minor),
        ]
    return legs


class Posting(ImmutableModel):
    """One leg of a transfer on one account, in the transfer's currency. The legs of a transfer
    balance. On PostgreSQL a statement-level trigger checks every statement that inserts
    postings (migration 0008): each new posting's transfer exists, the posting is on one of that
    transfer's two accounts and in its currency, and each transfer's new legs balance; postings
    are append-only, so every transfer stays balanced. That check stands in for the foreign keys
    (`db_constraint=False` below), set-based instead of one look-up per row: the transfer it
    names cannot be deleted (append-only), and the account is one the transfer's own foreign
    keys protect.

    Resolving a pending transfer writes the reversal of its pending legs (negative amounts) and,
    for a post, the posted legs, so every account total is the sum of its postings.
    """

    transfer = models.ForeignKey(
        Transfer, on_delete=models.PROTECT, related_name="postings", db_constraint=False
    )
    # No index of its own: `ledger_posting_account_idx` (account, transfer) serves it.
    account = models.ForeignKey(
        Account,
        on_delete=models.PROTECT,
        related_name="postings",
        db_constraint=False,
        db_index=False,
    )
    side = models.CharField(max_length=6, choices=PostingSide.choices)
    phase = models.CharField(max_length=7, choices=PostingPhase.choices)
    amount_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)

    class Meta:
        ordering = ["transfer_id", "id"]
        indexes = [models.Index(fields=["account", "transfer"], name="ledger_posting_account_idx")]
        constraints = [
            models.CheckConstraint(
                condition=~Q(amount_minor=0), name="ledger_posting_amount_nonzero"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.side} {self.amount_minor} {self.currency} ({self.phase})"


class LedgerCheckpoint(ImmutableModel):
    """A signed statement of the chain's head at one moment, written at most once an hour
    (`hour`, unique; the daily checkpoints written before hourly ones have no `hour`).

    The signature is HMAC-SHA256 under `HMS_LEDGER_CHECKPOINT_KEY` of
    `"{sequence}:{hash}:{created_at iso}"`; `key_id` (the first 8 hex digits of the key's SHA-256)
    says which key signed it, so a rotated key is recognisable. Whoever holds the key can check an
    exported checkpoint with any HMAC tool, and that the transfer at `sequence` still has `hash`.
    """

    sequence = models.BigIntegerField(editable=False)
    hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(editable=False)
    day = models.DateField(editable=False, help_text="UTC date of created_at")
    hour = models.DateTimeField(
        unique=True,
        null=True,
        editable=False,
        help_text="UTC hour of created_at (its start); empty on the earlier daily checkpoints",
    )
    key_id = models.CharField(max_length=8, editable=False)
    signature = models.CharField(max_length=64, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["sequence", "created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(sequence__gte=0), name="ledger_checkpoint_sequence_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"checkpoint #{self.sequence} {self.hash[:12]} ({self.day})"


# -- Clearing and settlement --------------------------------------------------------------------

PARTICIPANT_KINDS = (OwnerKind.CIVILIAN, OwnerKind.VENDOR, OwnerKind.AGENCY)
ERR_ROUTING_NUMBER = (
    "{value} is not a valid routing number: it needs 9 digits and a right check digit."
)
ERR_ACCOUNT_NUMBER = "An account number is 1 to 17 letters or digits."
ERR_BANK_PARTICIPANT = "Only civilian, vendor and agency accounts take part in clearing."


class BankAccountType(models.TextChoices):
    CHECKING = "checking", _("Checking")
    SAVINGS = "savings", _("Savings")


class HolderKind(models.TextChoices):
    """Who holds the bank account: an individual is paid in a PPD batch, an organisation in CCD."""

    INDIVIDUAL = "individual", _("Individual (PPD)")
    ORGANISATION = "organisation", _("Organisation (CCD)")


class BankAccount(models.Model):
    """The bank account a participant's ledger account settles to (one per ledger account).

    The full account number is stored for the ACH file and shown nowhere else: admin pages show
    `account_number_masked`, and history keeps only the masked form (the full number is left out
    of the historical table, so the history pages cannot leak it either).
    """

    account = models.OneToOneField(Account, on_delete=models.PROTECT, related_name="bank_account")
    holder_name = models.CharField(_("holder name"), max_length=100)
    holder_kind = models.CharField(_("holder kind"), max_length=12, choices=HolderKind.choices)
    routing_number = models.CharField(_("routing number"), max_length=9)
    account_number = models.CharField(_("account number"), max_length=17)
    account_number_masked = models.CharField(_("account number"), max_length=8, editable=False)
    account_type = models.CharField(
        _("account type"), max_length=8, choices=BankAccountType.choices
    )
    identification = models.CharField(
        _("identification"), max_length=15, blank=True, help_text=_("Receiver id in the file.")
    )
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(excluded_fields=["account_number"])

    class Meta:
        ordering = ["account__code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(routing_number__regex=r"^[0-9]{9}$"),
                name="ledger_bankaccount_routing_digits",
            ),
            models.CheckConstraint(
                condition=Q(account_number__regex=r"^[0-9A-Za-z]{1,17}$"),
                name="ledger_bankaccount_account_number_format",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.holder_name} {self.account_number_masked}"

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        from .ach import mask_account_number, routing_number_is_valid

        errors: dict[str, str] = {}
        if not routing_number_is_valid(self.routing_number or ""):
            errors["routing_number"] = ERR_ROUTING_NUMBER.format(value=self.routing_number)
        number = self.account_number or ""
        if not (1 <= len(number) <= 17 and number.isascii() and number.isalnum()):
            errors["account_number"] = ERR_ACCOUNT_NUMBER
        if self.account_id and self.account.owner_kind not in PARTICIPANT_KINDS:
            errors["account"] = ERR_BANK_PARTICIPANT
        if errors:
            raise ValidationError(errors)
        self.account_number_masked = mask_account_number(number)


class CycleStatus(models.TextChoices):
    OPEN = "open", _("Open")
    CLOSED = "closed", _("Closed")
    SETTLED = "settled", _("Settled")


class ClearingCycle(models.Model):
    """A clearing cycle: the posted transfers of participants up to a cut, netted and settled.

    open → closed (transfers claimed, net positions fixed) → settled (one settlement transfer
    per participant with a non-zero net, and a NACHA file built from them). The originating
    bank's details are copied in when the cycle opens, so the file never depends on settings
    changed later; its creation date and time come from `closed_at`, never the clock.

    Closing claims a contiguous range of the gapless transfer sequence, `first_sequence` to
    `last_sequence`: from just after the range of the cycle of the same currency closed before
    it, to the last transfer created before `window_end`. The cycle's transfers are the
    clearing transfers in that range (`selectors.cycle_transfers`), so each transfer belongs to one
    cycle by construction: ranges of one currency never overlap (on PostgreSQL an exclusion
    constraint, migration 0012, refuses any that would) and follow each other without gaps.
    A cycle that claims nothing (no transfer since the last one's range) has no range.
    """

    window_start = models.DateTimeField(_("window start"))
    window_end = models.DateTimeField(_("window end"), help_text=_("Exclusive."))
    currency = models.CharField(_("currency"), max_length=3, default="USD")
    status = models.CharField(
        _("status"), max_length=8, choices=CycleStatus.choices, default=CycleStatus.OPEN
    )
    odfi_routing = models.CharField(_("ODFI routing number"), max_length=9)
    destination_name = models.CharField(_("destination name"), max_length=23)
    origin_name = models.CharField(_("origin name"), max_length=23)
    company_name = models.CharField(_("company name"), max_length=16)
    company_identification = models.CharField(_("company identification"), max_length=10)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True, editable=False)
    settled_at = models.DateTimeField(_("settled at"), null=True, blank=True, editable=False)
    first_sequence = models.BigIntegerField(
        _("first transfer"), null=True, blank=True, editable=False, help_text=_("Sequence number.")
    )
    last_sequence = models.BigIntegerField(
        _("last transfer"), null=True, blank=True, editable=False, help_text=_("Sequence number.")
    )
    transfer_count = models.PositiveIntegerField(default=0, editable=False)
    participant_count = models.PositiveIntegerField(default=0, editable=False)
    settlement_credit_minor = models.BigIntegerField(default=0, editable=False)
    settlement_debit_minor = models.BigIntegerField(default=0, editable=False)
    ach_file = models.FileField(_("ACH file"), upload_to="ach/", blank=True, editable=False)
    ach_sha256 = models.CharField(_("ACH file SHA-256"), max_length=64, blank=True, editable=False)
    progress_done = models.PositiveIntegerField(default=0, editable=False)
    progress_total = models.PositiveIntegerField(default=0, editable=False)
    progress_note = models.CharField(max_length=200, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords(
        excluded_fields=["progress_done", "progress_total", "progress_note"]
    )

    class Meta:
        ordering = ["-window_end", "-id"]
        permissions = [
            ("settle_clearingcycle", "Can close and settle clearing cycles"),
            ("download_ach_file", "Can generate and download ACH files"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(window_start__lt=models.F("window_end")),
                name="ledger_clearingcycle_window_ordered",
            ),
            models.CheckConstraint(
                condition=Q(currency__regex=CURRENCY_REGEX),
                name="ledger_clearingcycle_currency_iso",
            ),
            models.CheckConstraint(
                condition=Q(status=CycleStatus.OPEN) | Q(closed_at__isnull=False),
                name="ledger_clearingcycle_closed_has_time",
            ),
            models.CheckConstraint(
                condition=Q(first_sequence__isnull=True, last_sequence__isnull=True)
                | Q(first_sequence__gte=1, last_sequence__gte=models.F("first_sequence")),
                name="ledger_clearingcycle_range_ordered",
            ),
            models.CheckConstraint(
                condition=~Q(status=CycleStatus.OPEN) | Q(first_sequence__isnull=True),
                name="ledger_clearingcycle_open_claims_nothing",
            ),
        ]

    def __str__(self) -> str:
        return f"Cycle {self.pk} {self.window_start:%Y-%m-%d} to {self.window_end:%Y-%m-%d}"


class NetPosition(models.Model):
    """An account's multilateral net in a cycle: credits less debits of the cycle's transfers.

    Positive: the bureau owes the account's owner (paid by an ACH credit); negative: the owner
    owes (collected by an ACH debit). The positions of a cycle sum to zero (checked when the
    cycle closes). Only participants are settled; bureau accounts' positions are shown so the
    sum can be checked and the file's net tied to the bureau's side.
    """

    cycle = models.ForeignKey(ClearingCycle, on_delete=models.PROTECT, related_name="positions")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")
    participant = models.BooleanField(default=True)
    net_minor = models.BigIntegerField()
    settlement_transfer = models.OneToOneField(
        Transfer, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["cycle", "account"]
        constraints = [
            models.UniqueConstraint(
                fields=["cycle", "account"], name="ledger_netposition_one_per_account"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_id}: {self.net_minor}"
