from __future__ import annotations

from typing import Any

from django.apps import AppConfig


class HmsPortalConfig(AppConfig):
    name = "hms_portal"
    verbose_name = "HMS portal"

    def ready(self) -> None:
        _compute_changelist_headers_once()
        _build_history_manager_class_once()


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


def _build_history_manager_class_once() -> None:
    """django-simple-history's `<Model>.history` descriptor builds a new manager class (with
    `Manager.from_queryset`, which walks every queryset method) on each access, and every saved
    change reads it once or twice to write its history row. The class depends only on the
    descriptor, so build it on first access and keep it there."""
    from simple_history.manager import HistoryDescriptor

    if getattr(HistoryDescriptor.__get__, "built_once", False):
        return

    def __get__(self: Any, instance: Any, owner: Any) -> Any:
        manager_class = self.__dict__.get("_hms_manager_class")
        if manager_class is None:
            manager_class = self.manager_class.from_queryset(self.queryset_class)
            self._hms_manager_class = manager_class
        return manager_class(self.model, instance)

    __get__.built_once = True  # type: ignore[attr-defined]
    HistoryDescriptor.__get__ = __get__  # type: ignore[method-assign]
