"""Values every page template needs."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def portal(request: HttpRequest) -> dict[str, str]:
    """Expose the bureau's name as `bureau_name` (from `settings.HMS_BUREAU_NAME`)."""
    return {"bureau_name": settings.HMS_BUREAU_NAME}
