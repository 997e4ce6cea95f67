"""What clearing refuses, and how it says so: `ClearingError` with a code, and its messages.

The clearing services raise them, and so does the selector that reads a stored ACH file back,
so they sit below both (the transfer refusals are in `ledger.services.errors`).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError

ERR_WINDOW = "The window must start before it ends."
ERR_WINDOW_FUTURE = "A cycle closes only once its window has ended ({end})."
ERR_NOT_CLOSED = "Cycle {cycle} is {status}: only a closed cycle can be settled."
ERR_NOT_SETTLED = "Cycle {cycle} is {status}: only a settled cycle has an ACH file."
ERR_NOT_ZERO = "Cycle {cycle}: the net positions sum to {total}, not zero; nothing was saved."
ERR_NO_BANK = "No bank account on file for {codes}: add one before settling."
ERR_TOO_LARGE = "Account {code}'s net {amount} exceeds one ACH entry's maximum."
ERR_TIE_OUT = "Cycle {cycle}: the ACH file does not tie out to its settlement transfers: {why}."
ERR_ACH_CURRENCY = "ACH settles US dollars only; cycle {cycle} is in {currency}."
ERR_ALREADY_OPEN = (
    "Cycle {cycle} ({currency}) is still open until {end}: close it before opening the next one."
)


class ClearingError(ValidationError):
    """A refused clearing operation; nothing was written."""
