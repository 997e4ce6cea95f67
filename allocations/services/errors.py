"""The refusals of allocation services: a refused change writes nothing."""

from __future__ import annotations

from django.core.exceptions import ValidationError

ERR_FORBIDDEN = "Only finance officers may {action} allocation rounds."
ERR_STATE = "Round “{name}” is {state}; it cannot be {action}. Nothing was changed."


class AllocationError(ValidationError):
    """A refused allocation operation; nothing was written."""


class RoundError(AllocationError):
    """A refused change to an allocation round; nothing was written."""
