"""Admin for programs (with their object permissions), approval policies, cases, decisions
and delegations.

Programs and policies are configuration that superusers edit. A policy version is editable
only while it is a draft: saving a change to an active or retired version makes a new draft
version with that change (the version shown is left untouched), and the "Activate" action puts
a draft in force, retiring the version before it. Cases, decisions and delegations are
read-only here; they change only through `governance.services` (the workflow screens), apart
from the administrators' actions below, which call those services. The group membership
record is read-only too: it is written when a membership changes (`governance.membership`).
Every change made here goes through `governance.services`.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from guardian.admin import ReinforcedGuardedModelAdminMixin
from unfold.admin import TabularInline
from unfold.decorators import action, display

from core.admin import (
    HistoryModelAdmin,
    ReadOnlyAdminMixin,
    ReadOnlyHistoryModelAdmin,
    ReadOnlyModelAdmin,
    SuperuserConfigAdminMixin,
    choice_text,
    format_money,
)

from . import services
from .models import (
    ApprovalCase,
    ApprovalPolicy,
    CaseEvent,
    CaseStatus,
    CaseStep,
    Decision,
    Delegation,
    DutyConflict,
    GroupMembershipChange,
    PolicyStatus,
    PolicyStep,
    Program,
)

CASE_STATUS_LABELS = {
    CaseStatus.OPEN: "warning",
    CaseStatus.BLOCKED: "danger",
    CaseStatus.APPROVED: "success",
    CaseStatus.REJECTED: "danger",
    CaseStatus.RETURNED: "info",
    CaseStatus.RECALLED: "info",
}
POLICY_STATUS_LABELS = {
    PolicyStatus.DRAFT: "info",
    PolicyStatus.ACTIVE: "success",
    PolicyStatus.RETIRED: "warning",
}


def _report(request: HttpRequest, error: services.GovernanceError, label: object) -> None:
    messages.error(request, f"{label}: {error.messages[0]}")


def _step_edit(step_form: ModelForm) -> services.StepEdit:
    """What a form of the steps' inline asks for, as the services take it."""
    data = step_form.cleaned_data
    return services.StepEdit(
        order=data["order"],
        spec=services.StepSpec(**{name: data[name] for name in services.STEP_FIELDS}),
        step_id=step_form.instance.pk,
    )


@admin.register(DutyConflict)
class DutyConflictAdmin(SuperuserConfigAdminMixin, HistoryModelAdmin):
    """Separation-of-duties rules: administrators edit them, auditors read them and their
    history; every change goes through `services.duty_conflict_save`/`_delete`."""

    list_display = ("holder", "duty", "reason")
    list_filter = ("duty", "holder")
    search_fields = ("reason",)
    list_select_related = ()
    ordering = ("duty", "holder")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)

    def save_model(
        self, request: HttpRequest, obj: DutyConflict, form: ModelForm, change: bool
    ) -> None:
        services.duty_conflict_save(actor=request.user, rule=obj, reason="edited in the admin")  # type: ignore[arg-type]

    def delete_model(self, request: HttpRequest, obj: DutyConflict) -> None:
        services.duty_conflict_delete(actor=request.user, rule_id=obj.pk)  # type: ignore[arg-type]

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[DutyConflict]) -> None:
        for rule in queryset:
            self.delete_model(request, rule)


@admin.register(Program)
class ProgramAdmin(ReinforcedGuardedModelAdminMixin, SuperuserConfigAdminMixin, HistoryModelAdmin):
    """Programs; superusers manage who reviews and decides for each (object permissions)."""

    list_display = ("code", "name", "active")
    list_filter = ("active",)
    search_fields = ("code", "name")
    list_select_related = ()
    ordering = ("name",)

    def save_model(self, request: HttpRequest, obj: Program, form: ModelForm, change: bool) -> None:
        services.program_save(actor=request.user, program=obj, reason="edited in the admin")  # type: ignore[arg-type]

    def delete_model(self, request: HttpRequest, obj: Program) -> None:
        services.program_delete(actor=request.user, program_id=obj.pk)  # type: ignore[arg-type]

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Program]) -> None:
        for program in queryset:
            self.delete_model(request, program)


