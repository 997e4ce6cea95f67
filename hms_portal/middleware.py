"""Site-wide guards that must run before any view, parser or authentication class."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from rest_framework.parsers import JSONParser
from rest_framework.utils.mediatypes import media_type_matches

from core.api import ERR_JSON_TOO_DEEP, MAX_JSON_DEPTH, json_depth_exceeds
from hms_portal.errors import API_PATHS, error_response


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
