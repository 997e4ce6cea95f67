"""Admin of exchange rounds: staff create rounds and move them with actions (each a service
call); items, cycles, assignments and snapshots are read-only records."""

from .records import (
    ExchangeAssignmentAdmin,
    ExchangeCycleAdmin,
    ExchangeItemAdmin,
    ExchangeSnapshotAdmin,
)
from .rounds import ExchangeRoundAdmin

__all__ = [
    "ExchangeAssignmentAdmin",
    "ExchangeCycleAdmin",
    "ExchangeItemAdmin",
    "ExchangeRoundAdmin",
    "ExchangeSnapshotAdmin",
]
