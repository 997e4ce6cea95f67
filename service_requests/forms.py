"""Forms of the public pages. Rules a civilian should see as field errors run here, through the
same validators the services use."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from core.forms import MoneyField

from .attachments import ALLOWED_TYPES
from .errors import RequestError, text_validate_printable
from .models import (
    MAX_DESCRIPTION,
    MAX_SATISFACTION_COMMENT,
    SATISFACTION_SCORES,
    QuestionKind,
    ServiceQuestion,
    ServiceType,
)
from .selectors import service_type_for_filing
from .services import attachments_validate, request_validate_amount, request_validate_rating

ERR_AMOUNT_FORMAT = _("Enter an amount such as 1250 or 1250.50.")


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input; cleans to a list (empty when none were chosen)."""

    widget = MultipleFileInput(
        attrs={"accept": ",".join([*ALLOWED_TYPES, *ALLOWED_TYPES.values()])}
    )

    def clean(self, data: object, initial: object = None) -> list[object]:  # type: ignore[override]
        single = super().clean
        items = [i for i in data if i] if isinstance(data, list | tuple) else [data] if data else []
        if not items and self.required:
            raise ValidationError(self.error_messages["required"], code="required")
        return [single(item, initial) for item in items]


ATTACHMENTS_HELP = _("PDF, PNG, JPEG or plain text, up to 4 MB each.")


def _check_files(form: forms.Form, field: str, *, already: int = 0) -> None:
    files = form.cleaned_data.get(field) or []
    if field in form.errors or not files:
        return
    try:
        form.cleaned_data[field] = attachments_validate(files=files, already=already)
    except RequestError as error:
        form.add_error(field, error.messages[0])


