"""The actions that move allocation rounds, each a service call: open, freeze, compute (a Celery
task for large rounds), send for approval, commit, cancel."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from core.admin import HistoryModelAdmin

from .. import conf, services
from ..models import COMMIT_ROUND_PERMISSION, RUN_ROUND_PERMISSION, AllocationRound, RoundState


class RoundActions(HistoryModelAdmin):
    """The round admin's actions and the permissions they ask for (its base class)."""

    actions = (
        "open_rounds",
        "freeze_rounds",
        "compute_rounds",
        "send_rounds_for_approval",
        "commit_rounds",
        "cancel_rounds",
    )

    def has_run_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm(RUN_ROUND_PERMISSION))

    def has_commit_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm(COMMIT_ROUND_PERMISSION))

    def _each(
        self,
        request: HttpRequest,
        queryset: QuerySet[AllocationRound],
        service: Any,
        done: str,
    ) -> None:
        for round_ in queryset:
            try:
                service(actor=request.user, round_id=round_.pk)
            except ValidationError as refused:
                self.message_user(request, refused.messages[0], messages.ERROR)
            else:
                self.message_user(request, done.format(name=round_.name), messages.SUCCESS)

    @admin.action(description=_("Open (gather waiting claims)"), permissions=["run"])
    def open_rounds(self, request: HttpRequest, queryset: QuerySet[AllocationRound]) -> None:
        self._each(request, queryset, services.round_open, "“{name}” is open: claims gathered.")

    @admin.action(description=_("Freeze the inputs"), permissions=["run"])
    def freeze_rounds(self, request: HttpRequest, queryset: QuerySet[AllocationRound]) -> None:
        self._each(request, queryset, services.round_freeze, "“{name}” is frozen.")

    @admin.action(description=_("Compute the grants"), permissions=["run"])
    def compute_rounds(self, request: HttpRequest, queryset: QuerySet[AllocationRound]) -> None:
        threshold = int(conf.get("ASYNC_CLAIMS"))
        for round_ in queryset:
            if round_.state == RoundState.FROZEN and round_.claims.count() > threshold:
                try:
                    services.round_compute_request(actor=request.user, round_id=round_.pk)  # type: ignore[arg-type]
                except ValidationError as refused:
                    self.message_user(request, refused.messages[0], messages.ERROR)
                    continue
                self.message_user(
                    request,
                    f"“{round_.name}” is being computed; its page shows the progress.",
                    messages.SUCCESS,
                )
                continue
            self._each(
                request,
                AllocationRound.objects.filter(pk=round_.pk),
                services.round_compute,
                "“{name}” is computed.",
            )

    @admin.action(description=_("Send for approval"), permissions=["run"])
    def send_rounds_for_approval(
        self, request: HttpRequest, queryset: QuerySet[AllocationRound]
    ) -> None:
        self._each(
            request,
            queryset,
            services.round_send_for_approval,
            "“{name}” was sent for approval.",
        )

    @admin.action(description=_("Commit into the ledger"), permissions=["commit"])
    def commit_rounds(self, request: HttpRequest, queryset: QuerySet[AllocationRound]) -> None:
        self._each(
            request,
            queryset,
            services.round_commit,
            "“{name}” is committed: its obligations are in the ledger.",
        )

    @admin.action(description=_("Cancel"), permissions=["run"])
    def cancel_rounds(self, request: HttpRequest, queryset: QuerySet[AllocationRound]) -> None:
        self._each(request, queryset, services.round_cancel, "“{name}” was cancelled.")
