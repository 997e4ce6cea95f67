"""Tamper evidence: recompute the hash chain and the balances, and check the signed checkpoints.

`verify_ledger()` reads the whole ledger in a fixed number of queries (transfers and postings are
streamed side by side in sequence order) and reports every place where the stored rows disagree
with what the chain says, naming the first bad sequence number:

- sequence numbers start at 1 and have no gap (a removed transfer is reported at its number);
- each transfer's `prev_hash` is the stored hash of the transfer before it (`GENESIS_HASH` for
  #1), and its stored hash is `chain.chain_hash` of its content (a changed field, or a transfer
  moved to another number, is reported at the number where it now stands);
- each transfer's postings balance per currency and are exactly the legs the transfer moved;
- the `LedgerHead` row names the last transfer;
- each account's stored totals are the sums of its postings;
- each signed checkpoint is valid under the key that signed it (the current key, or a retired
  one still listed in `HMS_LEDGER_CHECKPOINT_KEY_FALLBACKS`) and still matches the transfer it
  signed.

The signing (`sign`, `key_id`) is here too: `ledger.services.checkpoints.checkpoint_write`
signs the current head with it (HMAC-SHA256 with `HMS_LEDGER_CHECKPOINT_KEY`), at most once per
UTC day, so history rewritten after a checkpoint is detectable even when the rewriter recomputed
every hash after the change. Nothing in this module writes.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q, Sum
from django.utils import timezone

from .chain import GENESIS_HASH, chain_hash
from .models import (
    Account,
    LedgerCheckpoint,
    LedgerHead,
    Posting,
    Transfer,
    TransferKind,
    transfer_legs,
)

CHUNK_SIZE = 2_000
MAX_PROBLEMS = 1_000  # a report lists at most this many; the count and first bad number are exact

MSG_GAP = (
    "Sequence #{sequence} is missing: the ledger goes from #{before} to #{after} "
    "(a transfer was removed or renumbered)."
)
MSG_PREV_HASH = (
    "Transfer #{sequence} does not follow #{before}: its previous hash is not the hash of "
    "#{before} (a transfer before it was removed, reordered or rewritten)."
)
MSG_CONTENT = (
    "Transfer #{sequence} does not match its hash: a stored field was changed or the transfer "
    "was moved to this number."
)
MSG_UNBALANCED = (
    "Transfer #{sequence}: postings do not balance in {currency} "
    "(debits {debits}, credits {credits})."
)
MSG_LEGS = "Transfer #{sequence}: its postings are not the legs the transfer moved."
MSG_TOTALS = "Account {code}: stored {field} is {stored}, its postings sum to {summed}."
MSG_HEAD_AHEAD = (
    "The head names #{head} but the ledger ends at #{last}: transfers after #{last} were removed."
)
MSG_HEAD_BEHIND = "The head names #{head} but the ledger goes on to #{last}."
MSG_HEAD_HASH = "The head's hash for #{head} is not the stored hash of transfer #{head}."
MSG_CP_KEY = (
    "Checkpoint of {day} (#{sequence}) was signed with key {key_id}, the current key is "
    "{current} and no retired key in HMS_LEDGER_CHECKPOINT_KEY_FALLBACKS is {key_id}: it "
    "cannot be checked."
)
MSG_CP_SIGNATURE = (
    "Checkpoint of {day} (#{sequence}): the signature is not valid (the checkpoint was altered)."
)
MSG_CP_REWRITTEN = (
    "Checkpoint of {day} signed #{sequence} as {signed}, the ledger now has {now} there: "
    "history at or before #{sequence} was rewritten after it was signed."
)
MSG_CP_MISSING = "Checkpoint of {day} signed #{sequence}, which the ledger no longer holds."
MSG_CP_DAY = (
    "Checkpoint #{sequence}: its day {day} (or its hour) is not the UTC date (or hour) of its "
    "time {created_at}."
)

TOTAL_FIELDS = ("debits_pending", "debits_posted", "credits_pending", "credits_posted")


@dataclass(frozen=True)
class Problem:
    """One disagreement found by the verifier: where (a sequence number, an account) and what."""

    message: str
    sequence: int | None = None
    account: str | None = None

    def __str__(self) -> str:
        return self.message  # every message names its sequence number or account itself


@dataclass
class VerifyReport:
    """What `verify_ledger()` found. `ok` is true only when there is no problem at all."""

    ok: bool = True
    transfers_checked: int = 0
    accounts_checked: int = 0
    checkpoints_checked: int = 0
    head_sequence: int = 0
    head_hash: str = GENESIS_HASH
    first_bad_sequence: int | None = None
    problems: list[Problem] = field(default_factory=list)
    problem_count: int = 0

    def add(self, message: str, *, sequence: int | None = None, account: str | None = None) -> None:
        """Record a problem; keep the first bad sequence number exact past the list's cap."""
        self.ok = False
        self.problem_count += 1
        if sequence is not None and (
            self.first_bad_sequence is None or sequence < self.first_bad_sequence
        ):
            self.first_bad_sequence = sequence
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(message=message, sequence=sequence, account=account))


