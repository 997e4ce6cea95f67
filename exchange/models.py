"""Exchange rounds: participants each hold one indivisible item (a home, a market stall, a
permit slot, a shift pattern), rank the others' items they would accept, and a rule finds
cycles of swaps in which everyone who moves gets something they prefer to what they hold.

draft → open (items listed, rankings taken inside the window) → frozen (canonical JSON of the
items and rankings by item number, hashed) → solved (cycles and explanations from the snapshot
alone) → under approval (one governance case per cycle) → approved (every cycle decided) →
committed (each approved cycle's money moved as one all-or-nothing ledger batch). Any state
before commit may end in cancelled. `state` is a protected state machine changed only by
`exchange.services`.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, transition
from simple_history.models import HistoricalRecords

from governance.models import ApprovalCase, Program
from ledger.models import Account

RUN_EXCHANGE_PERMISSION = "exchange.run_exchange"
COMMIT_EXCHANGE_PERMISSION = "exchange.commit_exchange"


class ItemKind(models.TextChoices):
    HOME = "home", _("Home")
    STALL = "stall", _("Market stall")
    SLOT = "slot", _("Permit slot")
    SHIFT = "shift", _("Shift pattern")
    OTHER = "other", _("Other")


class ExchangeRule(models.TextChoices):
    TTC = "ttc", _("Top trading cycles")
    BEST_SWAPS = "best_swaps", _("Most swaps with a cycle-length cap")


class ExchangeState(models.TextChoices):
    DRAFT = "draft", _("Draft")
    OPEN = "open", _("Open for listing and ranking")
    FROZEN = "frozen", _("Frozen")
    SOLVED = "solved", _("Solved")
    UNDER_APPROVAL = "under_approval", _("Under approval")
    APPROVED = "approved", _("Approved")
    COMMITTED = "committed", _("Committed")
    CANCELLED = "cancelled", _("Cancelled")


SOLVED_STATES = (
    ExchangeState.SOLVED,
    ExchangeState.UNDER_APPROVAL,
    ExchangeState.APPROVED,
    ExchangeState.COMMITTED,
)


class ExchangeRound(models.Model):
    """A round of swaps among the holders of one kind of item, under a rule chosen in advance.

    Participants list their item and rank the others between `opens_at` and `closes_at`. The
    snapshot in force is the latest `ExchangeSnapshot`; `input_sha256` repeats its hash.
    """

    program = models.ForeignKey(
        Program, on_delete=models.PROTECT, related_name="exchange_rounds", verbose_name=_("program")
    )
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    item_kind = models.CharField(
        _("kind of item"), max_length=16, choices=ItemKind.choices, default=ItemKind.HOME
    )
    rule = models.CharField(
        _("rule"), max_length=16, choices=ExchangeRule.choices, default=ExchangeRule.TTC
    )
    max_cycle = models.PositiveSmallIntegerField(
        _("longest cycle"),
        default=3,
        help_text=_("For the most-swaps rule: the most people in one cycle of swaps."),
    )
    seed = models.PositiveIntegerField(
        _("published seed"), default=0, help_text=_("Breaks ties among equally good solutions.")
    )
    currency = models.CharField(_("currency"), max_length=3, default="USD")
    settlement_account = models.ForeignKey(
        Account,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("settlement account"),
        help_text=_("The bureau's account on the other side of deposits, differences and fees."),
    )
    opens_at = models.DateTimeField(_("ranking opens"))
    closes_at = models.DateTimeField(_("ranking closes"))
    state = FSMField(
        _("state"),
        max_length=20,
        choices=ExchangeState.choices,
        default=ExchangeState.DRAFT,
        protected=True,
    )
    input_sha256 = models.CharField(_("input hash (SHA-256)"), max_length=64, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    solved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    solved_at = models.DateTimeField(_("solved"), null=True, blank=True)
    committed_at = models.DateTimeField(_("committed"), null=True, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at", "-pk"]
        permissions = [
            ("run_exchange", "Open, freeze, solve and send exchange rounds for approval"),
            ("commit_exchange", "Commit approved exchange rounds"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(closes_at__gt=models.F("opens_at")),
                name="exchange_round_window_ordered",
            ),
            models.CheckConstraint(
                condition=Q(max_cycle__gte=2), name="exchange_round_max_cycle_at_least_two"
            ),
            models.CheckConstraint(
                condition=Q(state__in=["draft", "open", "cancelled"]) | ~Q(input_sha256=""),
                name="exchange_round_frozen_has_hash",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @transition(field=state, source=ExchangeState.DRAFT, target=ExchangeState.OPEN)
    def open(self) -> None:
        """Participants may list and rank."""

    @transition(field=state, source=ExchangeState.OPEN, target=ExchangeState.FROZEN)
    def freeze(self) -> None:
        """Items and rankings serialised and hashed."""

    @transition(field=state, source=ExchangeState.FROZEN, target=ExchangeState.SOLVED)
    def solve(self) -> None:
        """Cycles found from the snapshot."""

    @transition(field=state, source=ExchangeState.SOLVED, target=ExchangeState.UNDER_APPROVAL)
    def send_for_approval(self) -> None:
        """One approval case per cycle."""

    @transition(field=state, source=ExchangeState.UNDER_APPROVAL, target=ExchangeState.APPROVED)
    def approve(self) -> None:
        """Every cycle's case is decided."""

    @transition(field=state, source=ExchangeState.APPROVED, target=ExchangeState.UNDER_APPROVAL)
    def reopen_approval(self) -> None:
        """A withdrawal re-solved part of the round: its new cycles need approval."""

    @transition(field=state, source=ExchangeState.APPROVED, target=ExchangeState.COMMITTED)
    def commit(self) -> None:
        """Every approved cycle committed."""

    @transition(
        field=state,
        source=[
            ExchangeState.DRAFT,
            ExchangeState.OPEN,
            ExchangeState.FROZEN,
            ExchangeState.SOLVED,
        ],
        target=ExchangeState.CANCELLED,
    )
    def cancel(self) -> None:
        """Ended without any swap."""


