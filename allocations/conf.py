"""Tunables of allocations, each overridable in settings as `HMS_ALLOCATIONS_<NAME>`."""

from __future__ import annotations

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    # Rounds with more claims than this are computed by a Celery task (with progress shown on
    # the round's page); smaller ones at once, in the request.
    "ASYNC_CLAIMS": 5_000,
    # Grants per page on a committed round's public page.
    "PUBLIC_GRANTS_PER_PAGE": 200,
    # Claims drawn in the demand-against-grant chart (a large round is sampled evenly).
    "CHART_POINTS": 120,
}


def get(name: str) -> Any:
    """The setting `HMS_ALLOCATIONS_<name>`, or its default."""
    return getattr(settings, f"HMS_ALLOCATIONS_{name}", DEFAULTS[name])