class PolicyStepInline(TabularInline):
    """A version's steps: editable while the version is a draft, read-only after."""

    model = PolicyStep
    fields = ("order", *services.STEP_FIELDS)
    extra = 0
    can_delete = True
    autocomplete_fields = ()
    raw_id_fields = ()

    def _editable(self, request: HttpRequest, obj: ApprovalPolicy | None) -> bool:
        user = request.user
        draft = obj is None or obj.status == PolicyStatus.DRAFT
        return bool(user.is_active and user.is_superuser and draft)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._editable(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._editable(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._editable(request, obj)

    def get_queryset(self, request: HttpRequest) -> QuerySet[PolicyStep]:
        return super().get_queryset(request).select_related("group", "escalate_to")


@admin.register(ApprovalPolicy)
class ApprovalPolicyAdmin(SuperuserConfigAdminMixin, HistoryModelAdmin):
    """Approval policies, one row per version."""

    list_display = (
        "code",
        "version",
        "name",
        "program",
        "subject_kind",
        "scope_key",
        "band",
        "status_label",
        "activated_at",
    )
    list_filter = ("status", "program", "subject_kind")
    search_fields = ("code", "name", "scope_key")
    list_select_related = ("program",)
    raw_id_fields = ("program",)
    ordering = ("program__name", "code", "-version")
    inlines = (PolicyStepInline,)
    readonly_fields = ("version", "status", "activated_at", "retired_at", "created_by")
    actions = ("activate_drafts", "retire_versions", "draft_new_versions")

    @display(description=_("status"), ordering="status", label=POLICY_STATUS_LABELS)
    def status_label(self, obj: ApprovalPolicy) -> tuple[str, str]:
        return obj.status, choice_text(obj, "status")

    @display(description=_("amounts"))
    def band(self, obj: ApprovalPolicy) -> str:
        low = format_money(obj.amount_min_minor, "USD") if obj.amount_min_minor else "0"
        high = format_money(obj.amount_max_minor, "USD") if obj.amount_max_minor else "∞"
        return f"{low} to {high}"

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.readonly_fields

    def save_model(
        self, request: HttpRequest, obj: ApprovalPolicy, form: ModelForm, change: bool
    ) -> None:
        """A draft saves in place; a change to an active or retired version becomes a new
        draft version carrying the change."""
        if change:
            original = ApprovalPolicy.objects.get(pk=obj.pk)
            if original.status != PolicyStatus.DRAFT:
                changes = {f: form.cleaned_data[f] for f in form.changed_data}
                draft = services.policy_new_version(
                    actor=request.user,  # type: ignore[arg-type]
                    policy_id=original.pk,
                    changes=changes,
                )
                request._new_policy_version = draft  # type: ignore[attr-defined]
                return
        services.policy_draft_save(actor=request.user, policy=obj)  # type: ignore[arg-type]

    def save_related(
        self, request: HttpRequest, form: ModelForm, formsets: Any, change: bool
    ) -> None:
        if getattr(request, "_new_policy_version", None) is not None:
            # The shown version is immutable: its steps were copied to the draft, nothing here
            # is saved (the admin's change message still reads the formsets' lists).
            for formset in formsets:
                formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
            return
        super().save_related(request, form, formsets, change)

    def save_formset(
        self, request: HttpRequest, form: ModelForm, formset: Any, change: bool
    ) -> None:
        """The draft's steps in one service call: the forms' cleaned data goes in (steps added,
        changed, removed), and the steps the service saved come back for the admin's change
        message, which reads the formset's lists."""
        dropped = formset.deleted_forms
        removed = [f.instance for f in dropped if f.instance.pk is not None]
        edited = [f for f in formset.forms if f.has_changed() and f not in dropped]
        edits = [_step_edit(f) for f in edited]
        saved = services.policy_steps_save(
            actor=request.user,  # type: ignore[arg-type]
            policy_id=formset.instance.pk,
            edits=edits,
            removed=[step.pk for step in removed],
        )
        done = list(zip(saved, edits, edited, strict=True))
        formset.new_objects = [step for step, edit, _ in done if edit.step_id is None]
        formset.changed_objects = [
            (step, f.changed_data) for step, edit, f in done if edit.step_id is not None
        ]
        formset.deleted_objects = removed

    def delete_model(self, request: HttpRequest, obj: ApprovalPolicy) -> None:
        services.policy_delete(actor=request.user, policy_id=obj.pk)  # type: ignore[arg-type]

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[ApprovalPolicy]) -> None:
        for policy in queryset:
            self.delete_model(request, policy)

    def response_change(self, request: HttpRequest, obj: ApprovalPolicy) -> HttpResponse:
        draft = getattr(request, "_new_policy_version", None)
        if draft is not None:
            messages.success(
                request,
                _(
                    "Version %(old)s is in force and was left as it is: your change is draft "
                    "version %(new)s. Review its steps, then activate it."
                )
                % {"old": obj.version, "new": draft.version},
            )
            return HttpResponseRedirect(
                reverse("admin:governance_approvalpolicy_change", args=[draft.pk])
            )
        return super().response_change(request, obj)

    @action(description=_("Activate the selected drafts (retires their previous version)"))
    def activate_drafts(self, request: HttpRequest, queryset: QuerySet[ApprovalPolicy]) -> None:
        done = 0
        for policy in queryset:
            try:
                services.policy_activate(actor=request.user, policy_id=policy.pk)  # type: ignore[arg-type]
            except services.GovernanceError as error:
                _report(request, error, policy)
            else:
                done += 1
        if done:
            messages.success(request, _("%(n)s version(s) activated.") % {"n": done})

    @action(description=_("Retire the selected active versions"))
    def retire_versions(self, request: HttpRequest, queryset: QuerySet[ApprovalPolicy]) -> None:
        for policy in queryset:
            try:
                services.policy_retire(actor=request.user, policy_id=policy.pk)  # type: ignore[arg-type]
            except services.GovernanceError as error:
                _report(request, error, policy)

    @action(description=_("Draft a new version of each selected policy"))
    def draft_new_versions(self, request: HttpRequest, queryset: QuerySet[ApprovalPolicy]) -> None:
        for policy in queryset:
            draft = services.policy_new_version(actor=request.user, policy_id=policy.pk)  # type: ignore[arg-type]
            messages.success(request, _("Drafted %(draft)s.") % {"draft": draft})


class DecisionInline(ReadOnlyAdminMixin, TabularInline):
    """The decisions on a case, oldest first."""

    model = Decision
    fields = (
        "decided_by",
        "on_behalf_of",
        "delegation",
        "case_step",
        "outcome",
        "reason",
        "decided_at",
    )
    readonly_fields = fields
    extra = 0
    can_delete = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Decision]:
        return (
            super().get_queryset(request).select_related("decided_by", "on_behalf_of", "case_step")
        )


