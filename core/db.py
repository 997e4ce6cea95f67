"""Query pieces the apps share."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, cast

from django.db import connection
from django.db.models import BooleanField, Model, Q
from django.db.models.expressions import RawSQL

if TYPE_CHECKING:
    from django.db.models import Field


def id_in(model: type[Model], field: str, ids: Iterable[int]) -> Any:
    """A filter for `field` (an integer column of `model`) being one of `ids`. On PostgreSQL it
    is one array parameter, `= ANY(%s)`: for thousands of ids an IN list costs more to build and
    parse than the query takes to run. Elsewhere, the ordinary `__in` lookup."""
    values = list(ids)
    if connection.vendor != "postgresql":
        return Q(**{f"{field}__in": values})
    concrete = cast("Field[Any, Any]", model._meta.get_field(field))
    column = f'"{model._meta.db_table}"."{concrete.column}"'
    return RawSQL(  # noqa: S611  (a column from model metadata; the ids are bound)
        f"{column} = ANY(%s)", (values,), output_field=BooleanField()
    )
