"""Every change to the ledger. Each function is one transaction; callers pass the acting user.

Writers serialise on the chain head (`LedgerHead`, locked with SELECT ... FOR UPDATE), which
makes sequence numbers gapless, lets each hash cover its predecessor, and makes the idempotency
check race-free. Accounts are then locked in id order, so two writers never deadlock on them.

The write path (locks, transfers, postings, totals, head) issues its own SQL through
`connection.cursor()` instead of the ORM: building the querysets and model instances cost more
than the statements themselves (issue 7: a single transfer spent 5 ms of CPU in the ORM, a batch
of 8,000 most of its time). The statements are plain SQL that PostgreSQL and SQLite both run;
only the bulk loading branches on the vendor (COPY on PostgreSQL). Reads outside the write path
(the pending transfer being resolved, replays) still go through the ORM.

The package: `accounts` (opening accounts), `transfers` (the transfer services), `batch` (the
streamed batch path), `staging` (one transfer staged under the locks, then written), `sql` (the
statements, the cursor and the locks), `specs` (what is asked for and its digest), `errors`,
`announce` (telling other apps of posted transfers); clearing: `bank_accounts` (participants'
bank details), `cycles` (opening and closing cycles), `settlement` (settling a cycle and storing
its ACH file), `demo` (the demo bureau's cycle); `checkpoints` (signing the chain's head).
Import from `ledger.services`, not from the modules.
"""

from __future__ import annotations

from ..clearing_errors import (
    ERR_ACH_CURRENCY,
    ERR_ALREADY_OPEN,
    ERR_NO_BANK,
    ERR_NOT_CLOSED,
    ERR_NOT_SETTLED,
    ERR_NOT_ZERO,
    ERR_TIE_OUT,
    ERR_TOO_LARGE,
    ERR_WINDOW,
    ERR_WINDOW_FUTURE,
    ClearingError,
)
from ..models import AccountType, OwnerKind
from .accounts import account_open, payee_account_for
from .announce import announce_posted
from .bank_accounts import bank_account_save, bank_account_validate_routing
from .checkpoints import checkpoint_write
from .cycles import cycle_close, cycle_open, cycle_open_next
from .demo import demo_cycle_settle
from .errors import (
    ERR_ALREADY_RESOLVED,
    ERR_ALREADY_REVERSED,
    ERR_AMOUNT,
    ERR_BATCH_SIZE,
    ERR_CLOSED,
    ERR_CURRENCY,
    ERR_EXCEEDS_CREDITS,
    ERR_EXCEEDS_DEBITS,
    ERR_EXPIRED,
    ERR_EXPIRY_NOT_PENDING,
    ERR_EXPIRY_PAST,
    ERR_HEAD_NOT_LAST,
    ERR_IDEMPOTENCY,
    ERR_LEDGER_UNAVAILABLE,
    ERR_NOT_PENDING,
    ERR_NOT_REVERSIBLE,
    ERR_POST_TOO_MUCH,
    ERR_SAME_ACCOUNT,
    ERR_TEXT,
    ERR_UNBALANCED,
    ERR_UNKNOWN_ACCOUNT,
    MAX_AMOUNT_MINOR,
    MAX_BATCH,
    CheckpointError,
    LedgerError,
    LedgerIntegrityError,
    check_text,
    text_is_storable,
)
from .settlement import (
    cycle_file_generate,
    cycle_file_request,
    cycle_progress_set,
    cycle_settle,
)
from .specs import TransferSpec, _digest, _spec_digest
from .sql import (
    HEAD_UPDATE_SQL,
    INSERT_TRANSFER_SQL,
    KEY_SQL,
    TRANSFER_COLUMNS,
    _Sql,
    account_totals_params,
    account_totals_sql,
    accounts_lock_sql,
    head_lock_sql,
    postings_insert_sql,
)
from .transfers import (
    transfer_create,
    transfer_post_pending,
    transfer_reverse,
    transfer_void_pending,
    transfers_create,
)

__all__ = [
    "ERR_ACH_CURRENCY",
    "ERR_ALREADY_OPEN",
    "ERR_ALREADY_RESOLVED",
    "ERR_ALREADY_REVERSED",
    "ERR_AMOUNT",
    "ERR_BATCH_SIZE",
    "ERR_CLOSED",
    "ERR_CURRENCY",
    "ERR_EXCEEDS_CREDITS",
    "ERR_EXCEEDS_DEBITS",
    "ERR_EXPIRED",
    "ERR_EXPIRY_NOT_PENDING",
    "ERR_EXPIRY_PAST",
    "ERR_HEAD_NOT_LAST",
    "ERR_IDEMPOTENCY",
    "ERR_LEDGER_UNAVAILABLE",
    "ERR_NOT_CLOSED",
    "ERR_NOT_PENDING",
    "ERR_NOT_REVERSIBLE",
    "ERR_NOT_SETTLED",
    "ERR_NOT_ZERO",
    "ERR_NO_BANK",
    "ERR_POST_TOO_MUCH",
    "ERR_SAME_ACCOUNT",
    "ERR_TEXT",
    "ERR_TIE_OUT",
    "ERR_TOO_LARGE",
    "ERR_UNBALANCED",
    "ERR_UNKNOWN_ACCOUNT",
    "ERR_WINDOW",
    "ERR_WINDOW_FUTURE",
    "HEAD_UPDATE_SQL",
    "INSERT_TRANSFER_SQL",
    "KEY_SQL",
    "MAX_AMOUNT_MINOR",
    "MAX_BATCH",
    "TRANSFER_COLUMNS",
    "AccountType",
    "CheckpointError",
    "ClearingError",
    "LedgerError",
    "LedgerIntegrityError",
    "OwnerKind",
    "TransferSpec",
    "_Sql",
    "_digest",
    "_spec_digest",
    "account_open",
    "account_totals_params",
    "account_totals_sql",
    "accounts_lock_sql",
    "announce_posted",
    "bank_account_save",
    "bank_account_validate_routing",
    "check_text",
    "checkpoint_write",
    "cycle_close",
    "cycle_file_generate",
    "cycle_file_request",
    "cycle_open",
    "cycle_open_next",
    "cycle_progress_set",
    "cycle_settle",
    "demo_cycle_settle",
    "head_lock_sql",
    "payee_account_for",
    "postings_insert_sql",
    "text_is_storable",
    "transfer_create",
    "transfer_post_pending",
    "transfer_reverse",
    "transfer_void_pending",
    "transfers_create",
]