class AttachmentsForm(forms.Form):
    attachments = MultipleFileField(
        label=_("Documents"),
        help_text=ATTACHMENTS_HELP,
        error_messages={"required": _("Choose at least one file to add.")},
    )

    def __init__(self, *args: object, already: int = 0, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.already = already

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        _check_files(self, "attachments", already=self.already)
        return data


class DateInput(forms.DateInput):
    input_type = "date"


MAX_ANSWER = 1000


def question_field(question: ServiceQuestion) -> forms.Field:
    """The form field asking `question`, labelled in the active language."""
    common: dict[str, Any] = {
        "label": question.display_label,
        "help_text": question.display_help,
        "required": question.required,
    }
    choices = [(value, shown) for value, _english, shown in question.choice_list()]
    if question.kind == QuestionKind.NUMBER:
        return forms.DecimalField(
            max_digits=14,
            decimal_places=2,
            widget=forms.TextInput(attrs={"inputmode": "decimal"}),
            **common,
        )
    if question.kind == QuestionKind.DATE:
        return forms.DateField(widget=DateInput, **common)
    if question.kind == QuestionKind.CHOICE:
        return forms.ChoiceField(choices=choices, widget=forms.RadioSelect, **common)
    if question.kind == QuestionKind.MULTIPLE:
        return forms.MultipleChoiceField(
            choices=choices, widget=forms.CheckboxSelectMultiple, **common
        )
    return forms.CharField(
        max_length=MAX_ANSWER, widget=forms.Textarea(attrs={"rows": 3}), **common
    )


def _chosen_service(form: forms.Form) -> Any:
    """The service chosen in the posted data (an open one, with its questions, from the
    filing cache), else in the initial data."""
    if not form.is_bound:
        return form.initial.get("service_type")
    raw = str(form.data.get("service_type") or "")
    if raw.isdigit() and len(raw) < 19:
        return service_type_for_filing(pk=int(raw))
    return None


class ServiceChoiceField(forms.ModelChoiceField):
    """A service type, shown by its name in the active language. `known` is the service the
    form already read for the posted value: cleaning reuses it instead of reading it again."""

    known: ServiceType | None = None

    def label_from_instance(self, obj: ServiceType) -> str:  # type: ignore[override]
        return obj.display_name

    def to_python(self, value: Any) -> Any:
        if self.known is not None and str(value) == str(self.known.pk):
            return self.known
        return super().to_python(value)


class DetailsForm(forms.Form):
    """Step one of filing: the service, what is needed, the amount and the service's extra
    questions."""

    service_type = ServiceChoiceField(
        queryset=ServiceType.objects.none(),
        label=_("Service"),
        empty_label=_("- Select -"),
        error_messages={"invalid_choice": _("Choose one of the services listed.")},
    )
    description = forms.CharField(
        label=_("What do you need?"),
        max_length=MAX_DESCRIPTION,
        min_length=10,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("At least 10 characters, at most 5,000."),
    )
    amount = MoneyField(
        allow_negative=True,
        error_messages={"format": ERR_AMOUNT_FORMAT},
        label=_("Amount requested (USD)"),
        required=False,
        help_text=_("Only for services that pay out money."),
    )

    def __init__(self, *args: object, service_types: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        field = self.fields["service_type"]
        field.queryset = service_types  # type: ignore[attr-defined]
        # The chosen service's extra questions, placed after the description.
        chosen = _chosen_service(self)
        if self.is_bound:
            field.known = chosen  # type: ignore[attr-defined]
        self.questions: list[ServiceQuestion] = list(chosen.questions.all()) if chosen else []
        for question in self.questions:
            self.fields[f"q_{question.code}"] = question_field(question)

    @property
    def question_fields(self) -> list[forms.BoundField]:
        return [self[f"q_{q.code}"] for q in self.questions]

    def answer_values(self) -> dict[str, object]:
        return {q.code: self.cleaned_data.get(f"q_{q.code}") for q in self.questions}

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        service_type = data.get("service_type")
        if service_type is not None and "amount" not in self.errors:
            try:
                request_validate_amount(service_type=service_type, amount_minor=data.get("amount"))
            except RequestError as error:
                self.add_error("amount", error.messages[0])
        return data


class ContactForm(forms.Form):
    """How the bureau reaches the civilian (prefilled from the account when signed in)."""

    contact_name = forms.CharField(label=_("Your full name"), max_length=120)
    contact_email = forms.EmailField(label=_("Email"), max_length=254)
    contact_phone = forms.RegexField(
        label=_("Phone (optional)"),
        required=False,
        max_length=32,
        regex=r"^[0-9+()\-. ]{7,32}$",
        error_messages={"invalid": _("Enter a phone number using digits, spaces and + ( ) - .")},
    )


class DocumentsForm(AttachmentsForm):
    """The documents step: optional files, kept with the draft once checked."""

    attachments = MultipleFileField(
        label=_("Documents (optional)"), required=False, help_text=ATTACHMENTS_HELP
    )


class RequestForm(DetailsForm, ContactForm, DocumentsForm):
    """File a request in one post (every step's fields at once). `submission_token` is issued
    with the page; resubmitting the same page returns the request the first submit made."""

    submission_token = forms.UUIDField(widget=forms.HiddenInput)

    field_order = [
        "service_type",
        "description",
        "amount",
        "contact_name",
        "contact_email",
        "contact_phone",
        "attachments",
    ]


class ConfirmForm(forms.Form):
    """The review page's final submit: the draft's one-time token, so a double click files
    once."""

    submission_token = forms.UUIDField(widget=forms.HiddenInput)


def email_field(*, label: Any, help_text: Any, required: Any) -> forms.EmailField:
    """An email address field with the public pages' messages."""
    return forms.EmailField(
        label=label,
        max_length=254,
        help_text=help_text,
        error_messages={
            "invalid": _("Enter an email address such as name@example.com."),
            "required": required,
        },
    )


class VerifyEmailForm(forms.Form):
    """Filing without an account: where the one-time link goes."""

    email = email_field(
        label=_("Email address to confirm"),
        help_text=_("We email you a link. Your request is filed when you open it."),
        required=_("Enter the email address where we can send the link."),
    )


class InfoForm(forms.Form):
    message = forms.CharField(
        label=_("Your answer"), max_length=MAX_DESCRIPTION, widget=forms.Textarea(attrs={"rows": 5})
    )


TRACKING_NUMBER_RE = r"^\s*[Hh][Mm][Ss]-[0-9]{4}-[0-9]{6,12}\s*$"
MAX_QUERY = 100


class TrackForm(forms.Form):
    """Find a request without an account: its tracking number and the email it was filed with.

    Only the shape of the tracking number is checked here; whether it exists is never told."""

    tracking_number = forms.RegexField(
        label=_("Tracking number"),
        regex=TRACKING_NUMBER_RE,
        max_length=24,
        help_text=_("It looks like HMS-2026-000123 and is in the email we sent you."),
        error_messages={
            "invalid": _("Enter the tracking number as it appears in our email: HMS-2026-000123."),
            "required": _("Enter the tracking number."),
        },
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    email = email_field(
        label=_("Email address"),
        help_text=_("The email address you gave when you filed the request."),
        required=_("Enter the email address you gave with the request."),
    )

    def clean_tracking_number(self) -> str:
        return str(self.cleaned_data["tracking_number"]).strip().upper()


class WithdrawForm(forms.Form):
    reason = forms.CharField(
        label=_("Why are you withdrawing it? (optional)"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("This helps us improve. Withdrawing cannot be undone."),
    )
    confirm = forms.BooleanField(
        label=_("Yes, withdraw this request"),
        error_messages={"required": _("Tick the box to confirm that you want to withdraw.")},
    )

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"]
        try:
            text_validate_printable(reason)
        except RequestError as error:
            raise ValidationError(error.messages[0], code="control_characters") from None
        return reason


class SatisfactionForm(forms.Form):
    score = forms.TypedChoiceField(
        label=_("How satisfied are you with the service you received?"),
        choices=SATISFACTION_SCORES,
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={
            "required": _("Choose how satisfied you are."),
            "invalid_choice": _("Choose one of the five answers."),
        },
    )
    comment = forms.CharField(
        label=_("Anything you would like to tell us? (optional)"),
        required=False,
        max_length=MAX_SATISFACTION_COMMENT,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Do not include personal or financial details."),
    )

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if "score" in data and "comment" not in self.errors:
            try:
                request_validate_rating(score=data["score"], comment=str(data.get("comment") or ""))
            except RequestError as error:
                self.add_error("comment", error.messages[0])
        return data


class CatalogueSearchForm(forms.Form):
    q = forms.CharField(
        label=_("Search our services"),
        required=False,
        max_length=MAX_QUERY,
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}),
    )
