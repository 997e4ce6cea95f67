"""The refusals of exchange services, keyed by the field they concern: a refused change writes
nothing and leaves the round as it was."""

from __future__ import annotations

from django.core.exceptions import ValidationError

ERR_FORBIDDEN = "Only exchange officers may {action} exchange rounds."
ERR_STATE = "Round “{title}” is {state}; it cannot be {action}. Nothing was changed."
ERR_WINDOW = "Ranking for “{title}” is closed: it was open from {opens} to {closes}."
ERR_OWN_ITEM = "You cannot rank your own item: it is what you give."
ERR_DUPLICATE = "“{title}” is ranked more than once: give each item one place."
ERR_UNKNOWN = "Item {item} is not in this round."
ERR_WITHDRAWN = "“{title}” was withdrawn from the round; it can no longer be ranked."
ERR_NOT_HOLDER = "Only the holder of “{title}” may do this."
ERR_ALREADY_LISTED = "You already hold an item in this round."
ERR_ALREADY_WITHDRAWN = "“{title}” was already withdrawn."
ERR_COMMITTED_CYCLE = "“{title}” has already changed hands: its swap is committed."
ERR_EMPTY = "The round has {count} item(s) still in it: an exchange needs at least two."
ERR_NOBODY_RANKED = "Nobody ranked any item: there is nothing to solve."
ERR_TAMPERED = "The stored snapshot of “{title}” does not match its hash. Nothing was solved."
ERR_MONEY_ACCOUNT = "An item that carries money needs the holder's ledger account."
ERR_MONEY_BY_STAFF = "Only exchange officers set the money an item carries."
ERR_SETTLEMENT = "The round needs a settlement account in {currency} before money can move."
ERR_CURRENCY = "The account is in {account}; the round is in {round}."
ERR_WINDOW_ORDER = "The ranking window must close after it opens."
ERR_MAX_CYCLE = "A cycle needs at least two members."
ERR_TOO_HARD = (
    "The best swaps of “{title}” could not be proven within the solver's limit. Nothing was "
    "solved: lower the cycle cap, or use top trading cycles, and solve again."
)


class ExchangeError(ValidationError):
    """A refused exchange operation; nothing was written. `message_dict` keys the messages
    by field (`ranking`, `rank_<item>`, `item`, `round`, ...)."""


def refused(field: str, message: str, code: str) -> ExchangeError:
    """One field-keyed refusal."""
    return ExchangeError({field: [ValidationError(message, code=code)]})
