"""Assignment's settings as admin pages: each service's rule, the reviewers' terms, absences
and conflicts of interest. Every save calls a service; its field errors show on the form."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from core.admin import HistoryModelAdmin

from .. import services
from ..models import Absence, AssignmentRule, ConflictFlag, ReviewerProfile


class ServiceFormMixin:
    """A ModelForm whose `clean` runs the service's checks (`check`) as field errors; the
    admin's `save_model` then calls the service itself."""

    request_user: Any = None

    def check(self, data: dict[str, Any]) -> None:
        """Raise the service's `RequestError` for bad input."""

    def clean(self) -> dict[str, Any]:
        data = super().clean()  # type: ignore[misc]
        if not self.errors:  # type: ignore[attr-defined]
            try:
                self.check(data)
            except services.RequestError as error:
                self.add_error(None, error)  # type: ignore[attr-defined]
        return data  # type: ignore[no-any-return]


class AbsenceForm(ServiceFormMixin, forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = Absence
        fields = ("user", "starts_on", "ends_on", "note")

    def check(self, data: dict[str, Any]) -> None:
        services.absence_validate(
            user=data["user"], starts_on=data["starts_on"], ends_on=data["ends_on"]
        )
        if not services.may_enter_absence(self.request_user, data["user"]):
            raise services.RequestError({"user": [services.ERR_ABSENCE_NOT_ALLOWED]})


class AssignmentRuleForm(ServiceFormMixin, forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = AssignmentRule
        fields = ("service_type", "method", "effort", "require_language")

    def check(self, data: dict[str, Any]) -> None:
        service_type = data.get("service_type") or self.instance.service_type
        services.assignment_rule_validate(actor=self.request_user, service_type=service_type)


class ConflictFlagForm(forms.ModelForm):  # type: ignore[type-arg]
    """A conflict the signed-in reviewer declares (they are its reviewer)."""

    request_user: Any = None

    class Meta:
        model = ConflictFlag
        fields = ("person", "reason")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.reviewer_id is None and self.request_user is not None:
            self.instance.reviewer = self.request_user

    def clean_person(self) -> Any:
        person = self.cleaned_data["person"]
        if self.request_user is not None and person.pk == self.request_user.pk:
            raise forms.ValidationError(services.ERR_FLAG_SELF)
        return person


class ReviewerProfileForm(ServiceFormMixin, forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = ReviewerProfile
        fields = ("user", "cap", "languages", "supervisor")

    def check(self, data: dict[str, Any]) -> None:
        profile = self.instance if self.instance.pk else ReviewerProfile(user=data["user"])
        services.profile_validate(profile=profile, cap=data["cap"], languages=data["languages"])


class SavedByServiceAdmin(HistoryModelAdmin):
    """Rows are written by services, never deleted here."""

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_form(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, **kwargs)
        form.request_user = request.user
        return form


@admin.register(AssignmentRule)
class AssignmentRuleAdmin(SavedByServiceAdmin):
    """How each service's requests find a reviewer (supervisors of its program set it)."""

    form = AssignmentRuleForm
    list_display = ("service_type", "method", "effort", "require_language")
    list_filter = ("method", "service_type__program")
    list_select_related = ("service_type",)
    search_fields = ("service_type__name", "^service_type__code")
    autocomplete_fields = ("service_type",)
    fields = ("service_type", "method", "effort", "require_language")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ("service_type",) if obj is not None else ()

    def save_model(
        self, request: HttpRequest, obj: AssignmentRule, form: Any, change: bool
    ) -> None:
        services.assignment_rule_save(
            actor=request.user,  # type: ignore[arg-type]
            service_type_id=obj.service_type_id,
            method=obj.method,
            effort=obj.effort,
            require_language=obj.require_language,
        )


@admin.register(ReviewerProfile)
class ReviewerProfileAdmin(SavedByServiceAdmin):
    """Reviewers' caps, languages and supervisors, with their current loads."""

    form = ReviewerProfileForm
    list_display = ("user", "open_cases", "cap", "open_effort", "languages", "supervisor")
    list_select_related = ("user", "supervisor")
    search_fields = ("user__username", "user__last_name")
    raw_id_fields = ("user", "supervisor")
    readonly_fields = ("open_cases", "open_effort")

    def get_queryset(self, request: HttpRequest) -> QuerySet[ReviewerProfile]:
        """An administrator or auditor sees everyone; a supervisor their team; a reviewer
        themselves."""
        profiles = super().get_queryset(request)
        user = request.user
        if user.is_superuser or user.has_perm("service_requests.view_all_requests"):
            return profiles
        return profiles.filter(user=user) | profiles.filter(supervisor=user)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and not request.user.is_superuser:
            return obj.supervisor_id == request.user.pk and super().has_change_permission(
                request, obj
            )
        return super().has_change_permission(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def save_model(
        self, request: HttpRequest, obj: ReviewerProfile, form: Any, change: bool
    ) -> None:
        saved = services.reviewer_profile_save(
            actor=request.user,  # type: ignore[arg-type]
            user=obj.user,
            cap=obj.cap,
            languages=obj.languages,
            supervisor=obj.supervisor,
        )
        obj.pk = saved.pk


@admin.register(Absence)
class AbsenceAdmin(SavedByServiceAdmin):
    """Absences, entered by the staff member or their supervisor; an absence from today hands
    the person's open requests back for reassignment."""

    form = AbsenceForm
    list_display = ("user", "starts_on", "ends_on", "note", "entered_by")
    list_filter = ("starts_on",)
    list_select_related = ("user", "entered_by")
    search_fields = ("user__username", "user__last_name")
    raw_id_fields = ("user",)
    date_hierarchy = "starts_on"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Absence]:
        absences = super().get_queryset(request)
        user = request.user
        if user.is_superuser or user.has_perm("service_requests.view_all_requests"):
            return absences
        return absences.filter(user=user) | absences.filter(user__reviewer_profile__supervisor=user)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        return {"user": request.user.pk, "starts_on": timezone.localdate()}

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """An absence entered is a record: a change is a new entry."""
        return False if obj is not None else super().has_change_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: Absence, form: Any, change: bool) -> None:
        saved = services.absence_add(
            actor=request.user,  # type: ignore[arg-type]
            user=obj.user,
            starts_on=obj.starts_on,
            ends_on=obj.ends_on,
            note=obj.note,
        )
        obj.pk = saved.pk


@admin.register(ConflictFlag)
class ConflictFlagAdmin(SavedByServiceAdmin):
    """A reviewer's declared conflicts of interest (their own; auditors read all)."""

    form = ConflictFlagForm
    list_display = ("reviewer", "person", "reason", "created_at")
    list_select_related = ("reviewer", "person")
    search_fields = ("person__username", "person__email")
    raw_id_fields = ("person",)
    fields = ("person", "reason")

    def get_queryset(self, request: HttpRequest) -> QuerySet[ConflictFlag]:
        flags = super().get_queryset(request)
        user = request.user
        if user.is_superuser or user.has_perm("service_requests.view_all_requests"):
            return flags
        return flags.filter(reviewer=user)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False if obj is not None else super().has_change_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: ConflictFlag, form: Any, change: bool) -> None:
        saved = services.conflict_flag(
            actor=request.user,  # type: ignore[arg-type]
            person=obj.person,
            reason=obj.reason,
        )
        obj.pk = saved.pk