# --- Signing ---------------------------------------------------------------------------------


def _key() -> bytes:
    return str(settings.HMS_LEDGER_CHECKPOINT_KEY).encode()


def _verifying_keys() -> dict[str, bytes]:
    """The keys checkpoints are checked with, by key id: the current key and the retired ones
    still listed in `HMS_LEDGER_CHECKPOINT_KEY_FALLBACKS` (a rotation keeps old checkpoints
    checkable; new ones are signed with the current key only)."""
    retired = getattr(settings, "HMS_LEDGER_CHECKPOINT_KEY_FALLBACKS", [])
    keys = [_key(), *(str(key).encode() for key in retired)]
    return {key_id(key): key for key in reversed(keys)}


def key_id(key: bytes | None = None) -> str:
    """The first 8 hex digits of the key's SHA-256: names a key without revealing it."""
    return hashlib.sha256(_key() if key is None else key).hexdigest()[:8]


def checkpoint_message(sequence: int, head_hash: str, created_at: datetime) -> bytes:
    """The bytes a checkpoint signs: `"{sequence}:{hash}:{created_at iso}"`."""
    return f"{sequence}:{head_hash}:{created_at.isoformat()}".encode()


def sign(sequence: int, head_hash: str, created_at: datetime, key: bytes | None = None) -> str:
    """HMAC-SHA256 (hex) of the checkpoint message under the checkpoint key."""
    message = checkpoint_message(sequence, head_hash, created_at)
    return hmac.new(_key() if key is None else key, message, hashlib.sha256).hexdigest()


def utc_day(moment: datetime) -> date:
    """The UTC date of `moment` (a checkpoint's day)."""
    return moment.astimezone(UTC).date()


def utc_hour(moment: datetime) -> datetime:
    """The start of the UTC hour of `moment` (a checkpoint's hour)."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def current_checkpoint() -> LedgerCheckpoint | None:
    """The checkpoint of the current UTC hour, if it was written."""
    return LedgerCheckpoint.objects.filter(hour=utc_hour(timezone.now())).first()


def checkpoint_export_rows() -> Iterator[dict[str, Any]]:
    """Every checkpoint, oldest first, as the JSON object `export_checkpoints` writes per line."""
    rows = LedgerCheckpoint.objects.order_by("sequence", "created_at").values(
        "sequence", "hash", "created_at", "key_id", "signature"
    )
    for row in rows.iterator(chunk_size=CHUNK_SIZE):
        yield {**row, "created_at": row["created_at"].isoformat()}


# --- Verification ----------------------------------------------------------------------------


def _expected_legs(
    row: Mapping[str, Any], reserved: int | None
) -> Counter[tuple[int, str, str, int, str]]:
    """The postings the writer writes for this transfer (`ledger.models.transfer_legs`)."""
    legs = transfer_legs(
        kind=row["kind"],
        debit_id=row["debit_account_id"],
        credit_id=row["credit_account_id"],
        amount_minor=row["amount_minor"],
        reserved_minor=reserved,
    )
    return Counter((a, s, p, n, row["currency"]) for a, s, p, n in legs)


def _postings_by_sequence() -> Iterator[tuple[int, list[Mapping[str, Any]]]]:
    """Stream postings grouped by their transfer's sequence number, in sequence order."""
    rows = Posting.objects.order_by("transfer__sequence", "id").values(
        "transfer__sequence", "account_id", "side", "phase", "amount_minor", "currency"
    )
    group: list[Mapping[str, Any]] = []
    current: int | None = None
    for row in rows.iterator(chunk_size=CHUNK_SIZE):
        if row["transfer__sequence"] != current and group:
            assert current is not None
            yield current, group
            group = []
        current = row["transfer__sequence"]
        group.append(row)
    if group:
        assert current is not None
        yield current, group


