"""Count the template variable lookups that fail while a page renders.

A failed lookup (`{{ obj.missing }}`, `{% if missing %}`) costs Django a `dir()` of the object
it looked in before it gives up; the admin pages the portal draws should have none. Used by the
admin tests and by `bench/bench_changelist.py`.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator
from typing import Any

from django.template.base import Variable, VariableDoesNotExist


@contextlib.contextmanager
def failed_lookups() -> Iterator[Counter[str]]:
    """Within the block, count each failed lookup by the template it happened in and its
    variable (`"admin/change_list.html: cl.missing"`)."""
    failures: Counter[str] = Counter()
    original = Variable._resolve_lookup

    def counting(self: Variable, context: Any) -> Any:
        try:
            return original(self, context)
        except VariableDoesNotExist:
            current = getattr(context.render_context, "template", None)
            origin = getattr(current, "origin", None)
            where = getattr(origin, "template_name", None) or "?"
            failures[f"{where}: {self.var}"] += 1
            raise

    Variable._resolve_lookup = counting  # type: ignore[method-assign]
    try:
        yield failures
    finally:
        Variable._resolve_lookup = original  # type: ignore[method-assign]
