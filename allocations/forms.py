"""Forms of the finance officers' round screens: amounts typed as text, never floats."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from core.forms import MoneyField

from . import rules, services
from .models import TIEBREAK_CHOICES, AllocationRound, Claim, Fund
from .services.ballots import ERR_BALLOT_EMPTY, ERR_BALLOT_PROJECT

ERR_AMOUNT_FORMAT = _("Enter an amount such as 40000 or 40,000.50.")
ERR_PARAMS = _('Enter the parameters as JSON, for example {"on_shortfall": "skip"}.')


class RoundForm(forms.ModelForm):
    """A new round: the fund, the budget, the rule and its parameters, the tie-break. Checked
    with the same helpers the service uses, so mistakes show on the form."""

    budget = MoneyField(
        error_messages={"format": ERR_AMOUNT_FORMAT},
        label=_("Budget"),
        help_text=_("At most what the fund has available, e.g. 40,000.00."),
    )
    rule = forms.ChoiceField(label=_("Rule"), choices=list(rules.LABELS.items()))
    parameters = forms.CharField(
        label=_("Rule parameters (JSON)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_(
            'Optional. Priority order: {"on_shortfall": "skip" | "stop" | "partial"}. '
            'Equal shares: {"completion": "add1" | "none", "step_minor": 100}.'
        ),
    )
    tiebreak = forms.ChoiceField(label=_("Tie-break"), choices=TIEBREAK_CHOICES)

    class Meta:
        model = AllocationRound
        fields = ["fund", "name", "tiebreak_seed"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["fund"].queryset = Fund.objects.select_related("program")  # type: ignore[attr-defined]
        self.fields["tiebreak_seed"].help_text = _(
            "Random tie-break only; leave empty to have one drawn when the round freezes."
        )

    def clean_parameters(self) -> dict[str, Any]:
        text = (self.cleaned_data.get("parameters") or "").strip()
        if not text:
            return {}
        try:
            value = json.loads(text)
        except ValueError:
            raise ValidationError(ERR_PARAMS, code="params") from None
        if not isinstance(value, dict):
            raise ValidationError(ERR_PARAMS, code="params")
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        try:
            if data.get("rule"):
                data["params"] = services.round_validate_rule(
                    rule=data["rule"],
                    params=data.get("parameters") or {},
                    tiebreak=data.get("tiebreak", "submitted"),
                )
            if data.get("fund") is not None and data.get("budget") is not None:
                services.round_validate_budget(fund=data["fund"], budget_minor=data["budget"])
        except services.RoundError as refused:
            raise ValidationError(refused.messages[0]) from None
        return data

    def _post_clean(self) -> None:
        # The service builds and validates the row; the form only collects its inputs.
        pass


def amount_text(minor: int | None) -> str:
    """Minor units as the text a MoneyField reads back (“1234.50”), exactly."""
    if minor is None:
        return ""
    return f"{minor // 100}.{minor % 100:02d}"


# The service's field names and the form's, for refusals keyed by field.
_TERM_FIELDS = {"floor_minor": "floor", "cap_minor": "cap"}


class ClaimTermsForm(forms.ModelForm):
    """A claim's terms in its round (finance officers, while the round is open): weight,
    priority class, guaranteed minimum, cap, eligibility and the published reason. Checked with
    the helpers the service calls (0 ≤ minimum ≤ cap ≤ amount asked, a reason exactly when
    excluded), so each mistake shows beside its field and nothing is saved."""

    floor = MoneyField(
        label=_("Guaranteed minimum"),
        required=False,
        error_messages={"format": ERR_AMOUNT_FORMAT},
        help_text=_("Empty or 0: none. At most the amount asked."),
    )
    cap = MoneyField(
        label=_("Cap"),
        required=False,
        error_messages={"format": ERR_AMOUNT_FORMAT},
        help_text=_("Empty: no cap. At least the guaranteed minimum, at most the amount asked."),
    )

    class Meta:
        model = Claim
        fields = ["weight", "priority", "eligible", "exclusion_reason"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        claim = self.instance
        self.fields["floor"].initial = amount_text(claim.floor_minor)
        self.fields["cap"].initial = amount_text(claim.cap_minor)
        if "exclusion_reason" in self.fields:  # absent when the page is read-only
            self.fields["exclusion_reason"].required = False

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if any(name in self.errors for name in ("weight", "priority", "floor", "cap")):
            return data
        claim = self.instance
        try:
            services.claim_validate_editable(claim=claim)
            services.claim_validate_terms(
                claim=claim,
                weight=data.get("weight") or 0,
                priority=data.get("priority") or 0,
                floor_minor=data.get("floor") or 0,
                cap_minor=data.get("cap"),
                eligible=bool(data.get("eligible")),
                exclusion_reason=(data.get("exclusion_reason") or "").strip(),
            )
        except services.RoundError as refused:
            if hasattr(refused, "error_dict"):
                for name, errors in refused.error_dict.items():
                    for error in errors:
                        self.add_error(_TERM_FIELDS.get(name, name), error.message)
            else:
                raise ValidationError(refused.messages[0]) from None
        return data

    def _post_clean(self) -> None:
        # The service writes the claim; the form only collects and checks the terms.
        pass


class BallotForm(forms.Form):
    """An approval ballot: the projects (claims of the round) the voter approves."""

    projects = forms.TypedMultipleChoiceField(
        label=_("Projects you approve"),
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
        help_text=_(
            "Choose every project you would like funded; you can choose as many as you like."
        ),
        error_messages={
            "required": ERR_BALLOT_EMPTY,
            "invalid_choice": ERR_BALLOT_PROJECT,
        },
    )

    def __init__(self, *args: Any, choices: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["projects"].choices = choices  # type: ignore[attr-defined]