class CaseStepInline(ReadOnlyAdminMixin, TabularInline):
    model = CaseStep
    fields = (
        "order",
        "step",
        "status",
        "approvals",
        "required_approvals",
        "opened_at",
        "due_at",
        "warned_at",
        "escalated_at",
        "completed_at",
    )
    readonly_fields = fields
    extra = 0
    can_delete = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[CaseStep]:
        return super().get_queryset(request).select_related("step")


class CaseEventInline(ReadOnlyAdminMixin, TabularInline):
    model = CaseEvent
    fields = ("created_at", "kind", "actor", "message")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[CaseEvent]:
        return super().get_queryset(request).select_related("actor")


@admin.register(ApprovalCase)
class ApprovalCaseAdmin(ReadOnlyHistoryModelAdmin):
    """Approval cases, read-only: deciders decide in the workflow screens. Administrators may
    put a blocked case under the policy they have since activated."""

    list_display = (
        "id",
        "subject_label",
        "program",
        "status_label",
        "amount",
        "policy",
        "due_at",
        "maker",
        "recommender",
        "opened_at",
        "decided_at",
    )
    list_filter = ("status", "program", "subject_kind")
    search_fields = ("=id", "subject_label")
    list_select_related = ("program", "maker", "recommender", "policy")
    raw_id_fields = ("program", "maker", "recommender", "policy", "current_step")
    ordering = ("-opened_at", "-id")
    inlines = (CaseStepInline, DecisionInline, CaseEventInline)
    list_per_page = 50
    show_full_result_count = False
    actions = ("apply_policy",)

    @display(description=_("status"), ordering="status", label=CASE_STATUS_LABELS)
    def status_label(self, obj: ApprovalCase) -> tuple[str, str]:
        return obj.status, choice_text(obj, "status")

    @display(description=_("amount"), ordering="amount_minor")
    def amount(self, obj: ApprovalCase) -> str:
        return format_money(obj.amount_minor, obj.currency)

    @action(description=_("Apply the now-matching policy to the selected blocked cases"))
    def apply_policy(self, request: HttpRequest, queryset: QuerySet[ApprovalCase]) -> None:
        for case in queryset:
            try:
                services.case_apply_policy(actor=request.user, case_id=case.pk)  # type: ignore[arg-type]
            except services.GovernanceError as error:
                _report(request, error, case)
            else:
                messages.success(request, _("%(case)s is now open.") % {"case": case})

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Decision)
class DecisionAdmin(ReadOnlyModelAdmin):
    """Decisions: append-only, shown and never changed."""

    list_display = ("id", "case", "decided_by", "on_behalf_of", "outcome", "decided_at")
    list_filter = ("outcome",)
    search_fields = ("=case__id", "case__subject_label", "decided_by__username")
    list_select_related = ("case", "decided_by", "on_behalf_of")
    raw_id_fields = ("case", "decided_by", "on_behalf_of", "delegation", "case_step")
    ordering = ("-decided_at", "-id")
    list_per_page = 50


