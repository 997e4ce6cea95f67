"""Letting a browser follow a request without an account for a while: after proving its
tracking number and email at /track/ (a signed cookie) or after filing it by an emailed link
(the session)."""

from __future__ import annotations

import time

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse

from . import conf

TRACK_SESSION_KEY = "hms_tracked_requests"
TRACK_COOKIE_NAME = "hms_track"
TRACK_COOKIE_SALT = "service_requests.track"


def _live(grants: object) -> dict[str, int]:
    """The unexpired (tracking number, expiry) pairs of stored grants, the latest ten."""
    if not isinstance(grants, dict):
        return {}
    now = time.time()
    live = {
        str(number): int(expiry)
        for number, expiry in grants.items()
        if isinstance(expiry, int | float) and expiry > now
    }
    return dict(sorted(live.items(), key=lambda item: item[1])[-10:])


def _cookie_grants(request: HttpRequest) -> dict[str, int]:
    """The grants of the signed /track/ cookie: nothing if it is missing, altered or older than
    a grant may live."""
    value = request.COOKIES.get(TRACK_COOKIE_NAME)
    if not value:
        return {}
    try:
        grants = signing.loads(
            value, salt=TRACK_COOKIE_SALT, max_age=max(0, int(conf.get("TRACK_GRANT_SECONDS")))
        )
    except (signing.BadSignature, ValueError):
        return {}
    return _live(grants)


def tracked(request: HttpRequest, tracking_number: str) -> bool:
    """Whether this browser found the request through /track/ (its signed cookie) or filed it
    by an emailed link (its session) a short while ago."""
    if tracking_number in _cookie_grants(request):
        return True
    session = getattr(request, "session", None)
    if session is None or session.session_key is None:
        return False
    return tracking_number in _live(session.get(TRACK_SESSION_KEY, {}))


def grant_tracking(
    request: HttpRequest, tracking_number: str, response: HttpResponse | None = None
) -> None:
    """Let this browser see the request for `TRACK_GRANT_SECONDS`. With a `response`, the grant
    goes into a signed, HttpOnly cookie that names the tracking number and its expiry (no
    session is created or written); without one, into the browser's session."""
    expiry = int(time.time() + conf.get("TRACK_GRANT_SECONDS"))
    if response is None:
        grants = _live(request.session.get(TRACK_SESSION_KEY, {}))
        grants[tracking_number] = expiry
        request.session[TRACK_SESSION_KEY] = _live(grants)
        return
    grants = _cookie_grants(request)
    grants[tracking_number] = expiry
    response.set_cookie(
        TRACK_COOKIE_NAME,
        signing.dumps(_live(grants), salt=TRACK_COOKIE_SALT, compress=True),
        max_age=max(0, int(conf.get("TRACK_GRANT_SECONDS"))),
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )
