"""Admin for clearing: participants' bank details, clearing cycles and their net positions.

Cycles open, close, settle and get their ACH file through actions that call the services; the
cycle page shows the file's generation progress and, to finance, its download link.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.forms.models import construct_instance
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _
from unfold.decorators import action, display

from core.admin import (
    HistoryModelAdmin,
    ReadOnlyHistoryModelAdmin,
    ReadOnlyModelAdmin,
    format_money,
)
from core.authn.reauth import require_recent_authentication

from .. import conf as ledger_conf
from .. import selectors, services
from ..models import BankAccount, ClearingCycle, NetPosition

DOWNLOAD_PERMISSION = "ledger.download_ach_file"
SETTLE_PERMISSION = "ledger.settle_clearingcycle"


class BankAccountForm(forms.ModelForm):
    """Bank details on entry: the routing check digit is verified, the account number is
    write-only (never rendered back; left blank on a change, the stored one is kept)."""

    account_number = forms.CharField(
        label=_("account number"),
        max_length=17,
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=_("Never shown again. Leave blank to keep the stored number."),
    )

    class Meta:
        model = BankAccount
        fields = (
            "account",
            "holder_name",
            "holder_kind",
            "routing_number",
            "account_type",
            "identification",
        )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        if "account" in self.fields:
            self.fields["account"].queryset = selectors.participant_accounts()  # type: ignore[attr-defined]

    def clean_routing_number(self) -> str:
        routing: str = self.cleaned_data["routing_number"]
        try:
            services.bank_account_validate_routing(routing)
        except ValidationError as refused:
            raise forms.ValidationError(refused.messages[0]) from None
        return routing

    def clean_account_number(self) -> str:
        number: str = self.cleaned_data.get("account_number", "")
        if not number and self.instance.pk is None:
            raise forms.ValidationError(_("An account number is required."))
        return number

    def _post_clean(self) -> None:
        # Fill the instance, but leave validating the whole row to the service, which has the
        # stored number when the form leaves it blank.
        self.instance = construct_instance(self, self.instance, self._meta.fields)


@admin.register(BankAccount)
class BankAccountAdmin(HistoryModelAdmin):
    """Participants' bank details. Numbers appear masked on every page; only the ACH file
    holds them in full."""

    form = BankAccountForm
    list_display = (
        "account",
        "holder_name",
        "holder_kind",
        "routing_number",
        "account_number_masked",
        "account_type",
    )
    list_filter = ("holder_kind", "account_type")
    search_fields = ("holder_name", "^account__code")
    list_select_related = ("account",)
    raw_id_fields = ("account",)
    readonly_fields = ("account_number_masked",)
    history_list_display = ["account_number_masked"]

    def get_readonly_fields(self, request: HttpRequest, obj: object = None) -> tuple[str, ...]:
        return ("account", "account_number_masked") if obj is not None else ()

    def get_fields(self, request: HttpRequest, obj: object = None) -> list[str]:
        fields = [
            "account",
            "holder_name",
            "holder_kind",
            "routing_number",
            "account_number_masked",
            "account_type",
            "identification",
        ]
        if obj is None:
            fields.remove("account_number_masked")
        if obj is None or self.has_change_permission(request, obj):
            # The write-only input; a read-only page would render the stored number instead.
            fields.insert(4, "account_number")
        return fields

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        # Bank details decide where money goes: the password or second factor, recently.
        if request.method == "POST":
            require_recent_authentication(request)
        return super().changeform_view(request, object_id, form_url, extra_context)

    def save_model(
        self, request: HttpRequest, obj: BankAccount, form: forms.ModelForm, change: bool
    ) -> None:
        saved = services.bank_account_save(
            actor=request.user,  # type: ignore[arg-type]
            account_id=obj.account_id,
            holder_name=obj.holder_name,
            holder_kind=obj.holder_kind,
            routing_number=obj.routing_number,
            account_number=form.cleaned_data.get("account_number", ""),
            account_type=obj.account_type,
            identification=obj.identification,
        )
        obj.pk = saved.pk
        obj.account_number_masked = saved.account_number_masked


@admin.register(NetPosition)
class NetPositionAdmin(ReadOnlyModelAdmin):
    """The net positions of each cycle (credits less debits of its transfers, per account)."""

    list_display = ("cycle", "account", "participant", "net", "settlement_transfer")
    list_filter = ("participant", "cycle")
    search_fields = ("^account__code", "=cycle__id")
    list_select_related = ("cycle", "account", "settlement_transfer")
    raw_id_fields = ("cycle", "account", "settlement_transfer")
    ordering = ("-cycle_id", "account__code")
    list_per_page = 100
    show_full_result_count = False

    @display(description=_("net"), ordering="net_minor")
    def net(self, obj: NetPosition) -> str:
        return format_money(obj.net_minor, obj.cycle.currency)


@admin.register(ClearingCycle)
class ClearingCycleAdmin(ReadOnlyHistoryModelAdmin):
    """Clearing cycles: close, settle and generate the ACH file through actions (services);
    the page shows the generation's progress and, to finance, the file's download link."""

    list_display = (
        "id",
        "window_start",
        "window_end",
        "status",
        "transfer_count",
        "participant_count",
        "credits",
        "debits",
        "file_ready",
    )
    list_filter = ("status", "currency")
    search_fields = ("=id",)
    list_select_related = ("created_by",)
    raw_id_fields = ("created_by",)
    ordering = ("-window_end", "-id")
    actions = ("close_cycles", "settle_cycles", "generate_files")
    actions_list = ("open_next_cycle",)
    readonly_fields = (
        "window_start",
        "window_end",
        "currency",
        "status",
        "closed_at",
        "settled_at",
        "first_sequence",
        "last_sequence",
        "transfer_count",
        "participant_count",
        "credits",
        "debits",
        "odfi_routing",
        "company_name",
        "company_identification",
        "progress",
        "download",
        "ach_sha256",
        "created_by",
        "created_at",
    )
    fields = readonly_fields

    def has_settle_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(SETTLE_PERMISSION)

    def has_download_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(DOWNLOAD_PERMISSION)

    @display(description=_("credits"))
    def credits(self, obj: ClearingCycle) -> str:
        return format_money(obj.settlement_credit_minor, obj.currency)

    @display(description=_("debits"))
    def debits(self, obj: ClearingCycle) -> str:
        return format_money(obj.settlement_debit_minor, obj.currency)

    @display(description=_("file"), boolean=True)
    def file_ready(self, obj: ClearingCycle) -> bool:
        return bool(obj.ach_sha256)

    @display(description=_("generation progress"))
    def progress(self, obj: ClearingCycle) -> str | SafeString:
        if not obj.progress_note:
            return "—"
        running = obj.progress_note not in ("done",) and not obj.progress_note.startswith("refused")
        # While the task runs the page reloads itself every 3 seconds (no script needed).
        refresh = format_html('<meta http-equiv="refresh" content="3">') if running else ""
        return format_html(
            "{} / {} · {}{}", obj.progress_done, obj.progress_total, obj.progress_note, refresh
        )

    @display(description=_("ACH file"))
    def download(self, obj: ClearingCycle) -> str | SafeString:
        if not obj.ach_sha256:
            return "—"
        url = reverse("admin:ledger_clearingcycle_download", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, _("Download (finance only)"))

    def get_urls(self) -> list[URLPattern]:
        extra = [
            path(
                "<int:object_id>/ach-file/",
                self.admin_site.admin_view(self.download_view),
                name="ledger_clearingcycle_download",
            )
        ]
        return extra + super().get_urls()

    def download_view(self, request: HttpRequest, object_id: int) -> FileResponse:
        """The stored ACH file, for holders of `ledger.download_ach_file` only (403 otherwise)."""
        if not self.has_download_permission(request):
            raise PermissionDenied
        cycle = selectors.cycle_find(cycle_id=object_id)
        if cycle is None or not cycle.ach_sha256:
            raise Http404(_("No ACH file for this cycle."))
        data = selectors.cycle_file_bytes(cycle)
        response = FileResponse(
            iter([data]),
            as_attachment=True,
            filename=f"hms-cycle-{cycle.pk}.ach",
            content_type="text/plain; charset=us-ascii",
        )
        response["Content-Length"] = str(len(data))
        return response

    def _each(
        self, request: HttpRequest, queryset: QuerySet[ClearingCycle], service: object, done: str
    ) -> None:
        for cycle in queryset:
            try:
                service(actor=request.user, cycle_id=cycle.pk)  # type: ignore[operator]
            except ValidationError as refused:
                self.message_user(request, refused.messages[0], messages.ERROR)
            else:
                self.message_user(request, done.format(cycle=cycle.pk), messages.SUCCESS)

    @action(description=_("Open the next cycle"), url_path="open-next", permissions=["settle"])
    def open_next_cycle(self, request: HttpRequest) -> HttpResponse:
        """The changelist's button: a confirmation page (GET), then the cycle opens (POST)."""
        changelist = reverse("admin:ledger_clearingcycle_changelist")
        if request.method != "POST":
            context = {
                **self.admin_site.each_context(request),
                "title": _("Open the next clearing cycle"),
                "opts": self.model._meta,
                "hours": ledger_conf.get("CYCLE_HOURS"),
                "open_cycles": selectors.cycles_open(),
            }
            return TemplateResponse(request, "ledger/admin_open_cycle.html", context)
        try:
            cycle = services.cycle_open_next(actor=request.user)  # type: ignore[arg-type]
        except ValidationError as refused:
            self.message_user(request, refused.messages[0], messages.ERROR)
        else:
            self.message_user(
                request,
                _("Cycle %(cycle)s opened: %(start)s to %(end)s.")
                % {
                    "cycle": cycle.pk,
                    "start": cycle.window_start.isoformat(timespec="seconds"),
                    "end": cycle.window_end.isoformat(timespec="seconds"),
                },
                messages.SUCCESS,
            )
        return HttpResponseRedirect(changelist)

    @admin.action(description=_("Close the cycle (net positions)"), permissions=["settle"])
    def close_cycles(self, request: HttpRequest, queryset: QuerySet[ClearingCycle]) -> None:
        self._each(request, queryset, services.cycle_close, "Cycle {cycle} closed.")

    @admin.action(description=_("Settle the cycle"), permissions=["settle"])
    def settle_cycles(self, request: HttpRequest, queryset: QuerySet[ClearingCycle]) -> None:
        self._each(request, queryset, services.cycle_settle, "Cycle {cycle} settled.")

    @admin.action(description=_("Generate ACH file"), permissions=["download"])
    def generate_files(self, request: HttpRequest, queryset: QuerySet[ClearingCycle]) -> None:
        for cycle in queryset:
            try:
                services.cycle_file_request(actor=request.user, cycle_id=cycle.pk)  # type: ignore[arg-type]
            except services.ClearingError as refused:
                self.message_user(request, refused.messages[0], messages.ERROR)
                continue
            self.message_user(request, f"ACH file for cycle {cycle.pk} queued.", messages.SUCCESS)
