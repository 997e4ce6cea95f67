"""Every change in allocations, one transaction each, with the acting user.

- `funds`: open a fund with its ledger accounts, put appropriated money into it;
- `claims`: make a claim, grant waiting claims while the fund covers them, pay a claim, set the
  terms a round reads for a claim;
- `rounds`: an allocation round from draft to approved (create, open, gather, freeze, compute,
  send for approval, the approval case's outcome) or cancelled;
- `commit`: commit an approved round into the ledger;
- `ballots`: approval ballots in participatory rounds.

Callers write `from allocations import services` and `services.round_commit(...)`.
"""

from __future__ import annotations

from .ballots import ballot_cast, ballot_cast_own
from .claims import (
    claim_pay,
    claim_set_terms,
    claim_submit,
    claim_validate_editable,
    claim_validate_terms,
    claims_grant_waiting,
    fund_grant_waiting,
)
from .commit import round_commit
from .errors import AllocationError, RoundError
from .funds import fund_credit, fund_officers_set, fund_open
from .rounds import (
    round_cancel,
    round_compute,
    round_compute_request,
    round_create,
    round_freeze,
    round_gather,
    round_on_decision,
    round_open,
    round_progress_set,
    round_send_for_approval,
    round_validate_budget,
    round_validate_rule,
)

__all__ = [
    "AllocationError",
    "RoundError",
    "ballot_cast",
    "ballot_cast_own",
    "claim_pay",
    "claim_set_terms",
    "claim_submit",
    "claim_validate_editable",
    "claim_validate_terms",
    "claims_grant_waiting",
    "fund_credit",
    "fund_grant_waiting",
    "fund_officers_set",
    "fund_open",
    "round_cancel",
    "round_commit",
    "round_compute",
    "round_compute_request",
    "round_create",
    "round_freeze",
    "round_gather",
    "round_on_decision",
    "round_open",
    "round_progress_set",
    "round_send_for_approval",
    "round_validate_budget",
    "round_validate_rule",
]
