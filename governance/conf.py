"""Governance tunables (`HMS_GOVERNANCE_<NAME>` in settings overrides the default here)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings


def warn_before() -> timedelta:
    """How long before a step's deadline its deciders are warned (at most half its SLA)."""
    return timedelta(hours=getattr(settings, "HMS_GOVERNANCE_WARN_BEFORE_HOURS", 24))


def max_delegation() -> timedelta:
    """The longest window a single delegation may span."""
    return timedelta(days=getattr(settings, "HMS_GOVERNANCE_MAX_DELEGATION_DAYS", 90))


def inbox_page_size() -> int:
    return int(getattr(settings, "HMS_GOVERNANCE_INBOX_PAGE_SIZE", 50))


def reauthenticate_above_minor() -> int:
    """Approving a case for more than this amount (minor units) asks the approver to enter
    their password or second factor again unless they did within the reauthentication window."""
    return int(getattr(settings, "HMS_GOVERNANCE_REAUTHENTICATE_ABOVE_MINOR", 1_000_000))
