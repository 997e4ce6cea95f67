"""Forms of the workflow screens. Rules a person should see as field errors run here through
the same validators the services call again."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.forms import MoneyField

from . import services
from .models import DECIDER_OUTCOMES, PolicyStep, Program
from .selectors import programs_decided_by

if TYPE_CHECKING:
    from django.contrib.auth.models import User


class DecisionForm(forms.Form):
    outcome = forms.ChoiceField(
        label=_("Decision"),
        choices=[(o.value, o.label) for o in DECIDER_OUTCOMES],
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(
        label=_("Reason"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )

    def __init__(self, *args: Any, step: PolicyStep | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.step = step
        needs = []
        if step is None or step.reason_on_approve:
            needs.append(str(_("approve")))
        if step is None or step.reason_on_return:
            needs.append(str(_("return")))
        if step is None or step.reason_on_reject:
            needs.append(str(_("reject")))
        if needs:
            listed = (
                needs[0] if len(needs) == 1 else ", ".join(needs[:-1]) + str(_(" or ")) + needs[-1]
            )
            self.fields["reason"].help_text = _("Required to %(what)s.") % {"what": listed}

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        outcome = data.get("outcome")
        if outcome:
            try:
                services.case_validate_reason(
                    step=self.step, outcome=outcome, reason=data.get("reason", "")
                )
            except services.GovernanceError as error:
                self.add_error("reason", error.messages[0])
        return data


class RecallForm(forms.Form):
    reason = forms.CharField(
        label=_("Why (optional)"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class DateTimeLocalInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%Y-%m-%dT%H:%M", **kwargs)


class DelegationForm(forms.Form):
    """Give a delegation: the delegator is the signed-in supervisor."""

    delegate = forms.ModelChoiceField(
        label=_("Delegate to"), queryset=get_user_model().objects.none()
    )
    program = forms.ModelChoiceField(label=_("Program"), queryset=Program.objects.none())
    subject_kind = forms.CharField(
        label=_("Only this kind of case"),
        max_length=40,
        required=False,
        help_text=_("E.g. service_request. Leave empty for every kind."),
    )
    scope_key = forms.CharField(
        label=_("Only this scope key"),
        max_length=100,
        required=False,
        help_text=_("E.g. a service type's code. Leave empty for every case."),
    )
    step_order = forms.IntegerField(
        label=_("Only this step"),
        min_value=1,
        max_value=50,
        required=False,
        help_text=_("The step's number in the policy. Leave empty for every step."),
    )
    ceiling = MoneyField(label=_("Amount ceiling"), help_text=_("In US dollars, e.g. 2500."))
    starts_at = forms.DateTimeField(label=_("Starts"), widget=DateTimeLocalInput())
    ends_at = forms.DateTimeField(label=_("Ends"), widget=DateTimeLocalInput())
    reason = forms.CharField(
        label=_("Reason"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["delegate"].queryset = (  # type: ignore[attr-defined]
            get_user_model()
            .objects.filter(is_active=True, is_staff=True)
            .exclude(pk=user.pk)
            .order_by("first_name", "last_name", "username")
        )
        self.fields["delegate"].label_from_instance = (  # type: ignore[attr-defined]
            lambda u: u.get_full_name() or u.get_username()
        )
        self.fields["program"].queryset = programs_decided_by(user=user)  # type: ignore[attr-defined]
        if not self.is_bound:
            now = timezone.localtime().replace(second=0, microsecond=0)
            self.initial.setdefault("starts_at", now.strftime("%Y-%m-%dT%H:%M"))
            self.initial.setdefault("ends_at", (now + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M"))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        try:
            services.delegation_validate(
                actor=self.user,
                delegator=self.user,
                delegate=data["delegate"],
                program=data["program"],
                subject_kind=data.get("subject_kind") or "",
                scope_key=data.get("scope_key") or "",
                step_order=data.get("step_order"),
                ceiling_minor=data.get("ceiling"),
                starts_at=data["starts_at"],
                ends_at=data["ends_at"],
                reason=data.get("reason", ""),
                now=timezone.now(),
            )
        except services.GovernanceError as error:
            field = _DELEGATION_FIELDS.get(error.code or "")
            if field is None:
                raise ValidationError(error.messages[0]) from None
            self.add_error(field, error.messages[0])
        return data


# The field a refusal of `delegation_validate` is about (by its code); others are shown above
# the form.
_DELEGATION_FIELDS = {
    "delegate": "delegate",
    "delegator_no_authority": "program",
    "ceiling": "ceiling",
    "window": "ends_at",
    "too_long": "ends_at",
    "reason": "reason",
}


class RevokeForm(forms.Form):
    reason = forms.CharField(label=_("Why"), max_length=2000, required=False)


class AuthorityReportForm(forms.Form):
    moment = forms.DateTimeField(label=_("As of"), widget=DateTimeLocalInput(), required=False)
