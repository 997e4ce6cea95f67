"""Forms of the finance officers' round screens: amounts typed as text, never floats."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from hms_portal.forms import MoneyField

from . import rounds, rules
from .models import TIEBREAK_CHOICES, AllocationRound, Fund

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
                data["params"] = rounds.round_validate_rule(
                    rule=data["rule"],
                    params=data.get("parameters") or {},
                    tiebreak=data.get("tiebreak", "submitted"),
                )
            if data.get("fund") is not None and data.get("budget") is not None:
                rounds.round_validate_budget(fund=data["fund"], budget_minor=data["budget"])
        except rounds.RoundError as refused:
            raise ValidationError(refused.messages[0]) from None
        return data

    def _post_clean(self) -> None:
        # The service builds and validates the row; the form only collects its inputs.
        pass
