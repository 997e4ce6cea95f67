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
from django_fsm import FSMField, transition
from simple_history.models import HistoricalRecords

from governance.models import ApprovalCase, Program
from ledger.models import Account, Transfer

from . import rules

GRANT_CLAIMS_PERMISSION = "allocations.grant_claims"
RUN_ROUND_PERMISSION = "allocations.run_round"
COMMIT_ROUND_PERMISSION = "allocations.commit_round"


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
    allocates_by_round = models.BooleanField(
        _("allocates by round"),
        default=False,
        help_text=_(
            "New claims wait for the next allocation round instead of being granted in full "
            "as they arrive."
        ),
    )

    # Who answers for the fund's money: separation of duties keeps them from approving the
    # fund's allocation rounds (`governance.models.Duty.APPROVE_OWN_FUND_ROUND`).
    officers = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="funds_as_officer",
        verbose_name=_("finance officers"),
    )

    history = HistoricalRecords(m2m_fields=[officers])

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
    # The terms an allocation round reads (set by finance officers before the round freezes).
    weight = models.PositiveIntegerField(_("weight"), default=1)
    priority = models.PositiveSmallIntegerField(
        _("priority class"), default=0, help_text=_("Lower classes are served first.")
    )
    floor_minor = models.BigIntegerField(_("guaranteed minimum (minor units)"), default=0)
    cap_minor = models.BigIntegerField(_("cap (minor units)"), null=True, blank=True)
    eligible = models.BooleanField(_("eligible"), default=True)
    exclusion_reason = models.CharField(
        _("reason for exclusion"),
        max_length=200,
        blank=True,
        help_text=_("Published with the round: no personal data."),
    )
    round = models.ForeignKey(
        "AllocationRound",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="claims",
        verbose_name=_("allocation round"),
        help_text=_("The round holding this claim (a claim is in at most one open round)."),
    )
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
                condition=Q(weight__gte=1), name="allocations_claim_weight_positive"
            ),
            models.CheckConstraint(
                condition=Q(floor_minor__gte=0) & Q(floor_minor__lte=models.F("amount_minor")),
                name="allocations_claim_floor_within_asked",
            ),
            models.CheckConstraint(
                condition=Q(cap_minor__isnull=True)
                | (Q(cap_minor__gt=0) & Q(cap_minor__gte=models.F("floor_minor"))),
                name="allocations_claim_cap_above_floor",
            ),
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


class RoundState(models.TextChoices):
    DRAFT = "draft", _("Draft")
    OPEN = "open", _("Open (claims gathered)")
    FROZEN = "frozen", _("Frozen")
    COMPUTED = "computed", _("Computed")
    UNDER_APPROVAL = "under_approval", _("Under approval")
    APPROVED = "approved", _("Approved")
    COMMITTED = "committed", _("Committed")
    CANCELLED = "cancelled", _("Cancelled")


RULE_CHOICES = [(rule, label) for rule, label in rules.LABELS.items()]
TIEBREAK_CHOICES = [
    ("submitted", _("Earliest submitted first")),
    ("key", _("Lowest claim number first")),
    ("random", _("Random order from a published seed")),
]
CANCELLABLE = [
    RoundState.DRAFT,
    RoundState.OPEN,
    RoundState.FROZEN,
    RoundState.COMPUTED,
    RoundState.APPROVED,
]


