"""Signal receivers connected in `IntegrationsConfig.ready()`.

- Every history row written during an API call names the OAuth client in its change reason,
  so each change a client makes is attributable to it (the history user is the user the
  client acts for).
- A request's submission and each change of its status, an approval case's decision and a
  clearing cycle's settlement emit webhook events, in the transaction of the change, without
  those apps knowing of webhooks (ledger and governance may not import integrations).
- `transfers_written` is the handler for posted transfers. The ledger writes transfers with
  raw SQL (no model signals), so it has a hook of its own: the listener registry
  `ledger.hooks`, called by every write path inside its transaction with the transfers it
  wrote. This module registers the handler there when `IntegrationsConfig.ready()` imports it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.utils import timezone
from simple_history.models import HistoricalRecords

from core import events as core_events

from .events import deferred_memo, emit, emit_many, wanted
from .models import EventType

if TYPE_CHECKING:
    from django.contrib.auth.models import User

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


def request_submitted(sender: Any, instance: Any, history_instance: Any, **kwargs: Any) -> None:
    """`post_create_historical_record` of a request: its creation is a submission."""
    if history_instance.history_type != "+" or not wanted(EventType.REQUEST_SUBMITTED):
        return
    emit(EventType.REQUEST_SUBMITTED, _request_data(instance), audience=_may_see(instance))


def request_status_changed(
    sender: Any, instance: Any, name: str, source: Any, target: Any, **kwargs: Any
) -> None:
    """django-fsm's `post_transition` of a request (inside the service's transaction, just
    before it saves the request)."""
    if source == target or not wanted(EventType.REQUEST_STATUS_CHANGED):
        return
    emit(
        EventType.REQUEST_STATUS_CHANGED,
        _request_data(
            instance,
            previous_status=str(source),
            transition=name,
            changed_at=timezone.now(),
        ),
        audience=_may_see(instance),
    )


def _status_became(history_instance: Any, targets: set[str]) -> str | None:
    """The new status when this history row moved the object into one of `targets`."""
    new = str(getattr(history_instance, "status", ""))
    if new not in targets:
        return None
    if history_instance.history_type == "+":
        return new
    before = history_instance.prev_record
    if before is not None and str(before.status) == new:
        return None
    return new


def case_decided(sender: Any, instance: Any, history_instance: Any, **kwargs: Any) -> None:
    """`post_create_historical_record` of an approval case: approved or rejected."""
    if not wanted(EventType.CASE_DECIDED):
        return
    outcome = _status_became(history_instance, {"approved", "rejected"})
    if outcome is None:
        return
    program_id = instance.program_id

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
            "case": instance.pk,
            "program": instance.program.code,
            "subject_kind": instance.subject_kind,
            "subject_label": instance.subject_label,
            "status": outcome,
            "decided_at": timezone.now(),
        },
        audience=visible,
    )


def cycle_settled(sender: Any, instance: Any, history_instance: Any, **kwargs: Any) -> None:
    """`post_create_historical_record` of a clearing cycle: it became settled."""
    if not wanted(EventType.CYCLE_SETTLED):
        return
    if _status_became(history_instance, {"settled"}) is None:
        return
    emit(
        EventType.CYCLE_SETTLED,
        {
            "cycle": instance.pk,
            "currency": instance.currency,
            "window_start": instance.window_start,
            "window_end": instance.window_end,
            "settled_at": instance.settled_at,
            "transfer_count": instance.transfer_count,
            "participant_count": instance.participant_count,
            "settlement_credit_minor": instance.settlement_credit_minor,
            "settlement_debit_minor": instance.settlement_debit_minor,
        },
    )


def transfers_written(transfers: Sequence[Any]) -> None:
    """For the ledger's hook (see the module's doc): `transfer.posted` for each transfer that
    moved money now (the hook passes only those: single-phase transfers and posted pending
    ones), in the transaction that wrote them. Account codes come from one query, whatever the
    batch's size."""
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


core_events.subscribe(core_events.TRANSFERS_POSTED, transfers_written)
