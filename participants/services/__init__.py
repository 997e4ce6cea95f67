"""Every change a participant makes to their money, one transaction each, with the acting user
(`actor`, keyword-only, first). The ledger writes the money; governance decides the large
transfers.

- `transfers`: paying another participant or moving between one's own accounts, and the
  decision handler of the transfers that wait for approval.
- `second_factor`: the authenticator code that confirms a transfer.
"""

from .second_factor import totp_code_accept
from .transfers import (
    SUBJECT_KIND,
    participant_transfer_make,
    participant_transfer_on_decision,
)

__all__ = [
    "SUBJECT_KIND",
    "participant_transfer_make",
    "participant_transfer_on_decision",
    "totp_code_accept",
]
