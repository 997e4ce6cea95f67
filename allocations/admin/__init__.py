"""Admin for funds, claims and allocation rounds. Nothing here changes state itself: every
form save and action calls `allocations.services`.

The "grant waiting claims" action on funds moves requests on too, so it lives with the requests
(`service_requests.admin` re-registers `FundAdmin` with it): allocations knows nothing of
requests.
"""

from .claims import ClaimAdmin
from .funds import FundAdmin
from .records import AllocationBallotAdmin, AllocationGrantAdmin, RoundSnapshotAdmin
from .rounds import AllocationRoundAdmin

__all__ = [
    "AllocationBallotAdmin",
    "AllocationGrantAdmin",
    "AllocationRoundAdmin",
    "ClaimAdmin",
    "FundAdmin",
    "RoundSnapshotAdmin",
]
