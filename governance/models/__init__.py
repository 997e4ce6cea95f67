"""Programs (the scope of authority), approval policies, approval cases and their append-only
decisions, delegations of authority, and the recorded history of group membership.

Governance knows nothing of what it approves: a subject (a request, an allocation round, a
settlement) holds a foreign key to its case, and the case keeps the subject's kind, label, scope
key and amount for the supervisors' inbox. A final outcome reaches the subject's app as the
`core.events.CASE_OUTCOME` fact, to the one handler registered for the subject's kind.

A case opens under the active policy version that matches its program, subject kind, scope key
and amount, and keeps that version to the end (`ApprovalCase.policy`); its progress through the
policy's steps is one `CaseStep` row per step. Everything that happens to a case is a `CaseEvent`
(its timeline); decisions are `Decision` rows, written once.

One module per aggregate; every model is importable from here.
"""

from __future__ import annotations

from .base import (
    DECIDE_PERMISSION,
    DELEGATED_PERMISSION,
    REVIEW_PERMISSION,
    AppendOnlyMixin,
    display_name,
)
from .cases import (
    DECIDER_OUTCOMES,
    OPEN_CASE_STATUSES,
    ApprovalCase,
    CaseEvent,
    CaseEventKind,
    CaseStatus,
    CaseStep,
    CaseStepStatus,
    Decision,
    Outcome,
)
from .delegations import Delegation
from .duties import OBJECT_DUTIES, Duty, DutyConflict, Holder
from .membership import GroupMembershipChange, MembershipAction
from .policies import ApprovalPolicy, ApproverKind, PolicyStatus, PolicyStep, StepMode
from .programs import Program, ProgramGroupObjectPermission, ProgramUserObjectPermission

__all__ = [
    "DECIDER_OUTCOMES",
    "DECIDE_PERMISSION",
    "DELEGATED_PERMISSION",
    "OBJECT_DUTIES",
    "OPEN_CASE_STATUSES",
    "REVIEW_PERMISSION",
    "AppendOnlyMixin",
    "ApprovalCase",
    "ApprovalPolicy",
    "ApproverKind",
    "CaseEvent",
    "CaseEventKind",
    "CaseStatus",
    "CaseStep",
    "CaseStepStatus",
    "Decision",
    "Delegation",
    "Duty",
    "DutyConflict",
    "GroupMembershipChange",
    "Holder",
    "MembershipAction",
    "Outcome",
    "PolicyStatus",
    "PolicyStep",
    "Program",
    "ProgramGroupObjectPermission",
    "ProgramUserObjectPermission",
    "StepMode",
    "display_name",
]
