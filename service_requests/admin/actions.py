"""The reviewers' actions on requests: each calls one service per selected request and
reports, per request, what the service refused."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django_fsm import can_proceed

from core.admin import HistoryModelAdmin

from .. import services
from ..models import REVIEW_STATUSES, ServiceRequest

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


class RecommendForm(forms.Form):
    """The reviewer's reasons, kept with the request and shown to the supervisors."""

    note = forms.CharField(
        label=_("Why you recommend approval"),
        widget=forms.Textarea(attrs={"rows": 6}),
        max_length=5000,
        strip=True,
    )


# Posted by the buttons on a request's page: the action then returns to that page.
FROM_PAGE = "_from_page"


def _allowed(name: str, request: ServiceRequest, user: Any) -> bool:
    """Whether the action `name` applies to the request in its current state."""
    if name == "assign_to_me":
        return request.status in REVIEW_STATUSES and request.assignee_id != user.pk
    transition = {
        "start_review": request.start_review,
        "ask_for_information": request.request_info,
        "recommend": request.recommend,
        "mark_fulfilled": request.fulfil,
    }.get(name)
    return transition is not None and can_proceed(transition)


class RequestActionsAdmin(HistoryModelAdmin):
    """The request admin's actions, also offered as object tools on a request's page (only
    those its state allows; each returns to the request's page with its message)."""

    def response_action(
        self, request: HttpRequest, queryset: QuerySet[ServiceRequest]
    ) -> HttpResponse | None:
        """An action started from a request's page goes back to that page, not to the list."""
        response = super().response_action(request, queryset)
        page = request.POST.get(FROM_PAGE, "")
        if isinstance(response, HttpResponseRedirect) and page.isdigit():
            opts = self.model._meta
            return HttpResponseRedirect(
                reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[int(page)])
            )
        return response

    def _note_page(
        self,
        request: HttpRequest,
        queryset: QuerySet[ServiceRequest],
        *,
        form: forms.Form,
        action: str,
        title: Any,
        template: str,
    ) -> TemplateResponse:
        """The intermediate page asking for the text an action sends or keeps."""
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.model._meta,
            "queryset": queryset,
            "form": form,
            "field": next(iter(form)),
            "action_name": action,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "select_across": request.POST.get("select_across", "0"),
            "from_page": request.POST.get(FROM_PAGE, ""),
            "from_page_name": FROM_PAGE,
            "media": self.media,
        }
        return TemplateResponse(request, template, context)

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
        return self._note_page(
            request,
            queryset,
            form=form,
            action="ask_for_information",
            title=_("Ask the civilian for information"),
            template="admin/service_requests/servicerequest/ask_info.html",
        )

    @admin.action(description=_("Recommend for approval"), permissions=["change"])
    def recommend(
        self, request: HttpRequest, queryset: QuerySet[ServiceRequest]
    ) -> HttpResponse | None:
        """An intermediate page asks for the reasons (required); `apply` records them."""
        form = RecommendForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            note = form.cleaned_data["note"]
            self._apply(
                request,
                queryset,
                lambda user, pk: services.request_recommend(actor=user, request_id=pk, note=note),
                "%(count)d request sent for approval.",
                "%(count)d requests sent for approval.",
            )
            return None
        return self._note_page(
            request,
            queryset,
            form=form,
            action="recommend",
            title=_("Recommend for approval"),
            template="admin/service_requests/servicerequest/recommend.html",
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
        """Offer the actions its state allows as object tools on the request's page (to those
        who may act); each comes back to this page."""
        if obj is not None and self.has_change_permission(request):
            actions = self.get_actions(request)
            context["request_actions"] = [
                (name, description)
                for name, (_func, _name, description) in actions.items()
                if _allowed(name, obj, request.user)
            ]
            context["action_checkbox_name"] = helpers.ACTION_CHECKBOX_NAME
            context["from_page_name"] = FROM_PAGE
        return super().render_change_form(request, context, add, change, form_url, obj)
