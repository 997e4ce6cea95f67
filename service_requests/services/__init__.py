"""Every change to a civilian's request and to the drafts of requests being filed. One
transaction each; callers pass the acting user (`actor`, keyword-only, first).

Each service re-reads the request with SELECT ... FOR UPDATE and checks that its state still
allows the step, so a second click or a stale admin page gets a clear refusal and changes
nothing. The request's history row names the actor. Emails are outbox rows
(`RequestEvent.notify`) sent by a task enqueued on commit.

`actor` is the signed-in user. Where no person with an account acts it is None: a visitor
filing without an account (the draft services) and the outbox's Celery tasks; nothing with a
history is written under a None actor.

- `requests`: filing a request, its tracking number, assignment, withdrawal.
- `assignment`: who reviews a request (round robin, least loaded, manual), the unassigned
  queue, reassignment, absences, caps, conflicts of interest, the reviewers' loads.
- `review`: the review steps, governance's decision, fulfilment.
- `funding`: requests funded when their claims are granted (one fund's waiting claims, or an
  allocation round's grants in bulk).
- `attachments`, `satisfaction`: the civilian's documents and rating.
- `drafts`: filing in steps, without an account through an emailed link, and claiming.
- `notifications`: the outbox's emails.
- `catalogue`: the service types civilians file for.
- `imports`: requests and timelines brought in from the old systems (`integrations.dataio`
  imports the module itself; nothing of it is re-exported here).
- `common`: the locked re-read, checked transition, history row and timeline event the
  services share.
"""

from ..errors import RequestError, text_validate_printable
from .assignment import (
    ERR_ABSENCE_NOT_ALLOWED,
    ERR_FLAG_SELF,
    absence_add,
    absence_validate,
    absences_begin,
    assignment_rule_save,
    assignment_rule_validate,
    conflict_flag,
    loads_recount,
    may_enter_absence,
    profile_validate,
    reassign_validate,
    request_reassign,
    reviewer_profile_save,
)
from .attachments import attachments_add, attachments_validate
from .catalogue import service_type_save
from .drafts import (
    draft_add_files,
    draft_remove_file,
    draft_request_verification,
    draft_save,
    draft_submit,
    drafts_purge,
    filer_for,
    guest_user_for,
    request_claim,
)
from .funding import requests_on_claims_granted
from .notifications import draft_verification_send, event_email_send
from .requests import (
    request_answers,
    request_assign,
    request_submit,
    request_validate_amount,
    request_validate_resubmission,
    request_withdraw,
)
from .review import (
    SUBJECT_KIND,
    request_ask_info,
    request_fulfil,
    request_on_decision,
    request_provide_info,
    request_recommend,
    request_start_review,
    request_validate_note,
)
from .satisfaction import request_rate, request_validate_rating

__all__ = [
    "ERR_ABSENCE_NOT_ALLOWED",
    "ERR_FLAG_SELF",
    "SUBJECT_KIND",
    "RequestError",
    "absence_add",
    "absence_validate",
    "absences_begin",
    "assignment_rule_save",
    "assignment_rule_validate",
    "attachments_add",
    "attachments_validate",
    "conflict_flag",
    "draft_add_files",
    "draft_remove_file",
    "draft_request_verification",
    "draft_save",
    "draft_submit",
    "draft_verification_send",
    "drafts_purge",
    "event_email_send",
    "filer_for",
    "guest_user_for",
    "loads_recount",
    "may_enter_absence",
    "profile_validate",
    "reassign_validate",
    "request_answers",
    "request_ask_info",
    "request_assign",
    "request_claim",
    "request_fulfil",
    "request_on_decision",
    "request_provide_info",
    "request_rate",
    "request_reassign",
    "request_recommend",
    "request_start_review",
    "request_submit",
    "request_validate_amount",
    "request_validate_note",
    "request_validate_rating",
    "request_validate_resubmission",
    "request_withdraw",
    "requests_on_claims_granted",
    "reviewer_profile_save",
    "service_type_save",
    "text_validate_printable",
]