class ExchangeItem(models.Model):
    """The one item a participant brings to a round. `amount_minor` is what the holder pays
    (positive) or receives (negative) on moving: a deposit, a rent difference, a fee; `account`
    is the holder's ledger account it moves through. Withdrawn items stay, for the record."""

    round = models.ForeignKey(ExchangeRound, on_delete=models.PROTECT, related_name="items")
    holder = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="exchange_items"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=ItemKind.choices)
    title = models.CharField(
        _("title"),
        max_length=120,
        help_text=_("Published with the results: describe the item, not the person."),
    )
    description = models.TextField(_("description"), blank=True)
    attributes = models.JSONField(_("attributes"), default=dict, blank=True)
    photo = models.FileField(_("photo"), upload_to="exchange/photos/", blank=True)
    amount_minor = models.BigIntegerField(_("paid on moving (minor units)"), default=0)
    account = models.ForeignKey(
        Account,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("holder's ledger account"),
    )
    withdrawn_at = models.DateTimeField(_("withdrawn"), null=True, blank=True)
    created_at = models.DateTimeField(_("listed"), auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["round", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["round", "holder"], name="exchange_item_one_per_holder"
            ),
            models.CheckConstraint(
                condition=Q(amount_minor=0) | Q(account__isnull=False),
                name="exchange_item_money_has_account",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class ExchangeRanking(models.Model):
    """One line of a participant's ranking: the holder of `item` would accept `ranked`, at
    `position` (1 = most wanted). Items not ranked are unacceptable."""

    item = models.ForeignKey(ExchangeItem, on_delete=models.PROTECT, related_name="rankings")
    ranked = models.ForeignKey(ExchangeItem, on_delete=models.PROTECT, related_name="ranked_by")
    position = models.PositiveSmallIntegerField(_("position"))

    history = HistoricalRecords()

    class Meta:
        ordering = ["item", "position"]
        constraints = [
            models.UniqueConstraint(fields=["item", "ranked"], name="exchange_ranking_once"),
            models.UniqueConstraint(fields=["item", "position"], name="exchange_ranking_position"),
            models.CheckConstraint(
                condition=~Q(item=models.F("ranked")), name="exchange_ranking_not_own"
            ),
            models.CheckConstraint(
                condition=Q(position__gte=1), name="exchange_ranking_position_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.item} ranks {self.ranked} #{self.position}"


class ExchangeSnapshot(models.Model):
    """A round's frozen input (canonical JSON) and its SHA-256. The first is written at freeze;
    each withdrawal after it writes another for the participants re-solved. Written once."""

    round = models.ForeignKey(ExchangeRound, on_delete=models.PROTECT, related_name="snapshots")
    data = models.TextField(_("canonical JSON"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    participants = models.PositiveIntegerField(_("participants"))
    reason = models.CharField(_("reason"), max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["round", "pk"]

    def __str__(self) -> str:
        return f"Snapshot {self.sha256[:12]} of {self.round}"

    def save(self, *args: object, **kwargs: object) -> None:
        if not self._state.adding:
            raise ValueError("An exchange snapshot is written once.")
        super().save(*args, **kwargs)  # type: ignore[arg-type]


class CycleStatus(models.TextChoices):
    PROPOSED = "proposed", _("Proposed")
    UNDER_APPROVAL = "under_approval", _("Under approval")
    APPROVED = "approved", _("Approved")
    DECLINED = "declined", _("Declined")
    BROKEN = "broken", _("Broken by a withdrawal")
    COMMITTED = "committed", _("Committed")


LIVE_CYCLE_STATUSES = (CycleStatus.PROPOSED, CycleStatus.UNDER_APPROVAL, CycleStatus.APPROVED)


class ExchangeCycle(models.Model):
    """One cycle of swaps found by a solve: each member receives the next member's item.
    `number` is its public number in the round; `formed_in` the top-trading-cycles round in
    which it formed (1 for the most-swaps rule)."""

    round = models.ForeignKey(ExchangeRound, on_delete=models.PROTECT, related_name="cycles")
    snapshot = models.ForeignKey(ExchangeSnapshot, on_delete=models.PROTECT, related_name="+")
    number = models.PositiveIntegerField(_("number"))
    formed_in = models.PositiveSmallIntegerField(_("formed in trading round"), default=1)
    size = models.PositiveSmallIntegerField(_("members"))
    status = models.CharField(
        _("status"), max_length=16, choices=CycleStatus.choices, default=CycleStatus.PROPOSED
    )
    approval_case = models.ForeignKey(
        ApprovalCase,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="exchange_cycles",
        verbose_name=_("approval case"),
    )
    commit_error = models.TextField(_("why the commit failed"), blank=True)
    committed_at = models.DateTimeField(_("committed"), null=True, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["round", "number"]
        constraints = [
            models.UniqueConstraint(fields=["round", "number"], name="exchange_cycle_number"),
            models.CheckConstraint(condition=Q(size__gte=2), name="exchange_cycle_two_or_more"),
        ]

    def __str__(self) -> str:
        return f"Cycle {self.number} of {self.round}"


class ExchangeAssignment(models.Model):
    """What one participant receives in a solve (`receives` is None: they keep their item),
    with the facts its explanation is written from (`facts`, rendered in the reader's
    language). A re-solve after a withdrawal marks the assignments it replaces not current."""

    round = models.ForeignKey(ExchangeRound, on_delete=models.PROTECT, related_name="assignments")
    snapshot = models.ForeignKey(ExchangeSnapshot, on_delete=models.PROTECT, related_name="+")
    item = models.ForeignKey(ExchangeItem, on_delete=models.PROTECT, related_name="assignments")
    receives = models.ForeignKey(
        ExchangeItem, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    cycle = models.ForeignKey(
        ExchangeCycle, on_delete=models.PROTECT, null=True, blank=True, related_name="assignments"
    )
    facts = models.JSONField(_("explanation facts"), default=dict)
    current = models.BooleanField(_("current"), default=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["round", "item"]
        constraints = [
            models.UniqueConstraint(
                fields=["item"], condition=Q(current=True), name="exchange_assignment_one_current"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.item} in {self.round}"
