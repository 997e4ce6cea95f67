"""Read-only queries for governance, always scoped to the user asking.

- `authority`: who may decide a case now and under which grant (the decision check and the
  inbox both evaluate its one expression; its pieces stay in that module), and what a user's
  delegations lack when there is none;
- `inbox`: the supervisors' inbox, the case page's reads, delegations given and received;
- `programs`: the programs a user reviews or decides in;
- `report`: the auditor's authority report as of any date;
- `membership`: group membership at a past moment;
- `duties`: separation of duties as data: may this person hold this duty (for this object)?
"""

from __future__ import annotations

from .authority import (
    Deciding,
    Grant,
    decidable_cases,
    deciding,
    decision_authority,
    delegation_shortfalls,
    own_deciders,
    step_notify_ids,
)
from .duties import DutyTable, duty_conflict, duty_table, may_hold, register_subject_duty
from .inbox import (
    SORTS,
    Inbox,
    InboxFilters,
    case_for_viewer,
    case_inbox,
    case_timeline,
    cases_in_scope,
    delegations_for,
    page_of,
)
from .membership import Membership, members_as_of
from .programs import (
    holders,
    program_by_code,
    program_decider_ids,
    programs_decided_by,
    programs_for,
    programs_for_ids,
    programs_reviewed_by,
    programs_worked_by,
)
from .report import (
    STEP_AUTHORITY,
    STEP_DELEGATED,
    STEP_ESCALATED,
    AuthorityRow,
    authority_as_of,
    steps_in_force,
)

__all__ = [
    "SORTS",
    "STEP_AUTHORITY",
    "STEP_DELEGATED",
    "STEP_ESCALATED",
    "AuthorityRow",
    "Deciding",
    "DutyTable",
    "Grant",
    "Inbox",
    "InboxFilters",
    "Membership",
    "authority_as_of",
    "case_for_viewer",
    "case_inbox",
    "case_timeline",
    "cases_in_scope",
    "decidable_cases",
    "deciding",
    "decision_authority",
    "delegation_shortfalls",
    "delegations_for",
    "duty_conflict",
    "duty_table",
    "holders",
    "may_hold",
    "members_as_of",
    "own_deciders",
    "page_of",
    "program_by_code",
    "program_decider_ids",
    "programs_decided_by",
    "programs_for",
    "programs_for_ids",
    "programs_reviewed_by",
    "programs_worked_by",
    "register_subject_duty",
    "step_notify_ids",
    "steps_in_force",
]