def _check_postings(
    report: VerifyReport,
    sequence: int,
    postings: list[Mapping[str, Any]],
    expected: Counter[tuple[int, str, str, int, str]] | None,
) -> None:
    sums: dict[str, dict[str, int]] = {}
    for p in postings:
        sums.setdefault(p["currency"], {"debit": 0, "credit": 0})[p["side"]] += p["amount_minor"]
    for currency, sides in sorted(sums.items()):
        if sides["debit"] != sides["credit"]:
            report.add(
                MSG_UNBALANCED.format(
                    sequence=sequence,
                    currency=currency,
                    debits=sides["debit"],
                    credits=sides["credit"],
                ),
                sequence=sequence,
            )
    if expected is not None:
        actual = Counter(
            (p["account_id"], p["side"], p["phase"], p["amount_minor"], p["currency"])
            for p in postings
        )
        if actual != expected:
            report.add(MSG_LEGS.format(sequence=sequence), sequence=sequence)


def _check_chain(report: VerifyReport, signed: dict[int, str | None]) -> tuple[int, str]:
    """Walk transfers and their postings in sequence order; return the last (sequence, hash).

    `signed` maps each checkpointed sequence number to None; the walk fills in the stored hash.
    """
    transfers = Transfer.objects.order_by("sequence").values(
        "id",
        "sequence",
        "idempotency_key",
        "kind",
        "pending_id",
        "reverses_id",
        "debit_account_id",
        "debit_account__code",
        "credit_account_id",
        "credit_account__code",
        "amount_minor",
        "currency",
        "expires_at",
        "reference",
        "memo",
        "created_by_id",
        "created_at",
        "prev_hash",
        "hash",
    )
    postings = _postings_by_sequence()
    next_postings = next(postings, None)
    sequence_of: dict[int, int] = {}  # id -> sequence; links always point backwards
    reserved_by: dict[int, int] = {}  # id of a pending transfer -> the amount it reserved
    last_sequence, last_hash = 0, GENESIS_HASH
    for row in transfers.iterator(chunk_size=CHUNK_SIZE):
        sequence = row["sequence"]
        report.transfers_checked += 1
        if sequence != last_sequence + 1:
            report.add(
                MSG_GAP.format(sequence=last_sequence + 1, before=last_sequence, after=sequence),
                sequence=last_sequence + 1,
            )
        if row["prev_hash"] != last_hash:
            report.add(
                MSG_PREV_HASH.format(sequence=sequence, before=last_sequence), sequence=sequence
            )
        recomputed = chain_hash(
            sequence=sequence,
            idempotency_key=row["idempotency_key"],
            kind=row["kind"],
            pending_sequence=sequence_of.get(row["pending_id"]) if row["pending_id"] else None,
            reverses_sequence=sequence_of.get(row["reverses_id"]) if row["reverses_id"] else None,
            debit_code=row["debit_account__code"],
            credit_code=row["credit_account__code"],
            amount_minor=row["amount_minor"],
            currency=row["currency"],
            expires_at=row["expires_at"],
            reference=row["reference"],
            memo=row["memo"],
            created_by_id=row["created_by_id"],
            created_at=row["created_at"],
            prev_hash=row["prev_hash"],
        )
        if recomputed != row["hash"]:
            report.add(MSG_CONTENT.format(sequence=sequence), sequence=sequence)

        # Postings of transfers that no longer exist cannot remain (the foreign key protects
        # them), so the postings stream never falls behind the transfers stream.
        own: list[Mapping[str, Any]] = []
        if next_postings is not None and next_postings[0] == sequence:
            own = next_postings[1]
            next_postings = next(postings, None)
        reserved = reserved_by.get(row["pending_id"]) if row["pending_id"] else None
        resolving = row["kind"] in (TransferKind.POST_PENDING, TransferKind.VOID_PENDING)
        expected = None if resolving and reserved is None else _expected_legs(row, reserved)
        _check_postings(report, sequence, own, expected)

        sequence_of[row["id"]] = sequence
        if row["kind"] == TransferKind.PENDING:
            reserved_by[row["id"]] = row["amount_minor"]
        if sequence in signed:
            signed[sequence] = row["hash"]
        last_sequence, last_hash = sequence, row["hash"]
    return last_sequence, last_hash


