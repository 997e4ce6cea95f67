"""Integrations in the staff admin: API clients (registered and revoked here), webhook
subscriptions, events and their deliveries (seen, and replayed).

django-oauth-toolkit's own admin pages are replaced: a client is registered here in one form
(name, the user it acts for, its scopes and rate) and its secret is shown once, at creation.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from oauth2_provider.models import (
    get_access_token_model,
    get_application_model,
    get_grant_model,
    get_id_token_model,
    get_refresh_token_model,
)
from oauth2_provider.settings import oauth2_settings
from unfold.admin import TabularInline
from unfold.decorators import action as unfold_action
from unfold.decorators import display
from unfold.widgets import (
    UnfoldAdminFileFieldWidget,
    UnfoldAdminSelectWidget,
    UnfoldBooleanSwitchWidget,
)

from core.admin import (
    EstimatedCountPaginator,
    HistoryModelAdmin,
    ReadOnlyAdminMixin,
    ReadOnlyModelAdmin,
)
from core.authn.reauth import require_recent_authentication
from core.compression import one_time_secret_message

from . import dataio, services
from .dataio.tables import max_bytes
from .models import (
    ApiClient,
    DataImport,
    DataImportOutcome,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    Event,
    Subscription,
)
from .outbox import EVENT_SPECS

for _model in (
    get_application_model(),
    get_access_token_model(),
    get_grant_model(),
    get_id_token_model(),
    get_refresh_token_model(),
):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)


def _adopt(obj: Any, record: Any) -> None:
    """Make the admin's unsaved form instance the row a service wrote (the admin goes on to
    log, message and redirect with it)."""
    for name, value in vars(record).items():
        if name != "_state":
            setattr(obj, name, value)
    obj._state.adding = False
    obj._state.fields_cache = dict(record._state.fields_cache)


def _scope_choices() -> list[tuple[str, str]]:
    return [(name, f"{name} — {text}") for name, text in oauth2_settings.SCOPES.items()]


class ApiClientForm(forms.ModelForm):
    """Scopes as checkboxes, the rate as text; on creation also the name and acting user."""

    scopes = forms.MultipleChoiceField(
        label=_("scopes"), choices=_scope_choices, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = ApiClient
        fields = ["scopes", "rate"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["scopes"] = self.instance.scope_list

    def clean_scopes(self) -> str:
        return " ".join(self.cleaned_data["scopes"])


class ApiClientAddForm(ApiClientForm):
    name = forms.CharField(label=_("name"), max_length=255)
    acting_username = forms.CharField(
        label=_("acts for (username)"),
        max_length=150,
        help_text=_(
            "The user whose rights the client has: a service account, or the person it works "
            "for. The client never sees or does more than this user may."
        ),
    )

    class Meta(ApiClientForm.Meta):
        fields = ["scopes", "rate"]

    def clean_acting_username(self) -> Any:
        username = self.cleaned_data["acting_username"].strip()
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise ValidationError(_("No active user has this username."))
        return user


@admin.register(ApiClient)
class ApiClientAdmin(HistoryModelAdmin):
    """Register clients (client credentials), set their scopes and rates, revoke them."""

    list_display = ("name", "client_id", "acting_user", "scopes", "rate", "active", "created_at")
    list_filter = ("active",)
    search_fields = ("application__name", "=application__client_id", "application__user__username")
    list_select_related = ("application__user",)
    readonly_fields = ("name", "client_id", "acting_user", "active", "revoked_at", "revoked_by")
    actions = ("revoke", "rotate_secret", "new_open311_key")
    ordering = ("-created_at",)

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any):  # type: ignore[no-untyped-def, override]
        kwargs["form"] = ApiClientForm if obj is not None else ApiClientAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:  # type: ignore[override]
        if obj is None:
            return ["name", "acting_username", "scopes", "rate"]
        return [*self.readonly_fields, "scopes", "rate"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return self.readonly_fields if obj is not None else ()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def add_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # Registering a client hands out a secret: the password or second factor, recently.
        if request.method == "POST":
            require_recent_authentication(request)
        return super().add_view(request, *args, **kwargs)

    @display(description=_("name"), ordering="application__name")
    def name(self, obj: ApiClient) -> str:
        return str(obj.application.name)

    @display(description=_("client id"))
    def client_id(self, obj: ApiClient) -> str:
        return str(obj.application.client_id)

    @display(description=_("acts for"), ordering="application__user__username")
    def acting_user(self, obj: ApiClient) -> str:
        user = obj.application.user
        return user.get_username() if user is not None else "—"

    def save_model(self, request: HttpRequest, obj: ApiClient, form: Any, change: bool) -> None:
        if change:
            services.client_change(
                actor=request.user,  # type: ignore[arg-type]
                client_id=obj.pk,
                scopes=obj.scopes,
                rate=obj.rate,
            )
            return
        client, secret = services.client_register(
            actor=request.user,  # type: ignore[arg-type]
            name=form.cleaned_data["name"],
            user=form.cleaned_data["acting_username"],
            scopes=obj.scopes,
            rate=obj.rate,
        )
        _adopt(obj, client)
        one_time_secret_message(
            request,
            format_html(
                "Client registered. Client id: <code>{}</code> — client secret: <code>{}</code>. "
                "Copy the secret now: it is stored hashed and will not be shown again.",
                obj.application.client_id,
                secret,
            ),
        )

    @admin.action(description=_("Revoke the selected clients (tokens end at once)"))
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiClient]) -> None:
        for client in queryset:
            services.client_revoke(actor=request.user, client_id=client.pk)  # type: ignore[arg-type]
        self.message_user(request, _("Revoked."), messages.SUCCESS)

    @admin.action(description=_("Rotate the client secret (one client)"))
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet[ApiClient]) -> None:
        if queryset.count() != 1:
            self.message_user(request, _("Choose exactly one client."), messages.ERROR)
            return
        client = queryset.get()
        try:
            secret = services.client_rotate_secret(actor=request.user, client_id=client.pk)  # type: ignore[arg-type]
        except ValidationError as error:
            self.message_user(request, error.messages[0], messages.ERROR)
            return
        one_time_secret_message(
            request, format_html("New client secret: <code>{}</code> (shown once).", secret)
        )

    @admin.action(description=_("Issue a new Open311 api_key (one client)"))
    def new_open311_key(self, request: HttpRequest, queryset: QuerySet[ApiClient]) -> None:
        if queryset.count() != 1:
            self.message_user(request, _("Choose exactly one client."), messages.ERROR)
            return
        client = queryset.get()
        try:
            key = services.client_new_open311_key(actor=request.user, client_id=client.pk)  # type: ignore[arg-type]
        except ValidationError as error:
            self.message_user(request, error.messages[0], messages.ERROR)
            return
        one_time_secret_message(
            request, format_html("New Open311 api_key: <code>{}</code> (shown once).", key)
        )


class SubscriptionForm(forms.ModelForm):
    event_types = forms.MultipleChoiceField(
        label=_("event types"),
        choices=[(t, t) for t in EVENT_SPECS],
        widget=forms.CheckboxSelectMultiple,
    )
    target_url = forms.URLField(label=_("target URL"), max_length=500, assume_scheme="https")

    class Meta:
        model = Subscription
        fields = ["client", "event_types", "target_url", "description", "active"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        client = cleaned.get("client") or getattr(self.instance, "client", None)
        if client is not None and not client.active and self.instance.pk is None:
            self.add_error("client", services.ERR_CLIENT_INACTIVE)
        elif client is not None and cleaned.get("event_types") and cleaned.get("target_url"):
            try:
                services.subscription_validate(
                    client=client,
                    event_types=cleaned["event_types"],
                    target_url=cleaned["target_url"],
                )
            except ValidationError as error:
                field = (error.params or {}).get("field")
                self.add_error(field, error.messages[0])
        return cleaned


@admin.register(Subscription)
class SubscriptionAdmin(HistoryModelAdmin):
    form = SubscriptionForm
    list_display = ("pk", "client", "target_url", "types", "active", "created_at")
    list_filter = ("active", "client")
    search_fields = ("target_url", "client__application__name")
    list_select_related = ("client__application",)
    raw_id_fields = ("client",)
    readonly_fields = ("secret_hint", "created_at")
    ordering = ("-created_at",)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @display(description=_("event types"))
    def types(self, obj: Subscription) -> str:
        return ", ".join(obj.event_types)

    @display(description=_("signing secret"))
    def secret_hint(self, obj: Subscription) -> str:
        return f"…{obj.secret[-4:]}" if obj.secret else "—"

    def save_model(self, request: HttpRequest, obj: Subscription, form: Any, change: bool) -> None:
        fields = {
            "client": obj.client,
            "event_types": obj.event_types,
            "target_url": obj.target_url,
            "description": obj.description,
            "active": obj.active,
        }
        if change:
            _adopt(
                obj,
                services.subscription_update(
                    actor=request.user,  # type: ignore[arg-type]
                    subscription_id=obj.pk,
                    **fields,
                ),
            )
            return
        subscription, _new = services.subscription_create(actor=request.user, **fields)  # type: ignore[arg-type]
        _adopt(obj, subscription)
        one_time_secret_message(
            request,
            format_html(
                "Signing secret: <code>{}</code>. Give it to the receiver now; it is not "
                "shown again here.",
                obj.secret,
            ),
        )


class DeliveryAttemptInline(ReadOnlyAdminMixin, TabularInline):
    model = DeliveryAttempt
    fields = ("number", "started_at", "duration_ms", "status_code", "error", "response_excerpt")
    readonly_fields = fields
    extra = 0


class DeliveryStatusFilter(admin.SimpleListFilter):
    title = _("status")
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> Any:
        return DeliveryStatus.choices

    def queryset(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> QuerySet[Delivery]:
        return queryset.filter(status=self.value()) if self.value() else queryset


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyModelAdmin):
    """Every delivery with each attempt; staff with the right replay them."""

    list_display = (
        "pk",
        "event_type",
        "event_id",
        "subscription",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "delivered_at",
    )
    list_filter = (DeliveryStatusFilter, "event__type", "subscription__client")
    search_fields = ("=event__id",)
    list_select_related = ("event", "subscription__client__application")
    readonly_fields = (
        "event",
        "subscription",
        "status",
        "attempts",
        "next_attempt_at",
        "give_up_at",
        "delivered_at",
        "last_status_code",
        "last_error",
        "replayed_at",
        "replayed_by",
        "created_at",
    )
    fields = readonly_fields
    inlines = (DeliveryAttemptInline,)
    actions = ("replay",)
    paginator = EstimatedCountPaginator
    show_full_result_count = False

    @display(description=_("event"), ordering="event__type")
    def event_type(self, obj: Delivery) -> str:
        return obj.event.type

    def has_replay_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("integrations.replay_delivery"))

    @admin.action(description=_("Replay the selected deliveries"), permissions=["replay"])
    def replay(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        count = 0
        for pk in queryset.values_list("pk", flat=True):
            services.delivery_replay(actor=request.user, delivery_id=pk)  # type: ignore[arg-type]
            count += 1
        self.message_user(request, _("%d deliveries will be sent again.") % count, messages.SUCCESS)


class DeliveryInline(ReadOnlyAdminMixin, TabularInline):
    model = Delivery
    fields = ("subscription", "status", "attempts", "last_status_code", "delivered_at")
    readonly_fields = fields
    extra = 0


@admin.register(Event)
class EventAdmin(ReadOnlyModelAdmin):
    list_display = ("id", "type", "created_at")
    list_filter = ("type",)
    search_fields = ("=id",)
    readonly_fields = ("id", "type", "payload", "created_at")
    fields = readonly_fields
    inlines = (DeliveryInline,)
    paginator = EstimatedCountPaginator
    show_full_result_count = False


# -- data migration ----------------------------------------------------------------------------


class DataImportForm(forms.ModelForm):
    """The upload: which kind of data, the file, and whether only to check it."""

    kind = forms.ChoiceField(
        label=_("kind"),
        choices=[(name, kind.label) for name, kind in dataio.KINDS.items()],
        widget=UnfoldAdminSelectWidget,
    )
    file = forms.FileField(
        label=_("file"),
        help_text=_("CSV (UTF-8) or XLSX, first row naming the columns."),
        widget=UnfoldAdminFileFieldWidget,
    )

    class Meta:
        model = DataImport
        fields = ["kind", "dry_run"]
        widgets = {"dry_run": UnfoldBooleanSwitchWidget}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "dry_run" in self.fields:
            self.fields["dry_run"].initial = True
            self.fields["dry_run"].help_text = _("Check every row and write nothing.")

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > max_bytes():
            raise ValidationError(
                _("The file is %(size)s bytes; at most %(limit)s bytes can be imported at once."),
                params={"size": upload.size, "limit": max_bytes()},
            )
        return upload


def _export_action(kind: str, fmt: str) -> Any:
    @unfold_action(
        description=f"{dataio.KINDS[kind].label} ({fmt.upper()})",
        url_path=f"export-{kind}-{fmt}",
        permissions=["export_data"],
    )
    def export(self: Any, request: HttpRequest) -> HttpResponse:
        data = dataio.data_export(actor=request.user, kind=kind, fmt=fmt)  # type: ignore[arg-type]
        stamp = timezone.localdate().isoformat()
        response = HttpResponse(data, content_type=_CONTENT_TYPES[fmt])
        response["Content-Disposition"] = f'attachment; filename="{kind}-{stamp}.{fmt}"'
        return response

    export.__name__ = f"export_{kind}_{fmt}"
    return export


_CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@admin.register(DataImport)
class DataImportAdmin(ReadOnlyModelAdmin):
    """Import runs: **Add** uploads a file (a dry run by default), each run's page shows every
    problem; **Export** downloads a kind of data. Finance officers and administrators only."""

    form = DataImportForm
    list_display = ("created_at", "kind", "file_name", "dry_run", "outcome", "rows", "actor")
    list_filter = ("kind", "outcome", "dry_run")
    search_fields = ("file_name", "sha256")
    list_select_related = ("actor",)
    readonly_fields = (
        "kind",
        "file_name",
        "sha256",
        "size",
        "dry_run",
        "outcome",
        "rows",
        "counts",
        "message",
        "problem_table",
        "actor",
        "created_at",
    )
    actions_list = [
        {
            "title": _("Export"),
            "items": [f"export_{kind}_{fmt}" for kind in dataio.KINDS for fmt in dataio.FORMATS],
        }
    ]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return dataio.may_import(request.user)  # type: ignore[arg-type]

    def has_export_data_permission(self, request: HttpRequest) -> bool:
        return dataio.may_export(request.user)  # type: ignore[arg-type]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:  # type: ignore[override]
        if obj is None:
            return ["kind", "file", "dry_run"]
        return list(self.readonly_fields)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return self.readonly_fields if obj is not None else ()

    @admin.display(description=_("problems"))
    def problem_table(self, obj: DataImport) -> str:
        if not obj.problems:
            return "—"
        return format_html_join(
            "\n",
            "<div>line {}, column {}: {}</div>",
            ((p["line"], p["column"] or "—", p["reason"]) for p in obj.problems),
        )

    def save_model(self, request: HttpRequest, obj: DataImport, form: Any, change: bool) -> None:
        upload = form.cleaned_data["file"]
        record = services.data_import(
            actor=request.user,  # type: ignore[arg-type]
            kind=form.cleaned_data["kind"],
            file_name=upload.name,
            data=upload.read(),
            dry_run=form.cleaned_data["dry_run"],
        )
        _adopt(obj, record)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        return

    def log_addition(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        return None

    def response_add(
        self, request: HttpRequest, obj: DataImport, post_url_continue: Any = None
    ) -> HttpResponse:
        level = messages.ERROR if obj.outcome == DataImportOutcome.REFUSED else messages.SUCCESS
        self.message_user(request, dataio.report_lines(obj)[0], level)
        return HttpResponseRedirect(reverse("admin:integrations_dataimport_change", args=[obj.pk]))


for _kind in dataio.KINDS:
    for _fmt in dataio.FORMATS:
        setattr(DataImportAdmin, f"export_{_kind}_{_fmt}", _export_action(_kind, _fmt))