class AllocationRound(models.Model):
    """A division of part of a fund among its waiting claims by a rule chosen in advance.

    draft → open (claims gathered) → frozen (inputs serialised, hashed) → computed (grants and
    their explanations, from the snapshot only) → under approval (a governance case) →
    approved → committed (one pending ledger transfer per grant). Any state before commit may
    end in cancelled; a committed round is final: changes are made by a new round. `state` is a
    protected state machine changed only by `allocations.services`.
    """

    fund = models.ForeignKey(
        Fund, on_delete=models.PROTECT, related_name="rounds", verbose_name=_("fund")
    )
    name = models.CharField(_("name"), max_length=200)
    budget_minor = models.BigIntegerField(_("budget (minor units)"))
    currency = models.CharField(_("currency"), max_length=3)
    rule = models.CharField(_("rule"), max_length=32, choices=RULE_CHOICES)
    params = models.JSONField(_("rule parameters"), default=dict, blank=True)
    tiebreak = models.CharField(
        _("tie-break"), max_length=16, choices=TIEBREAK_CHOICES, default="submitted"
    )
    tiebreak_seed = models.CharField(_("tie-break seed"), max_length=64, blank=True)
    state = FSMField(
        _("state"),
        max_length=20,
        choices=RoundState.choices,
        default=RoundState.DRAFT,
        protected=True,
    )
    input_sha256 = models.CharField(_("input hash (SHA-256)"), max_length=64, blank=True)
    result_sha256 = models.CharField(_("result hash (SHA-256)"), max_length=64, blank=True)
    granted_minor = models.BigIntegerField(_("granted (minor units)"), default=0)
    metrics = models.JSONField(_("metrics"), default=dict, blank=True)
    approval_case = models.ForeignKey(
        ApprovalCase,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="allocation_rounds",
        verbose_name=_("approval case"),
    )
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    progress_note = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    frozen_at = models.DateTimeField(_("frozen"), null=True, blank=True)
    computed_at = models.DateTimeField(_("computed"), null=True, blank=True)
    committed_at = models.DateTimeField(_("committed"), null=True, blank=True)

    history = HistoricalRecords(
        excluded_fields=["progress_done", "progress_total", "progress_note", "metrics"]
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        permissions = [
            ("run_round", "Open, freeze, compute and send allocation rounds for approval"),
            ("commit_round", "Commit approved allocation rounds into the ledger"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(budget_minor__gte=0), name="allocations_round_budget_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(granted_minor__gte=0) & Q(granted_minor__lte=models.F("budget_minor")),
                name="allocations_round_granted_within_budget",
            ),
            models.CheckConstraint(
                condition=~Q(
                    state__in=["frozen", "computed", "under_approval", "approved", "committed"]
                )
                | ~Q(input_sha256=""),
                name="allocations_round_frozen_has_hash",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def uses_ballots(self) -> bool:
        return self.rule in rules.BALLOT_RULES

    # Transitions: the graph of what may follow what. `allocations.services` calls them.
    @transition(field=state, source=RoundState.DRAFT, target=RoundState.OPEN)
    def open(self) -> None:
        """Claims are gathered."""

    @transition(field=state, source=RoundState.OPEN, target=RoundState.FROZEN)
    def freeze(self) -> None:
        """Inputs are serialised and hashed."""

    @transition(field=state, source=RoundState.FROZEN, target=RoundState.COMPUTED)
    def compute(self) -> None:
        """Grants computed from the snapshot."""

    @transition(field=state, source=RoundState.COMPUTED, target=RoundState.UNDER_APPROVAL)
    def send_for_approval(self) -> None:
        """A governance case is opened."""

    @transition(field=state, source=RoundState.UNDER_APPROVAL, target=RoundState.APPROVED)
    def approve(self) -> None:
        """The case was approved."""

    @transition(field=state, source=RoundState.UNDER_APPROVAL, target=RoundState.COMPUTED)
    def return_to_computed(self) -> None:
        """The case was returned or recalled: the round may be sent again."""

    @transition(field=state, source=RoundState.APPROVED, target=RoundState.COMMITTED)
    def commit(self) -> None:
        """Pending transfers posted."""

    @transition(
        field=state,
        source=[*CANCELLABLE, RoundState.UNDER_APPROVAL],
        target=RoundState.CANCELLED,
    )
    def cancel(self) -> None:
        """Ended without commitment (or the case was rejected)."""


class RoundSnapshot(models.Model):
    """A round's frozen inputs: the canonical JSON bytes (as UTF-8 text) and their SHA-256.
    Written once at freeze, never changed (the round's history records the hash)."""

    round = models.OneToOneField(AllocationRound, on_delete=models.PROTECT, related_name="snapshot")
    data = models.TextField(_("canonical JSON"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    claims = models.PositiveIntegerField(_("claims"))
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Snapshot {self.sha256[:12]} of {self.round}"

    def save(self, *args: object, **kwargs: object) -> None:
        if not self._state.adding:
            raise ValueError("A round's snapshot is written once.")
        super().save(*args, **kwargs)  # type: ignore[arg-type]


class AllocationBallot(models.Model):
    """One voter's approval ballot in a participatory round. `voter_ref` is an opaque,
    pseudonymous reference (a keyed hash): one ballot per voter, replaced if cast again while
    the round is open; each version is kept in its history."""

    round = models.ForeignKey(AllocationRound, on_delete=models.PROTECT, related_name="ballots")
    voter_ref = models.CharField(_("voter"), max_length=64)
    approvals = models.JSONField(_("approved claims"), default=list)
    cast_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["round", "voter_ref"], name="allocations_ballot_once_per_voter"
            )
        ]

    def __str__(self) -> str:
        return f"Ballot in {self.round}"


class AllocationGrant(models.Model):
    """What a round gives one claim, and why. Written when the round is computed; committing
    the round posts the pending ledger transfer of each positive grant as its claim's
    `obligation` (`obligation` below reads it). `line` is the claim's public, anonymous number
    in the round (by claim number)."""

    round = models.ForeignKey(AllocationRound, on_delete=models.PROTECT, related_name="grants")
    claim = models.ForeignKey(Claim, on_delete=models.PROTECT, related_name="round_grants")
    line = models.PositiveIntegerField(_("line"))
    asked_minor = models.BigIntegerField(_("asked (minor units)"))
    granted_minor = models.BigIntegerField(_("granted (minor units)"))
    code = models.PositiveSmallIntegerField(_("reason code"))
    explanation = models.TextField(_("explanation"))

    class Meta:
        ordering = ["round", "line"]
        constraints = [
            models.UniqueConstraint(fields=["round", "claim"], name="allocations_grant_once"),
            models.UniqueConstraint(fields=["round", "line"], name="allocations_grant_line"),
            models.CheckConstraint(
                condition=Q(granted_minor__gte=0) & Q(granted_minor__lte=models.F("asked_minor")),
                name="allocations_grant_within_asked",
            ),
        ]

    def __str__(self) -> str:
        return f"Line {self.line} of {self.round}"

    @property
    def obligation(self) -> Transfer | None:
        """The pending transfer this grant became (None before commit, or for a zero grant)."""
        if self.granted_minor <= 0 or self.round.state != "committed":
            return None
        return self.claim.obligation if self.claim.round_id == self.round_id else None
