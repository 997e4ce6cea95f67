"""What every API endpoint shares: one error body with a machine-readable code.

    {"error": {"code": "exceeds_credits", "message": "...", "fields": {...}, "index": 3}}

A refused state change (a service's `ValidationError` subclass, with a `code`) answers 409 when
it conflicts with what was done before (`CONFLICT_CODES`), 403 when the acting user may not do it
(`forbidden`) and 422 otherwise; malformed input answers 400 with the fields' messages;
authentication and permission answer 401/403; a client over its rate answers 429 with
`Retry-After`.

Also here, because every endpoint shares them: `HasScope` (an OAuth client's token must carry the
scope of the resource and action: `<resource>:read` for safe methods, `<resource>:write` for the
others, or what the view's `required_scopes` names), `ClientRateThrottle` (a fixed window per
client in the cache, which is Redis in production), the `Idempotency-Key` header and the depth
limit on JSON bodies (`json_depth_exceeds`, checked by `hms_portal.middleware`).

People (session with CSRF, or the ledger's per-user token) are not limited by scopes: their
permissions decide, as on the screens. A client acts for its configured user, so the same
permission checks apply to it on top of the scopes.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping, Sequence
from itertools import accumulate
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DomainError
from django.http import Http404
from oauth2_provider.models import get_access_token_model
from rest_framework import exceptions, permissions, status, throttling
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response

CONFLICT_CODES = frozenset(
    {
        "idempotency_conflict",
        "pending_already_resolved",
        "already_reversed",
        "pending_expired",
        "stale",
    }
)
FORBIDDEN_CODES = frozenset({"forbidden"})
MAX_IDEMPOTENCY_KEY = 128
# Deeper JSON bodies are refused before they are parsed (`json_depth_exceeds`).
MAX_JSON_DEPTH = 64
ERR_JSON_TOO_DEEP = f"JSON may nest at most {MAX_JSON_DEPTH} levels of arrays and objects."


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **extra}}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, with domain refusals mapped and every error in the same shape."""
    # Imported here: DRF's views module loads the permission classes below while it imports.
    from rest_framework.views import exception_handler as drf_exception_handler

    if isinstance(exc, DomainError):
        code = getattr(exc, "code", None) or "invalid"
        params = getattr(exc, "params", None) or {}
        extra: dict[str, Any] = {"index": params["index"]} if "index" in params else {}
        if "field" in params:
            extra["fields"] = {params["field"]: [exc.messages[0]]}
        if code in CONFLICT_CODES:
            answer = status.HTTP_409_CONFLICT
        elif code in FORBIDDEN_CODES:
            answer = status.HTTP_403_FORBIDDEN
        else:
            answer = status.HTTP_422_UNPROCESSABLE_ENTITY
        return Response(error_body(code, exc.messages[0], **extra), status=answer)
    if isinstance(exc, exceptions.NotFound) and str(exc.detail) == str(
        CursorPagination.invalid_cursor_message
    ):
        # DRF answers a malformed cursor with 404; it is the client's malformed input.
        return Response(
            error_body("invalid_cursor", "The cursor is not valid: follow `next` as given."),
            status=status.HTTP_400_BAD_REQUEST,
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


# --- Scopes ---------------------------------------------------------------------------------


def oauth_token(request: Request) -> Any:
    """The request's OAuth access token, or None when a person (session or user token) calls."""
    token = request.auth
    return token if isinstance(token, get_access_token_model()) else None


def required_scopes(view: Any, method: str) -> list[str] | None:
    """The scopes a client needs for `method` on `view`: the view's `required_scopes` (a list,
    or a mapping of method to list with `"*"` for the rest), else `<scope_resource>:read` for
    safe methods and `<scope_resource>:write` for the others. None: no client may call it."""
    explicit = getattr(view, "required_scopes", None)
    if isinstance(explicit, Mapping):
        chosen = explicit.get(method, explicit.get("*"))
        return list(chosen) if chosen is not None else None
    if isinstance(explicit, Sequence) and not isinstance(explicit, str):
        return list(explicit)
    resource = getattr(view, "scope_resource", None)
    if not resource:
        return None
    action = "read" if method in permissions.SAFE_METHODS else "write"
    return [f"{resource}:{action}"]


def has_scope(request: Request, scope: str) -> bool:
    """Whether the caller holds `scope`: always for a person, by the token for a client."""
    token = oauth_token(request)
    return token is None or bool(token.allow_scopes([scope]))


class HasScope(permissions.BasePermission):
    """An OAuth client needs the scopes of the resource and action; people pass (their
    permissions decide). An endpoint that names no scope is closed to clients."""

    code = "insufficient_scope"

    def has_permission(self, request: Request, view: Any) -> bool:
        token = oauth_token(request)
        if token is None:
            return True
        scopes = required_scopes(view, request.method or "GET")
        if scopes is None:
            self.message = "This endpoint is not open to API clients."
            return False
        if not token.allow_scopes(scopes):
            self.message = f"The access token lacks the scope {' '.join(scopes)}."
            return False
        return True


# --- Rate limits ----------------------------------------------------------------------------

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """`"600/min"` → (600, 60): calls allowed and the window in seconds."""
    count, period = rate.split("/")
    return int(count), _PERIODS[period.strip()[0]]


class ClientRateThrottle(throttling.BaseThrottle):
    """A fixed-window counter per OAuth client (its own rate from the admin, else the
    `client` default) and per person (`user`), kept in the cache: Redis in production, so
    every web process counts against the same limit. Over it: 429 with `Retry-After`."""

    cache = cache
    timer = staticmethod(time.time)

    def __init__(self) -> None:
        self._wait: float | None = None

    def _identity(self, request: Request) -> tuple[str, str] | None:
        framework: dict[str, Any] = getattr(settings, "REST_FRAMEWORK", {})
        rates: dict[str, str] = framework.get("DEFAULT_THROTTLE_RATES", {})
        token = oauth_token(request)
        if token is not None:
            client = getattr(token.application, "api_client", None)
            rate = (client.rate if client is not None else "") or rates.get("client", "")
            return f"client:{token.application_id}", rate
        user = request.user
        if user is not None and user.is_authenticated and rates.get("user"):
            return f"user:{user.pk}", rates["user"]
        return None

    def allow_request(self, request: Request, view: Any) -> bool:
        identity = self._identity(request)
        if identity is None or not identity[1]:
            return True
        ident, rate = identity
        allowed, period = parse_rate(rate)
        now = self.timer()
        window = int(now // period)
        key = f"api-throttle:{ident}:{period}:{window}"
        # add + incr are atomic in Redis: concurrent web processes never both take the last
        # call of a window.
        self.cache.add(key, 0, timeout=period + 1)
        try:
            count = self.cache.incr(key)
        except ValueError:  # the key expired between add and incr
            self.cache.set(key, 1, timeout=period + 1)
            count = 1
        if count > allowed:
            self._wait = (window + 1) * period - now
            return False
        return True

    def wait(self) -> float | None:
        return math.ceil(self._wait) if self._wait is not None else None


# --- Idempotency ----------------------------------------------------------------------------


def idempotency_key(request: Request) -> str:
    """The request's `Idempotency-Key` header, required on every POST that creates something."""
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key or len(key) > MAX_IDEMPOTENCY_KEY:
        raise exceptions.ValidationError(
            {"Idempotency-Key": [f"Send an Idempotency-Key header (1 to {MAX_IDEMPOTENCY_KEY})."]}
        )
    return key


# --- Input the database cannot hold -------------------------------------------------------


# A JSON string, escapes included (the unrolled form, linear on any input).
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_DEPTH_STEP = [0] * 256
for _opener, _closer in (b"[]", b"{}"):
    _DEPTH_STEP[_opener], _DEPTH_STEP[_closer] = 1, -1


def json_depth_exceeds(body: bytes, limit: int) -> bool:
    """Whether `body` nests arrays and objects deeper than `limit`, brackets inside strings
    not counted. Without recursion, so safe to run on a body before any parser does (Python's
    `json` recurses once per level and raises `RecursionError` near a thousand). Not a
    validator: a malformed body passes or fails here and its parser refuses it later."""
    brackets = _JSON_STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    if len(brackets) <= limit:
        return False
    return max(accumulate(map(_DEPTH_STEP.__getitem__, brackets))) > limit


class RejectNulMixin:
    """Refuse (400) a NUL character in the query string or the URL's arguments before any
    lookup: PostgreSQL text cannot hold one, and the query would fail with a server error.
    (DRF's CharField already refuses NUL in bodies.)"""

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        for name, value in [*request.query_params.items(), *kwargs.items()]:
            if isinstance(value, str) and "\x00" in value:
                raise exceptions.ValidationError({name: ["Null characters are not allowed."]})
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
