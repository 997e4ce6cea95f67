"""Every change in exchange rounds, one transaction each, with the acting user.

- `rounds`: create, open, close the ranking window, freeze, solve, cancel;
- `participation`: list an item, rank the others, withdraw (re-solving the rest);
- `approval`: one governance case per cycle, and the cases' outcomes;
- `commit`: each approved cycle's money into the ledger, all or nothing per cycle.

Callers write `from exchange import services` and `services.round_solve(...)`.
"""

from __future__ import annotations

from .approval import SUBJECT_KIND, cycle_on_decision, round_send_for_approval
from .commit import round_commit
from .errors import ExchangeError
from .participation import (
    item_list,
    item_withdraw,
    rankings_set,
    rankings_validate,
    round_validate_window,
)
from .rounds import (
    round_cancel,
    round_close_window,
    round_create,
    round_freeze,
    round_open,
    round_solve,
    round_validate_terms,
)

__all__ = [
    "SUBJECT_KIND",
    "ExchangeError",
    "cycle_on_decision",
    "item_list",
    "item_withdraw",
    "rankings_set",
    "rankings_validate",
    "round_cancel",
    "round_close_window",
    "round_commit",
    "round_create",
    "round_freeze",
    "round_open",
    "round_send_for_approval",
    "round_solve",
    "round_validate_terms",
    "round_validate_window",
]
