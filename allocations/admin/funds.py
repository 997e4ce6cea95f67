"""Admin of funds."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from unfold.decorators import action, display

from core import roles
from core.admin import ReadOnlyHistoryModelAdmin, format_money

from .. import services
from ..models import GRANT_CLAIMS_PERMISSION, Fund


class FundOfficersForm(forms.Form):
    """The fund's finance officers, chosen among the active finance officers."""

    officers = forms.ModelMultipleChoiceField(
        label=_("Finance officers of this fund"),
        queryset=get_user_model().objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_(
            "Separation of duties keeps each of them from deciding the approval cases of this "
            "fund's allocation rounds."
        ),
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        field = self.fields["officers"]
        field.queryset = (  # type: ignore[attr-defined]
            get_user_model()
            .objects.filter(is_active=True, groups__name=roles.FINANCE_OFFICER)
            .distinct()
            .order_by("username")
        )


@admin.register(Fund)
class FundAdmin(ReadOnlyHistoryModelAdmin):
    """Funds and what their ledger account can still pay out."""

    list_display = ("code", "name", "program", "currency", "available", "allocates_by_round")
    actions_detail = ("name_officers",)
    list_filter = ("program", "currency", "allocates_by_round")
    search_fields = ("^code", "name")
    list_select_related = ("program", "account")
    raw_id_fields = ("program", "account", "source_account")
    readonly_fields = ("available", "officer_names")
    ordering = ("name",)
    list_per_page = 50
    actions = ("grant_waiting_claims",)

    @display(description=_("available"))
    def available(self, obj: Fund) -> str:
        return format_money(obj.account.available_minor, obj.currency)

    @display(description=_("finance officers"))
    def officer_names(self, obj: Fund) -> str:
        names = [user.get_full_name() or user.username for user in obj.officers.all()]
        return ", ".join(sorted(names)) or "—"

    def has_name_officers_permission(self, request: HttpRequest, object_id: object = None) -> bool:
        """Naming a fund's officers changes who may decide what: administrators only."""
        return bool(request.user.is_active and request.user.is_superuser)

    @action(description=_("Finance officers"), url_path="officers", permissions=["name_officers"])
    def name_officers(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """The fund's finance officers: a form (GET), then `fund_officers_set` (POST)."""
        if not self.has_name_officers_permission(request):
            raise PermissionDenied
        fund = get_object_or_404(Fund.objects.prefetch_related("officers"), pk=object_id)
        change_url = reverse("admin:allocations_fund_change", args=[fund.pk])
        if request.method == "POST":
            form = FundOfficersForm(request.POST)
            if form.is_valid():
                services.fund_officers_set(
                    actor=request.user,  # type: ignore[arg-type]
                    fund_id=fund.pk,
                    officer_ids=[user.pk for user in form.cleaned_data["officers"]],
                )
                self.message_user(
                    request, _("The fund's finance officers are saved."), messages.SUCCESS
                )
                return HttpResponseRedirect(change_url)
        else:
            form = FundOfficersForm(initial={"officers": list(fund.officers.all())})
        context = {
            **self.admin_site.each_context(request),
            "title": _("Finance officers of %(fund)s") % {"fund": fund},
            "opts": self.model._meta,
            "form": form,
            "cancel_url": change_url,
        }
        return TemplateResponse(request, "allocations/admin_fund_officers.html", context)

    def has_grant_claims_permission(self, request: HttpRequest) -> bool:
        """Granting waiting claims obligates money: finance officers only."""
        return bool(request.user.has_perm(GRANT_CLAIMS_PERMISSION))

    @admin.action(description=_("Grant waiting claims"), permissions=["grant_claims"])
    def grant_waiting_claims(self, request: HttpRequest, queryset: QuerySet[Fund]) -> None:
        """Pay out each fund's waiting claims in turn; their requests move to funded."""
        for fund in queryset:
            try:
                granted = services.fund_grant_waiting(
                    actor=request.user,  # type: ignore[arg-type]
                    fund_id=fund.pk,
                )
            except ValidationError as error:
                self.message_user(request, error.messages[0], level=messages.ERROR)
                continue
            self.message_user(
                request,
                ngettext(
                    "%(fund)s: %(count)d waiting request funded.",
                    "%(fund)s: %(count)d waiting requests funded.",
                    len(granted),
                )
                % {"fund": fund, "count": len(granted)},
                level=messages.SUCCESS,
            )
