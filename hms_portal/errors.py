"""Error answers shared by the site's middleware and its 500 handler, in the shape each
audience reads: the REST API's `{"error": {"code", "message"}}`, Open311's `[{"code",
"description"}]` (JSON or XML, by the path's suffix), or an HTML page.

`server_error` is the site's `handler500`. An error raised because the database cannot be
reached, or gave up on a statement (connection refused or lost, `connect_timeout`, the web
requests' `statement_timeout`), is not a fault in the portal: it is answered 503 with
`Retry-After`, so a load balancer and a client both know to come back, and the page renders
without touching the database (no session, no user, no context processors). When the database
answers again, the next request opens a new connection: no process has to restart.
"""

from __future__ import annotations

import logging
import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

from core.api import error_body
from integrations.open311 import Open311Error, render_error

logger = logging.getLogger(__name__)

API_PATHS = ("/api/", "/open311/")
RETRY_AFTER_SECONDS = 30
UNAVAILABLE = "unavailable"
UNAVAILABLE_MESSAGE = (
    "The service is briefly unavailable: its database is not answering. Retry shortly; where "
    "the call takes an Idempotency-Key, retry with the same key."
)
SERVER_ERROR_MESSAGE = "Something went wrong on our side."


def error_response(request: HttpRequest, *, status: int, code: str, message: str) -> HttpResponse:
    """An API-shaped error answer for a request on the API paths (`API_PATHS`)."""
    if request.path_info.startswith("/open311/"):
        fmt = "xml" if request.path_info.endswith(".xml") else "json"
        return render_error(Open311Error(status, message), fmt)
    return JsonResponse(error_body(code, message), status=status)


def database_unavailable(error: BaseException | None) -> bool:
    """Whether `error` says the database could not be reached or gave up on the statement."""
    return isinstance(error, OperationalError | InterfaceError)


def server_error(request: HttpRequest) -> HttpResponse:
    """`handler500`: 503 with `Retry-After` when the database is away, else a plain 500; both
    in the API's shape on the API paths and as a page elsewhere, never touching the database."""
    error = sys.exc_info()[1]
    if database_unavailable(error):
        logger.warning("database unavailable, answered 503: %r", error)
        if request.path_info.startswith(API_PATHS):
            response = error_response(
                request, status=503, code=UNAVAILABLE, message=UNAVAILABLE_MESSAGE
            )
        else:
            response = HttpResponse(render_to_string("503.html"), status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    if request.path_info.startswith(API_PATHS):
        return error_response(
            request, status=500, code="server_error", message=SERVER_ERROR_MESSAGE
        )
    return HttpResponse(render_to_string("500.html"), status=500)
