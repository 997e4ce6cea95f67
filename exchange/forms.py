"""The participant's forms: listing an item, and ranking the others with one plain select per
item (no script, no dragging: each select is labelled with the item and says its place)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils.html import escape
from django.utils.translation import gettext_lazy as _

from .models import ExchangeItem

ERR_SAME_PLACE = _(
    "You gave “%(title)s” the same place as “%(other)s”: give each item its own place."
)
NOT_ACCEPTABLE = ""
MAX_PHOTO_BYTES = 4 * 1024 * 1024
# What a photo must start with, and the extension it is stored under.
PHOTO_SIGNATURES = {b"\xff\xd8\xff": "jpg", b"\x89PNG\r\n\x1a\n": "png"}
ERR_PHOTO = _("Choose a JPEG or PNG photo of up to 4 MB.")


def add_refusal(form: forms.BaseForm, refused: ValidationError) -> None:
    """Show a service's field-keyed refusal beside its fields (unknown keys at the top)."""
    for field, texts in refused.message_dict.items():
        for text in texts:
            form.add_error(field if field in form.fields else None, text)


class ItemForm(forms.Form):
    """The item a participant brings: its title (published with the results), a description
    other participants read, an optional photo."""

    title = forms.CharField(
        label=_("Title"),
        max_length=120,
        help_text=_("Describe the item, not yourself: titles are shown with the public results."),
    )
    description = forms.CharField(
        label=_("Description"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("What the others should know: size, location, hours."),
    )
    photo = forms.FileField(
        label=_("Photo"),
        required=False,
        help_text=_("Optional: a JPEG or PNG of the item, up to 4 MB. Leave people out of it."),
    )

    def clean_photo(self) -> UploadedFile | None:
        photo = self.cleaned_data.get("photo")
        if not photo:
            return None
        if photo.size is None or photo.size > MAX_PHOTO_BYTES:
            raise ValidationError(ERR_PHOTO, code="photo")
        head = photo.read(8)
        photo.seek(0)
        for signature, extension in PHOTO_SIGNATURES.items():
            if head.startswith(signature):
                photo.name = f"item.{extension}"  # never the uploader's own file name
                return photo
        raise ValidationError(ERR_PHOTO, code="photo")


def _place(n: int) -> str:
    return str(_("%(n)d (most wanted)") % {"n": n}) if n == 1 else str(n)


class RankingForm(forms.Form):
    """One select per other item: "not acceptable" (the default) or a place, 1 being the most
    wanted. Two items given the same place are refused on the second one's field."""

    def __init__(self, *args: Any, items: list[ExchangeItem], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.items = items
        choices = [(NOT_ACCEPTABLE, _("Not acceptable"))] + [
            (str(n), _place(n)) for n in range(1, len(items) + 1)
        ]
        for item in items:
            self.fields[f"rank_{item.pk}"] = forms.ChoiceField(
                label=item.title,
                required=False,
                choices=choices,
                help_text=escape(item.description),  # the template marks help text safe
            )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        taken: dict[str, ExchangeItem] = {}
        for item in self.items:
            place = data.get(f"rank_{item.pk}") or NOT_ACCEPTABLE
            if place == NOT_ACCEPTABLE:
                continue
            if place in taken:
                self.add_error(
                    f"rank_{item.pk}",
                    ValidationError(
                        ERR_SAME_PLACE,
                        code="duplicate",
                        params={"title": item.title, "other": taken[place].title},
                    ),
                )
            else:
                taken[place] = item
        return data

    def ranked_ids(self) -> list[int]:
        """The ranked items' numbers, best first."""
        placed = []
        for item in self.items:
            place = self.cleaned_data.get(f"rank_{item.pk}") or NOT_ACCEPTABLE
            if place != NOT_ACCEPTABLE:
                placed.append((int(place), item.pk))
        return [pk for _, pk in sorted(placed)]
