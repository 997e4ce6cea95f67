"""The portal's URLs plus views that meet real database errors, for the 503 tests."""

from __future__ import annotations

from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse

from hms_portal.urls import handler500  # noqa: F401  (the handler under test)
from hms_portal.urls import urlpatterns as portal_urlpatterns


def statement_cancelled(request: HttpRequest) -> HttpResponse:
    """A statement PostgreSQL cancels at its `statement_timeout`, as a web request's would be."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL statement_timeout = 50")
        cursor.execute("SELECT pg_sleep(2)")
    return HttpResponse("not reached")


def programming_fault(request: HttpRequest) -> HttpResponse:
    raise ZeroDivisionError("a fault in the portal, not the database")


urlpatterns = [
    *portal_urlpatterns,
]
for prefix in ("", "api/v1/", "open311/v2/"):
    from django.urls import path

    urlpatterns += [
        path(f"{prefix}drill/cancelled.json", statement_cancelled),
        path(f"{prefix}drill/cancelled", statement_cancelled),
        path(f"{prefix}drill/fault", programming_fault),
    ]