def _check_head(report: VerifyReport, last_sequence: int, last_hash: str) -> None:
    head = LedgerHead.objects.filter(id=1).values("sequence", "hash").first()
    head_sequence, head_hash = (head["sequence"], head["hash"]) if head else (0, GENESIS_HASH)
    if head_sequence > last_sequence:
        report.add(
            MSG_HEAD_AHEAD.format(head=head_sequence, last=last_sequence),
            sequence=last_sequence + 1,
        )
    elif head_sequence < last_sequence:
        report.add(
            MSG_HEAD_BEHIND.format(head=head_sequence, last=last_sequence),
            sequence=head_sequence + 1,
        )
    elif head_hash != last_hash:
        report.add(MSG_HEAD_HASH.format(head=head_sequence), sequence=head_sequence)


def _check_accounts(report: VerifyReport) -> None:
    """Compare each account's stored totals with the sums of its postings (one GROUP BY)."""
    sums = {
        f"sum_{name}": Sum(
            "postings__amount_minor",
            filter=Q(postings__side=name.split("s_")[0], postings__phase=name.split("_")[1]),
            default=0,
        )
        for name in TOTAL_FIELDS
    }
    accounts = (
        Account.objects.order_by("code").annotate(**sums).values("code", *TOTAL_FIELDS, *sums)
    )
    for row in accounts.iterator(chunk_size=CHUNK_SIZE):
        report.accounts_checked += 1
        for name in TOTAL_FIELDS:
            if row[name] != row[f"sum_{name}"]:
                report.add(
                    MSG_TOTALS.format(
                        code=row["code"], field=name, stored=row[name], summed=row[f"sum_{name}"]
                    ),
                    account=row["code"],
                )


def _check_checkpoints(
    report: VerifyReport, checkpoints: list[LedgerCheckpoint], signed: dict[int, str | None]
) -> None:
    current = key_id()
    keys = _verifying_keys()
    for cp in checkpoints:
        report.checkpoints_checked += 1
        where = {"day": cp.day, "sequence": cp.sequence}
        if cp.key_id not in keys:
            # Nothing says the ledger is wrong, but nothing vouches for it either.
            report.add(MSG_CP_KEY.format(**where, key_id=cp.key_id, current=current))
            continue
        expected = sign(cp.sequence, cp.hash, cp.created_at, key=keys[cp.key_id])
        if not hmac.compare_digest(expected, cp.signature):
            report.add(MSG_CP_SIGNATURE.format(**where), sequence=cp.sequence)
            continue
        if cp.day != utc_day(cp.created_at) or (
            cp.hour is not None and cp.hour != utc_hour(cp.created_at)
        ):
            report.add(
                MSG_CP_DAY.format(**where, created_at=cp.created_at.isoformat()),
                sequence=cp.sequence,
            )
        now = signed.get(cp.sequence)
        if now is None:
            report.add(MSG_CP_MISSING.format(**where), sequence=cp.sequence)
        elif now != cp.hash:
            report.add(
                MSG_CP_REWRITTEN.format(**where, signed=cp.hash[:16], now=now[:16]),
                sequence=cp.sequence,
            )


def verify_ledger() -> VerifyReport:
    """Recompute the chain, the postings and the balances; check the checkpoints.

    A fixed number of queries whatever the ledger's length. Outside a transaction, the reads run
    in one read-only REPEATABLE READ transaction on PostgreSQL, so writers appending meanwhile
    neither block nor disturb it (every query sees the same snapshot).
    """
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        report = VerifyReport()
        checkpoints = list(LedgerCheckpoint.objects.order_by("sequence", "created_at"))
        signed: dict[int, str | None] = {cp.sequence: None for cp in checkpoints}
        last_sequence, last_hash = _check_chain(report, signed)
        if 0 in signed:
            signed[0] = GENESIS_HASH
        report.head_sequence, report.head_hash = last_sequence, last_hash
        _check_head(report, last_sequence, last_hash)
        _check_accounts(report)
        _check_checkpoints(report, checkpoints, signed)
    report.problems.sort(key=lambda p: (p.sequence is None, p.sequence or 0))
    return report
