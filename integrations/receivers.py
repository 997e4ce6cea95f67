"""Receivers registered in `IntegrationsConfig.ready()`.

- Every history row written during an API call names the OAuth client in its change reason,
  so each change a client makes is attributable to it (the history user is the user the
  client acts for): a `pre_create_historical_record` signal receiver.
- The facts the other apps announce (`core.events`) become webhook events: a request's
  submission and each change of its status, an approval case's decision, a committed
  allocation round, posted ledger transfers and a clearing cycle's settlement. Each handler
  runs in the transaction of the change, so its event commits or rolls back with it, and none
  of those apps knows of webhooks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.utils import timezone
from simple_history.models import HistoricalRecords

from allocations.selectors import round_commitment

from .models import EventType
from .outbox import wanted
from .services.webhooks import deferred_memo, emit, emit_many

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from allocations.models import AllocationRound
    from governance.models import ApprovalCase
    from ledger.models import ClearingCycle
    from service_requests.models import ServiceRequest

MAX_REASON = 100


def name_client_in_history(sender: Any, history_instance: Any, **kwargs: Any) -> None:
    """`pre_create_historical_record`: add "via API client #<id>" to the change reason."""
    request = getattr(HistoricalRecords.context, "request", None)
    application = getattr(request, "hms_api_client", None)
    if application is None or not hasattr(history_instance, "history_change_reason"):
        return
    note = f"via API client #{application.pk}"
    reason = history_instance.history_change_reason or ""
    combined = f"{reason} ({note})" if reason else note
    if len(combined) > MAX_REASON:
        combined = reason[: MAX_REASON - len(note) - 3] + f" ({note})"
    history_instance.history_change_reason = combined


def _request_data(request: ServiceRequest, **extra: Any) -> dict[str, Any]:
    """What a request event says: no contact details (receivers fetch them with the scope)."""
    return {
        "tracking_number": request.tracking_number,
        "service_type": request.service_type.code,
        "status": str(request.status),
        "submitted_at": request.submitted_at,
        "url": f"{settings.SITE_URL}/api/v1/requests/{request.tracking_number}/",
        **extra,
    }


def _may_see(request: ServiceRequest) -> Any:
    """The audience of a request's events: its requester and the staff who may see it. Staff
    see requests by service type (`requests_for_staff`), so inside a `deferred()` block the
    answer for one user and service type is asked once for all the block's requests."""
    from service_requests.selectors import requests_for_staff

    memo = deferred_memo()

    def visible(user: User) -> bool:
        if user.pk == request.requester_id:
            return True
        key = ("staff-sees-service-type", user.pk, request.service_type_id)
        if memo is not None and key in memo:
            return bool(memo[key])
        answer = requests_for_staff(user=user).filter(pk=request.pk).exists()
        if memo is not None:
            memo[key] = answer
        return answer

    return visible


def request_submitted(*, request: ServiceRequest, **_: Any) -> None:
    """`REQUEST_SUBMITTED`: a new request, in the transaction that created it."""
    if not wanted(EventType.REQUEST_SUBMITTED):
        return
    emit(EventType.REQUEST_SUBMITTED, _request_data(request), audience=_may_see(request))


def request_status_changed(
    *, request: ServiceRequest, source: Any, target: Any, transition: str, **_: Any
) -> None:
    """`REQUEST_STATUS_CHANGED`: a transition of a request (inside the service's transaction,
    just before it saves the request)."""
    if source == target or not wanted(EventType.REQUEST_STATUS_CHANGED):
        return
    emit(
        EventType.REQUEST_STATUS_CHANGED,
        _request_data(
            request,
            previous_status=str(source),
            transition=transition,
            changed_at=timezone.now(),
        ),
        audience=_may_see(request),
    )


def case_decided(*, case: ApprovalCase, outcome: str, **_: Any) -> None:
    """`CASE_DECIDED`: an approval case was approved or rejected. Told to the clients acting
    for people who may see the case's program: its deciders and reviewers, and staff who see
    every request."""
    if not wanted(EventType.CASE_DECIDED):
        return
    program_id = case.program_id

    def visible(user: User) -> bool:
        from governance.selectors import programs_decided_by, programs_reviewed_by

        if not user.has_perm("governance.view_approvalcase"):
            return False
        if user.is_superuser or user.has_perm("service_requests.view_all_requests"):
            return True
        return (
            programs_decided_by(user=user).filter(pk=program_id).exists()
            or programs_reviewed_by(user=user).filter(pk=program_id).exists()
        )

    emit(
        EventType.CASE_DECIDED,
        {
            "case": case.pk,
            "program": case.program.code,
            "subject_kind": case.subject_kind,
            "subject_label": case.subject_label,
            "status": outcome,
            "decided_at": timezone.now(),
        },
        audience=visible,
    )


def round_committed(**data: Any) -> None:
    """`ROUND_COMMITTED` (`round`: the committed AllocationRound): what it granted, in total
    and in how many grants (`allocations.selectors.round_commitment`)."""
    if not wanted(EventType.ROUND_COMMITTED):
        return
    round_: AllocationRound = data["round"]
    commitment = round_commitment(round_)
    emit(
        EventType.ROUND_COMMITTED,
        {
            "round": round_.pk,
            "fund": round_.fund.code,
            "rule": round_.rule,
            "budget_minor": round_.budget_minor,
            "granted_minor": commitment.granted_minor,
            "currency": round_.currency,
            "grants": commitment.grants,
            "input_sha256": round_.input_sha256,
        },
    )


def cycle_settled(*, cycle: ClearingCycle, **_: Any) -> None:
    """`CYCLE_SETTLED`: a clearing cycle was settled."""
    if not wanted(EventType.CYCLE_SETTLED):
        return
    emit(
        EventType.CYCLE_SETTLED,
        {
            "cycle": cycle.pk,
            "currency": cycle.currency,
            "window_start": cycle.window_start,
            "window_end": cycle.window_end,
            "settled_at": cycle.settled_at,
            "transfer_count": cycle.transfer_count,
            "participant_count": cycle.participant_count,
            "settlement_credit_minor": cycle.settlement_credit_minor,
            "settlement_debit_minor": cycle.settlement_debit_minor,
        },
    )


def transfers_written(*, transfers: Sequence[Any], **_: Any) -> None:
    """`TRANSFERS_POSTED`: `transfer.posted` for each transfer that moved money now (the
    ledger announces only those: single-phase transfers and posted pending ones), in the
    transaction that wrote them. Account codes come from one query, whatever the batch's
    size."""
    posted = list(transfers)
    if not posted or not wanted(EventType.TRANSFER_POSTED):
        return
    from ledger.models import Account

    ids = {t.debit_account_id for t in posted} | {t.credit_account_id for t in posted}
    codes = dict(Account.objects.filter(pk__in=ids).values_list("pk", "code"))
    emit_many(
        EventType.TRANSFER_POSTED,
        [
            {
                "sequence": t.sequence,
                "idempotency_key": t.idempotency_key,
                "kind": str(t.kind),
                "debit_account": codes.get(t.debit_account_id),
                "credit_account": codes.get(t.credit_account_id),
                "amount_minor": t.amount_minor,
                "currency": t.currency,
                "reference": t.reference,
                "created_at": t.created_at,
                "hash": t.hash,
            }
            for t in posted
        ],
    )
