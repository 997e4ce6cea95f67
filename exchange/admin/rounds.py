"""The exchange round admin: the add form (through `services.round_create`), the round's page
read-only, and the actions open, close ranking, freeze, solve, send for approval, commit,
cancel. Approval itself is a decision on each cycle's case in the governance workflow, by
someone other than the officers who solved and sent the round."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _
from unfold.decorators import display

from core.admin import HistoryModelAdmin

from .. import services
from ..forms import add_refusal
from ..models import (
    COMMIT_EXCHANGE_PERMISSION,
    RUN_EXCHANGE_PERMISSION,
    SOLVED_STATES,
    ExchangeRound,
)

ADD_FIELDS = [
    "program",
    "title",
    "description",
    "item_kind",
    "rule",
    "max_cycle",
    "seed",
    "currency",
    "settlement_account",
    "opens_at",
    "closes_at",
]


class ExchangeRoundForm(forms.ModelForm):
    """A new round, checked with the service's own helper so mistakes show on the form."""

    class Meta:
        model = ExchangeRound
        fields = ADD_FIELDS

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        try:
            services.round_validate_terms(
                opens_at=data["opens_at"],
                closes_at=data["closes_at"],
                max_cycle=data["max_cycle"],
                currency=data["currency"],
                settlement_account=data.get("settlement_account"),
            )
        except services.ExchangeError as refused:
            add_refusal(self, refused)
        return data


@admin.register(ExchangeRound)
class ExchangeRoundAdmin(HistoryModelAdmin):
    """Rounds with their states; every transition is an action calling a service."""

    form = ExchangeRoundForm
    list_display = ("title", "program", "rule", "state", "opens_at", "closes_at", "created_at")
    list_filter = ("state", "rule", "item_kind", "program")
    search_fields = ("title", "=input_sha256")
    list_select_related = ("program",)
    raw_id_fields = ("settlement_account",)
    ordering = ("-created_at", "-pk")
    readonly_fields = (
        *ADD_FIELDS,
        "state",
        "input_sha256",
        "created_by",
        "solved_by",
        "sent_by",
        "solved_at",
        "committed_at",
        "pages",
    )
    actions = (
        "open_rounds",
        "close_ranking",
        "freeze_rounds",
        "solve_rounds",
        "send_for_approval",
        "commit_rounds",
        "cancel_rounds",
    )

    def has_run_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm(RUN_EXCHANGE_PERMISSION))

    def has_commit_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm(COMMIT_EXCHANGE_PERMISSION))

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # rounds move only through the actions

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ADD_FIELDS if obj is None else list(self.readonly_fields)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.readonly_fields if obj is not None else ()

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        data = {name: form.cleaned_data.get(name) for name in ADD_FIELDS}
        data["description"] = data["description"] or ""
        created = services.round_create(actor=request.user, **data)  # type: ignore[arg-type]
        obj.pk = created.pk

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        pass

    @display(description=_("pages"))
    def pages(self, obj: ExchangeRound) -> str | SafeString:
        page = reverse("exchange:round", args=[obj.pk])
        if obj.state not in SOLVED_STATES:
            return format_html('<a href="{}">{}</a>', page, page)
        results = reverse("exchange:results", args=[obj.pk])
        cycles = reverse("admin:exchange_exchangecycle_changelist") + f"?round__id__exact={obj.pk}"
        return format_html(
            '<a href="{}">{}</a> · <a href="{}">{}</a> · <a href="{}">{}</a>',
            page,
            page,
            results,
            results,
            cycles,
            _("cycles"),
        )

    def _each(
        self, request: HttpRequest, queryset: QuerySet[ExchangeRound], service: Any, done: str
    ) -> None:
        for round_ in queryset:
            try:
                service(actor=request.user, round_id=round_.pk)
            except ValidationError as refused:
                self.message_user(request, " ".join(refused.messages), messages.ERROR)
            else:
                self.message_user(request, done.format(title=round_.title), messages.SUCCESS)

    @admin.action(description=_("Open for listing and ranking"), permissions=["run"])
    def open_rounds(self, request: HttpRequest, queryset: QuerySet[ExchangeRound]) -> None:
        self._each(request, queryset, services.round_open, "“{title}” is open.")

    @admin.action(description=_("Close ranking now"), permissions=["run"])
    def close_ranking(self, request: HttpRequest, queryset: QuerySet[ExchangeRound]) -> None:
        self._each(
            request, queryset, services.round_close_window, "Ranking for “{title}” is closed."
        )

    @admin.action(description=_("Freeze the inputs"), permissions=["run"])
    def freeze_rounds(self, request: HttpRequest, queryset: QuerySet[ExchangeRound]) -> None:
        self._each(request, queryset, services.round_freeze, "“{title}” is frozen.")

    @admin.action(description=_("Solve"), permissions=["run"])
    def solve_rounds(self, request: HttpRequest, queryset: QuerySet[ExchangeRound]) -> None:
        self._each(request, queryset, services.round_solve, "“{title}” is solved.")

    @admin.action(description=_("Send the cycles for approval"), permissions=["run"])
    def send_for_approval(self, request: HttpRequest, queryset: QuerySet[ExchangeRound]) -> None:
        self._each(
            request,
            queryset,
            services.round_send_for_approval,
            "“{title}”: each cycle was sent for approval.",
        )

    @admin.action(description=_("Commit the approved cycles"), permissions=["commit"])
    def commit_rounds(self, request: HttpRequest, queryset: QuerySet[ExchangeRound]) -> None:
        self._each(
            request, queryset, services.round_commit, "“{title}”: the approved cycles committed."
        )

    @admin.action(description=_("Cancel"), permissions=["run"])
    def cancel_rounds(self, request: HttpRequest, queryset: QuerySet[ExchangeRound]) -> None:
        self._each(request, queryset, services.round_cancel, "“{title}” was cancelled.")
