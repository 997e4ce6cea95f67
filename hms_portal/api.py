"""What every API endpoint shares: one error body with a machine-readable code.

    {"error": {"code": "exceeds_credits", "message": "...", "fields": {...}, "index": 3}}

A refused state change (a service's `ValidationError` subclass, with a `code`) answers 409 when
it conflicts with what was done before (`CONFLICT_CODES`) and 422 otherwise; malformed input
answers 400 with the fields' messages; authentication and permission answer 401/403.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DomainError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

CONFLICT_CODES = frozenset(
    {"idempotency_conflict", "pending_already_resolved", "already_reversed", "pending_expired"}
)


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **extra}}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, with domain refusals mapped and every error in the same shape."""
    if isinstance(exc, DomainError):
        code = exc.code or "invalid"
        extra = {"index": exc.params["index"]} if exc.params and "index" in exc.params else {}
        return Response(
            error_body(code, exc.messages[0], **extra),
            status=status.HTTP_409_CONFLICT
            if code in CONFLICT_CODES
            else status.HTTP_422_UNPROCESSABLE_ENTITY,
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response
    if isinstance(exc, exceptions.ValidationError):
        response.data = error_body("invalid", "The request is not valid.", fields=exc.detail)
    else:
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else exc.default_code
        response.data = error_body(str(code), str(exc.detail))
    return response
