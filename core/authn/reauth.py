"""Sensitive actions ask for the password or second factor again when the last one entered
is older than `ACCOUNT_REAUTHENTICATION_TIMEOUT` (allauth's reauthentication)."""

from __future__ import annotations

from allauth.account.decorators import reauthentication_required
from django.http import HttpRequest, HttpResponse


def _proceed(request: HttpRequest) -> HttpResponse | None:
    return None


_check = reauthentication_required(_proceed)


def require_recent_authentication(request: HttpRequest) -> None:
    """Return when the user reauthenticated recently; otherwise raise allauth's
    `ReauthenticationRequired`, which its middleware answers by keeping the request (a POST
    included), sending the user to reauthenticate, and replaying the request after. Nothing
    the request asked for has happened when this raises."""
    _check(request)
