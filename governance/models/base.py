"""What the models of governance share: the permission names on a program, append-only rows,
and how a person is named in a decision."""

from __future__ import annotations

from typing import NoReturn

from django.db import models

REVIEW_PERMISSION = "governance.review_program"
DECIDE_PERMISSION = "governance.decide_program"
# Held by a delegate while one of their delegations on the program is active (never by anyone
# else): the decision check also reads the delegation itself, so the permission alone decides
# nothing.
DELEGATED_PERMISSION = "governance.decide_program_delegated"


class AppendOnlyMixin(models.Model):
    """Rows written once: `save()` on an existing row and `delete()` raise."""

    class Meta:
        abstract = True

    def save(self, *args: object, **kwargs: object) -> None:
        if not self._state.adding:
            raise ValueError(f"{type(self).__name__} rows are append-only.")
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def delete(self, *args: object, **kwargs: object) -> NoReturn:
        raise ValueError(f"{type(self).__name__} rows are append-only.")


def display_name(user: object) -> str:
    """How a person is named on a case and in refusals: their full name, else their username."""
    if user is None:
        return "—"
    full = user.get_full_name()  # type: ignore[attr-defined]
    return str(full or user.get_username())  # type: ignore[attr-defined]
