"""What the ledger refuses, and how it says so: `LedgerError` with a code, and its messages;
`CheckpointError` for a checkpoint that cannot be signed. (Clearing's refusals are in
`ledger.clearing_errors`.)"""

from __future__ import annotations

from django.core.exceptions import ValidationError

MAX_AMOUNT_MINOR = 10**15  # 10 trillion in a two-decimal currency: past any bureau's budget
MAX_BATCH = 8_000

ERR_AMOUNT = "The amount must be a whole number of minor units above zero and below 10^15."
ERR_SAME_ACCOUNT = "A transfer needs two different accounts."
ERR_CURRENCY = (
    "Unbalanced transfer: {debit} is in {debit_cur}, {credit} is in {credit_cur}, "
    "the transfer in {cur}."
)
ERR_CLOSED = "Account {code} is closed."
ERR_EXCEEDS_CREDITS = "Account {code} has {available} available; the transfer needs {amount}."
ERR_EXCEEDS_DEBITS = "Account {code} may not be credited beyond its debits."
ERR_IDEMPOTENCY = "Idempotency key {key} was already used for a different transfer."
ERR_NOT_PENDING = "Transfer #{sequence} is not a pending transfer."
ERR_ALREADY_RESOLVED = "Pending transfer #{sequence} was already {how}."
ERR_POST_TOO_MUCH = "Cannot post {amount}: pending transfer #{sequence} reserved {reserved}."
ERR_UNBALANCED = "Unbalanced postings: debits {debits} and credits {credits} in {currency}."
ERR_UNKNOWN_ACCOUNT = "No such account."
ERR_EXPIRY_NOT_PENDING = "Only a pending transfer can carry an expiry."
ERR_EXPIRY_PAST = "The expiry must be in the future."
ERR_EXPIRED = "Pending transfer #{sequence} has expired: it can only be voided."
ERR_NOT_REVERSIBLE = "Transfer #{sequence} moved no posted money: nothing to reverse."
ERR_ALREADY_REVERSED = "Transfer #{sequence} was already reversed by #{by}."
ERR_BATCH_SIZE = "A batch holds at most {maximum} transfers."
ERR_TEXT = (
    "The {field} contains characters that cannot be stored (a lone surrogate such as \\ud800, "
    "or a NUL character): send valid Unicode text."
)


ERR_HEAD_NOT_LAST = (
    "The head (#{head}) does not name the last transfer (#{last}): run verify_ledger; "
    "no checkpoint was signed."
)


ERR_CHAIN_BROKEN_AT = (
    "The ledger head names transfer #{sequence}, whose stored hash differs (or which is "
    "missing): the hash chain is broken; nothing was written."
)
# What a request that meets a broken chain answers (503), on a page and in the API.
ERR_LEDGER_UNAVAILABLE = (
    "The ledger failed its integrity check; staff have been alerted; no money moved."
)


class LedgerIntegrityError(Exception):
    """The hash chain is broken where a writer meets it: nothing was written. Not a refusal
    of the request (no form or API error catches it): the site answers 503 with
    `ERR_LEDGER_UNAVAILABLE` and alerts staff (`hms_portal.middleware`)."""


class LedgerError(ValidationError):
    """A refused ledger operation; its message says why and nothing was written."""


class CheckpointError(ValidationError):
    """A checkpoint could not be signed; nothing was written."""


def check_amount(amount_minor: int) -> None:
    """Refuse anything but a whole number of minor units in (0, MAX_AMOUNT_MINOR)."""
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int):
        raise LedgerError(ERR_AMOUNT, code="invalid_amount")
    if not 0 < amount_minor < MAX_AMOUNT_MINOR:
        raise LedgerError(ERR_AMOUNT, code="invalid_amount")


def conflict(key: str) -> LedgerError:
    """The refusal of a different payload under an idempotency key already used."""
    return LedgerError(ERR_IDEMPOTENCY.format(key=key), code="idempotency_conflict")


def text_is_storable(value: str) -> bool:
    """Whether PostgreSQL can store `value`: valid UTF-8 (no lone surrogates, which psycopg
    cannot encode) and no NUL character (text columns refuse it). ASCII is checked first:
    it is the usual case and costs a fraction of an encode."""
    if value.isascii():
        return "\x00" not in value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in value


def check_text(**fields: object) -> None:
    """Refuse (`invalid_text`) any text among `fields` (name=value) that cannot be stored, before
    it reaches the database: psycopg would raise on the write instead."""
    for name, value in fields.items():
        if isinstance(value, str) and not text_is_storable(value):
            label = name.replace("_", " ")
            raise LedgerError(
                ERR_TEXT.format(field=label), code="invalid_text", params={"field": name}
            )
