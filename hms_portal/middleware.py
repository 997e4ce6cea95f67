"""Site-wide guards that must run before any view, parser or authentication class."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.core.mail import mail_admins
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from rest_framework.parsers import JSONParser
from rest_framework.utils.mediatypes import media_type_matches

from core.api import ERR_JSON_TOO_DEEP, MAX_JSON_DEPTH, json_depth_exceeds
from hms_portal.errors import API_PATHS, error_response
from ledger.services import ERR_LEDGER_UNAVAILABLE, LedgerIntegrityError

logger = logging.getLogger("ledger.integrity")


class JsonDepthLimitMiddleware:
    """Refuse (400) a JSON body nested deeper than `MAX_JSON_DEPTH` on the API paths.

    django-oauth-toolkit reads the body through DRF's JSON parser while it authenticates, so a
    body a thousand levels deep raised `RecursionError` (a 500) for any anonymous caller. The
    check runs on every method and on each content type DRF's JSON parser accepts
    (`application/json`, and `application/*` or `*/*` too), in the answering API's own error
    shape: `{"error": {"code": "too_deep", ...}}`, or Open311's `[{"code": 400, ...}]`.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (
            request.path_info.startswith(API_PATHS)
            and request.content_type
            and media_type_matches(JSONParser.media_type, request.content_type)
            and json_depth_exceeds(request.body, MAX_JSON_DEPTH)
        ):
            return error_response(request, status=400, code="too_deep", message=ERR_JSON_TOO_DEEP)
        return self.get_response(request)


class LedgerIntegrityMiddleware:
    """A request that meets a broken hash chain (`ledger.services.LedgerIntegrityError`: the
    writer found the head and the stored chain disagree, and wrote nothing) answers 503 with
    `ERR_LEDGER_UNAVAILABLE`, on a page or in the answering API's error shape, instead of a
    500; staff are alerted (a critical log line and an email to `ADMINS`)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, LedgerIntegrityError):
            return None
        logger.critical("%s %s: %s", request.method, request.path_info, exception)
        mail_admins(
            "The ledger failed its integrity check",
            f"{request.method} {request.path_info}: {exception}\nRun manage.py verify_ledger.",
            fail_silently=True,
        )
        return ledger_unavailable(request)


def ledger_unavailable(request: HttpRequest) -> HttpResponse:
    """The 503 answer to a request that met a broken ledger."""
    wants_json = "application/json" in request.headers.get("Accept", "")
    if request.path_info.startswith(API_PATHS) or wants_json:
        return error_response(
            request, status=503, code="ledger_integrity", message=ERR_LEDGER_UNAVAILABLE
        )
    page = render_to_string("503_ledger.html", {"message": ERR_LEDGER_UNAVAILABLE})
    return HttpResponse(page, status=503)
