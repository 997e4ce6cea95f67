from __future__ import annotations

from typing import Any

from django.apps import AppConfig


class HmsPortalConfig(AppConfig):
    name = "hms_portal"
    verbose_name = "HMS portal"

    def ready(self) -> None:
        _compute_changelist_headers_once()


def _compute_changelist_headers_once() -> None:
    """unfold's changelist rows each recompute every column header (`items_for_result` calls
    `result_headers(cl)` per row), which is most of the time a 50-row page takes to render.
    The headers depend only on the changelist, so keep them on it after the first call."""
    from unfold.templatetags import unfold_list

    compute = unfold_list.result_headers
    if getattr(compute, "computed_once", False):
        return

    def result_headers(cl: Any) -> Any:
        headers = getattr(cl, "_hms_result_headers", None)
        if headers is None:
            headers = list(compute(cl))
            cl._hms_result_headers = headers
        return iter(headers)

    result_headers.computed_once = True  # type: ignore[attr-defined]
    unfold_list.result_headers = result_headers