@admin.register(Delegation)
class DelegationAdmin(ReadOnlyHistoryModelAdmin):
    """Delegations, with their history; given and revoked in the workflow screens (or revoked
    here by an administrator)."""

    list_display = (
        "id",
        "delegator",
        "delegate",
        "program",
        "ceiling",
        "starts_at",
        "ends_at",
        "revoked_at",
        "permission_granted",
    )
    list_filter = ("program", "permission_granted")
    search_fields = ("=id", "delegator__username", "delegate__username", "reason")
    list_select_related = ("delegator", "delegate", "program")
    raw_id_fields = ("delegator", "delegate", "program", "created_by", "revoked_by")
    ordering = ("-starts_at", "-id")
    actions = ("revoke",)

    @display(description=_("ceiling"), ordering="ceiling_minor")
    def ceiling(self, obj: Delegation) -> str:
        return format_money(obj.ceiling_minor, obj.currency)

    @action(description=_("Revoke the selected delegations now"))
    def revoke(self, request: HttpRequest, queryset: QuerySet[Delegation]) -> None:
        for delegation in queryset:
            try:
                services.delegation_revoke(
                    actor=request.user,  # type: ignore[arg-type]
                    delegation_id=delegation.pk,
                    reason="revoked by an administrator",
                )
            except services.GovernanceError as error:
                _report(request, error, delegation)


@admin.register(GroupMembershipChange)
class GroupMembershipChangeAdmin(ReadOnlyModelAdmin):
    """Group membership changes: append-only, written when a membership changes."""

    list_display = ("id", "at", "action", "group", "user", "actor")
    list_filter = ("action", "group")
    search_fields = ("user__username", "group__name", "actor__username")
    list_select_related = ("group", "user", "actor")
    raw_id_fields = ("group", "user", "actor")
    ordering = ("-at", "-id")
    list_per_page = 50
