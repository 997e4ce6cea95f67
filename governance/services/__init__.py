"""Every change in governance, one transaction each, with the acting user.

- `cases`: open a case under its policy, decide its steps, recall it, unblock it;
- `policies`: draft, version, activate and match approval policies, edit a draft's steps;
- `programs`: save and delete programs (the admin);
- `membership`: record changes of group membership;
- `delegations`: give and revoke delegations, keep their guardian permission in step;
- `escalation`: warn before deadlines and escalate overdue steps;
- `authority`: separation of duties, and why a user holds no grant to decide a case.

Other apps call `governance.services.case_open(...)` and register the handler of their subject
kind with `core.events.subscribe_one(core.events.CASE_OUTCOME, kind, handler)`; everything they
need is importable from here.
"""

from __future__ import annotations

from .cases import (
    case_apply_policy,
    case_decide,
    case_open,
    case_recall,
    case_validate_decider,
    case_validate_reason,
)
from .delegations import (
    delegation_create,
    delegation_revoke,
    delegation_validate,
    delegations_sync,
)
from .duties import duty_conflict_delete, duty_conflict_save
from .errors import *  # noqa: F403 (the refusal messages are part of this module's interface)
from .errors import GovernanceError
from .escalation import steps_warn_and_escalate
from .membership import membership_changes_record
from .policies import (
    STEP_FIELDS,
    StepEdit,
    StepSpec,
    policy_activate,
    policy_create,
    policy_delete,
    policy_draft_save,
    policy_for_case,
    policy_new_version,
    policy_retire,
    policy_steps_save,
    policy_validate_editable,
    step_add,
)
from .programs import program_delete, program_permission_grant, program_save

__all__ = [
    "STEP_FIELDS",
    "GovernanceError",
    "StepEdit",
    "StepSpec",
    "case_apply_policy",
    "case_decide",
    "case_open",
    "case_recall",
    "case_validate_decider",
    "case_validate_reason",
    "delegation_create",
    "delegation_revoke",
    "delegation_validate",
    "delegations_sync",
    "duty_conflict_delete",
    "duty_conflict_save",
    "membership_changes_record",
    "policy_activate",
    "policy_create",
    "policy_delete",
    "policy_draft_save",
    "policy_for_case",
    "policy_new_version",
    "policy_retire",
    "policy_steps_save",
    "policy_validate_editable",
    "program_delete",
    "program_permission_grant",
    "program_save",
    "step_add",
    "steps_warn_and_escalate",
]
