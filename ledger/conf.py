"""Ledger tunables, each overridable in settings as `HMS_LEDGER_<NAME>`."""

from __future__ import annotations

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    # The length of a clearing cycle opened from the admin ("Open the next cycle").
    "CYCLE_HOURS": 24,
    # Participants' own transfers (the portfolio): above this amount (minor units) a transfer
    # waits as pending for a second person's approval; at or below it, it posts at once.
    "PARTICIPANT_APPROVAL_ABOVE_MINOR": 100_000,
    # The governance program (its code) whose policy and supervisors decide those approvals.
    # Empty: transfers above the threshold are refused (nobody could approve them).
    "PARTICIPANT_APPROVAL_PROGRAM": "",
}


def get(name: str) -> Any:
    """The setting `HMS_LEDGER_<name>`, or its default."""
    return getattr(settings, f"HMS_LEDGER_{name}", DEFAULTS[name])
