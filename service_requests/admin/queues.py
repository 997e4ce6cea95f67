"""The reviewers' "My queue" and their supervisors' team view, with reassignment (one request
or many at once), as pages of the requests admin."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from governance.selectors import programs_decided_by

from .. import services, workload

if TYPE_CHECKING:
    from django.urls import URLPattern

ERR_CHOOSE_REQUESTS = _("Choose at least one request to reassign.")


class ReassignForm(forms.Form):
    """Which requests go to whom, and why (kept in their history)."""

    requests = forms.TypedMultipleChoiceField(
        label=_("Requests"), coerce=int, error_messages={"required": ERR_CHOOSE_REQUESTS}
    )
    assignee: forms.ModelChoiceField[Any] = forms.ModelChoiceField(
        label=_("Reassign to"),
        queryset=None,  # type: ignore[arg-type]
    )
    reason = forms.CharField(label=_("Reason"), max_length=200, required=False, strip=True)

    def __init__(self, *args: Any, request_ids: list[int], reviewers: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["requests"].choices = [(pk, str(pk)) for pk in request_ids]  # type: ignore[attr-defined]
        self.fields["assignee"].queryset = reviewers  # type: ignore[attr-defined]


def may_supervise_teams(user: Any) -> bool:
    return bool(
        user.is_active
        and user.is_staff
        and (user.is_superuser or programs_decided_by(user=user).exists())
    )


class QueueViewsAdmin:
    """Adds `my-queue/` and `team/` to the requests admin."""

    def get_urls(self) -> list[URLPattern]:
        opts = self.model._meta  # type: ignore[attr-defined]
        name = f"{opts.app_label}_{opts.model_name}"
        site = self.admin_site  # type: ignore[attr-defined]
        return [
            path("my-queue/", site.admin_view(self.my_queue_view), name=f"{name}_my_queue"),
            path("team/", site.admin_view(self.team_view), name=f"{name}_team"),
            *super().get_urls(),  # type: ignore[misc]
        ]

    def my_queue_view(self, request: HttpRequest) -> HttpResponse:
        """The reviewer's open requests, overdue first, the counts in the title."""
        if not self.has_view_permission(request):  # type: ignore[attr-defined]
            raise PermissionDenied
        queue = workload.my_queue(user=request.user)
        overdue = len([r for r in queue if getattr(r, "overdue", False)])
        title = _("My queue: %(open)d open, %(overdue)d overdue") % {
            "open": len(queue),
            "overdue": overdue,
        }
        context = {
            **self.admin_site.each_context(request),  # type: ignore[attr-defined]
            "title": title,
            "opts": self.model._meta,  # type: ignore[attr-defined]
            "queue": queue,
        }
        return TemplateResponse(
            request, "admin/service_requests/servicerequest/my_queue.html", context
        )

    def team_view(self, request: HttpRequest) -> HttpResponse:
        """A supervisor's reviewers with their loads and queues, the unassigned queue of their
        programs, and reassignment of any of these requests."""
        if not may_supervise_teams(request.user):
            raise PermissionDenied
        opts = self.model._meta  # type: ignore[attr-defined]
        team = workload.team_of(supervisor=request.user)
        unassigned = list(workload.unassigned_queue(user=request.user)[:200])
        request_ids = [r.pk for m in team for r in m.requests] + [r.pk for r in unassigned]
        if request.user.is_superuser:
            program_ids = list(
                {r.service_type.program_id for m in team for r in m.requests}
                | {r.service_type.program_id for r in unassigned}
            )
        else:
            program_ids = list(programs_decided_by(user=request.user).values_list("pk", flat=True))
        reviewers = workload.reviewers_of(program_ids=program_ids)
        form = ReassignForm(
            request.POST or None, request_ids=request_ids, reviewers=reviewers, prefix="move"
        )
        status = 200
        if request.method == "POST":
            status = 400
            if form.is_valid() and self._reassign(request, form):
                return HttpResponseRedirect(request.path)
        context = {
            **self.admin_site.each_context(request),  # type: ignore[attr-defined]
            "title": _("My team's queues"),
            "opts": self.model._meta,  # type: ignore[attr-defined]
            "team": team,
            "unassigned": unassigned,
            "form": form,
            "change_url_name": f"admin:{opts.app_label}_{opts.model_name}_change",
        }
        return TemplateResponse(
            request, "admin/service_requests/servicerequest/team.html", context, status=status
        )

    def _reassign(self, request: HttpRequest, form: ReassignForm) -> bool:
        """All the chosen requests move, or none does: a refusal becomes the form's error."""
        data = form.cleaned_data
        try:
            with transaction.atomic():
                for pk in data["requests"]:
                    services.request_reassign(
                        actor=request.user,  # type: ignore[arg-type]
                        request_id=pk,
                        assignee=data["assignee"],
                        reason=data["reason"],
                    )
        except services.RequestError as error:
            if hasattr(error, "error_dict"):
                for name, errors in error.message_dict.items():
                    form.add_error(name if name in form.fields else None, errors)
            else:
                form.add_error(None, error.messages)
            return False
        count = len(data["requests"])
        messages.success(
            request,
            ngettext(
                "%(count)d request reassigned to %(name)s.",
                "%(count)d requests reassigned to %(name)s.",
                count,
            )
            % {"count": count, "name": data["assignee"].get_username()},
        )
        return True
