"""The refusals of governance, as constants so tests and screens can name them exactly."""

from __future__ import annotations

from django.core.exceptions import ValidationError

ERR_NO_AUTHORITY = "You do not hold the authority to decide cases of {program}."
ERR_NO_STEP_AUTHORITY = "You do not hold the authority to decide the step “{step}” of this case."
ERR_OWN_SUBJECT = "You submitted this {kind}: someone else must decide it."
ERR_OWN_RECOMMENDATION = "You recommended this {kind}: someone else must decide it."
ERR_DECIDED_ALREADY = "You have already decided on this case."
ERR_PRINCIPAL_OWN_SUBJECT = (
    "{delegator} submitted this {kind}: a delegate of theirs cannot decide it either."
)
ERR_PRINCIPAL_OWN_RECOMMENDATION = (
    "{delegator} recommended this {kind}: a delegate of theirs cannot decide it either."
)
ERR_PRINCIPAL_DECIDED_ALREADY = (
    "{delegator} has already decided on this case (in person or by a delegate)."
)
ERR_NOT_OPEN = "This case was already decided ({status}); nothing was changed."
ERR_BLOCKED = (
    "This case is blocked: {reason} Nothing can be decided until an administrator applies a policy."
)
ERR_REASON_REQUIRED = "Give a reason for the decision."
ERR_OUTCOME = "Choose approve, return or reject."

ERR_DELEGATION_SCOPE = "Your delegation does not cover this case."
ERR_DELEGATION_REVOKED = "Your delegation from {delegator} was revoked on {when}."
ERR_DELEGATION_EXPIRED = "Your delegation from {delegator} ended on {when}."
ERR_DELEGATION_NOT_STARTED = "Your delegation from {delegator} starts on {when}."
ERR_DELEGATION_CEILING = (
    "This case's amount ({amount}) is above the ceiling of your delegation from {delegator} "
    "({ceiling})."
)
ERR_DELEGATION_NOT_GRANTED = (
    "Your delegation from {delegator} has not been granted on the program yet; try again in a "
    "minute."
)
ERR_DELEGATOR_LOST_AUTHORITY = (
    "{delegator} no longer holds the authority they delegated to you, so neither do you."
)

ERR_NOT_MAKER = "Only the person who submitted this {kind} may recall it."
ERR_RECALL_AFTER_DECISION = (
    "A decision was already recorded on this case: it can no longer be recalled."
)

ERR_NO_POLICY = "No active approval policy covers {program} for this {kind}{scope} at this amount."
ERR_NO_STEP_APPLIES = "No step of the policy “{policy}” applies to this amount."
ERR_STILL_NO_POLICY = "Still no active policy covers this case; nothing was changed."
ERR_NOT_BLOCKED = "Only a blocked case can be put under a policy again."
ERR_ADMIN_ONLY = "Only an administrator may do that."

ERR_POLICY_IMMUTABLE = (
    "Version {version} of “{name}” is {status} and cannot be changed: make a new version."
)
ERR_POLICY_NO_STEPS = "A policy needs at least one step before it can be activated."
ERR_POLICY_AMBIGUOUS = (
    "The active policy “{other}” already covers the same program, subject kind, scope key and "
    "amounts: retire it or narrow one of the two."
)
ERR_POLICY_NOT_DRAFT = "Only a draft version can be activated."

ERR_DELEGATE_NOT_ALLOWED = "Only the delegator or an administrator may do that."
ERR_DELEGATOR_NO_AUTHORITY = (
    "{delegator} does not hold the authority to decide cases of {program} in their own right, "
    "so cannot delegate it (delegated authority cannot be delegated again)."
)
ERR_DELEGATE_INVALID = "Delegate to another active staff member."
ERR_DELEGATION_WINDOW = "The delegation must end after it starts, and in the future."
ERR_DELEGATION_TOO_LONG = "A delegation may last at most {days} days."
ERR_DELEGATION_OVERLAP = (
    "{delegator} already has a delegation for the same scope in that period: revoke it first "
    "or choose other dates."
)
ERR_DELEGATION_CEILING_INVALID = "Enter an amount ceiling of zero or more."
ERR_DELEGATION_REASON = "Give the reason for the delegation."
ERR_DELEGATION_ENDED = "This delegation has already ended; nothing was changed."

# Separation of duties as data (`DutyConflict`): {holder} is the rule's holder label
# (e.g. “Auditor”), {duty} its duty label.
ERR_DUTY_DECIDE = (
    "Separation of duties: the role “{holder}” may not decide approval cases, directly or by "
    "delegation."
)
ERR_DUTY_DELEGATE = (
    "Separation of duties: {delegate} holds the role “{holder}”, which may not decide approval "
    "cases, directly or by delegation."
)
ERR_DUTY_DELEGATOR = (
    "Separation of duties: {delegator} holds the role “{holder}”, which may not decide approval "
    "cases nor lend that authority."
)
ERR_DUTY_GRANT = (
    "Separation of duties: {user} holds the role “{holder}”, which may not be given authority "
    "to decide approval cases."
)
ERR_DUTY_SUBJECT = (
    "Separation of duties: as “{holder}” of this {kind}'s subject you may not decide it "
    "(“{duty}”); someone else must."
)
ERR_DUTY_PRINCIPAL_SUBJECT = (
    "Separation of duties: {delegator} is “{holder}” of this {kind}'s subject (“{duty}”), so "
    "a delegate of theirs cannot decide it either."
)


class GovernanceError(ValidationError):
    """A refused governance operation; its message says why and nothing was written."""
