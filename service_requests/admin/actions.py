"""The reviewers' actions on requests: each calls one service per selected request and
reports, per request, what the service refused."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from core.admin import HistoryModelAdmin

from .. import services
from ..models import ServiceRequest

if TYPE_CHECKING:
    from collections.abc import Callable

    from django.contrib.auth.models import User


class AskInfoForm(forms.Form):
    """The question the civilian is emailed."""

    message = forms.CharField(
        label=_("Message to the civilian"),
        widget=forms.Textarea(attrs={"rows": 6}),
        max_length=5000,
        strip=True,
    )


class RequestActionsAdmin(HistoryModelAdmin):
    """The request admin's actions, also offered as object tools on a request's page."""

    def _apply(
        self,
        request: HttpRequest,
        queryset: QuerySet[ServiceRequest],
        step: Callable[[User, int], object],
        done_singular: str,
        done_plural: str,
    ) -> None:
        """Call `step` once per selected request; report refusals one by one, then the count."""
        done = 0
        for pk in queryset.values_list("pk", flat=True):
            try:
                step(request.user, pk)  # type: ignore[arg-type]
            except ValidationError as error:
                self.message_user(request, error.messages[0], level=messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(
                request,
                ngettext(done_singular, done_plural, done) % {"count": done},
                level=messages.SUCCESS,
            )

    @admin.action(description=_("Assign to me"), permissions=["change"])
    def assign_to_me(self, request: HttpRequest, queryset: QuerySet[ServiceRequest]) -> None:
        self._apply(
            request,
            queryset,
            lambda user, pk: services.request_assign(actor=user, request_id=pk, assignee=user),
            "%(count)d request assigned to you.",
            "%(count)d requests assigned to you.",
        )

    @admin.action(description=_("Start review"), permissions=["change"])
    def start_review(self, request: HttpRequest, queryset: QuerySet[ServiceRequest]) -> None:
        self._apply(
            request,
            queryset,
            lambda user, pk: services.request_start_review(actor=user, request_id=pk),
            "Review started on %(count)d request.",
            "Review started on %(count)d requests.",
        )

    @admin.action(description=_("Ask the civilian for information"), permissions=["change"])
    def ask_for_information(
        self, request: HttpRequest, queryset: QuerySet[ServiceRequest]
    ) -> HttpResponse | None:
        """An intermediate page asks for the message; `apply` sends it to each request."""
        form = AskInfoForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            message = form.cleaned_data["message"]
            self._apply(
                request,
                queryset,
                lambda user, pk: services.request_ask_info(
                    actor=user, request_id=pk, message=message
                ),
                "Information asked on %(count)d request.",
                "Information asked on %(count)d requests.",
            )
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": _("Ask the civilian for information"),
            "opts": self.model._meta,
            "queryset": queryset,
            "form": form,
            "action_name": "ask_for_information",
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "select_across": request.POST.get("select_across", "0"),
            "media": self.media,
        }
        return TemplateResponse(
            request, "admin/service_requests/servicerequest/ask_info.html", context
        )

    @admin.action(description=_("Recommend for approval"), permissions=["change"])
    def recommend(self, request: HttpRequest, queryset: QuerySet[ServiceRequest]) -> None:
        self._apply(
            request,
            queryset,
            lambda user, pk: services.request_recommend(actor=user, request_id=pk, note=""),
            "%(count)d request sent for approval.",
            "%(count)d requests sent for approval.",
        )

    @admin.action(description=_("Mark fulfilled"), permissions=["change"])
    def mark_fulfilled(self, request: HttpRequest, queryset: QuerySet[ServiceRequest]) -> None:
        self._apply(
            request,
            queryset,
            lambda user, pk: services.request_fulfil(actor=user, request_id=pk),
            "%(count)d request marked fulfilled.",
            "%(count)d requests marked fulfilled.",
        )

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: ServiceRequest | None = None,
    ) -> HttpResponse:
        """Offer the actions as object tools on the request's page (to those who may act)."""
        if obj is not None and self.has_change_permission(request):
            actions = self.get_actions(request)
            context["request_actions"] = [
                (name, description)
                for name, (_func, _name, description) in actions.items()
                if name != "ask_for_information"
            ]
            context["ask_info_allowed"] = "ask_for_information" in actions
            context["action_checkbox_name"] = helpers.ACTION_CHECKBOX_NAME
        return super().render_change_form(request, context, add, change, form_url, obj)
