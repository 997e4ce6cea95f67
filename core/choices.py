"""Choice labels for display, each field's lazily translated choices resolved once per language.

`get_FOO_display()` translates the lazy label on every call; a list page that shows a status
per row pays that fifty times. These helpers keep one table per field and language.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Field, Model
from django.utils.translation import get_language

# (language, field) -> {value: label}: each field's lazily translated choices, resolved once.
_choice_texts: dict[tuple[str | None, Field[Any, Any]], dict[Any, str]] = {}


def field_choice_texts(field: Field[Any, Any]) -> dict[Any, str]:
    """The field's choices as {value: label} in the active language, translated once per
    process and language (`get_FOO_display()` translates the lazy label on every call)."""
    key = (get_language(), field)
    texts = _choice_texts.get(key)
    if texts is None:
        texts = _choice_texts[key] = {value: str(label) for value, label in field.flatchoices}
    return texts


def choice_text(obj: Model, field_name: str) -> str:
    """`obj.get_<field_name>_display()`, from the per-language table."""
    value = getattr(obj, field_name)
    texts = field_choice_texts(obj._meta.get_field(field_name))  # type: ignore[arg-type]
    return texts.get(value, str(value))
