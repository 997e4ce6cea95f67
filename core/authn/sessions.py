"""What a staff session remembers about its own sign-in, in the session itself (so every web
process sees the same): when it started, when it was last used, and whether it passed a second
factor. The clock is `now()`, which tests replace."""

from __future__ import annotations

import time

from allauth.account.authentication import get_authentication_records
from django.http import HttpRequest

STARTED_KEY = "hms_auth_started_at"
SEEN_KEY = "hms_auth_seen_at"
MFA_KEY = "hms_auth_mfa_at"
# Set when the person removed their last authenticator in this session: what it passed before
# no longer counts, and the next staff page asks for a new one.
MFA_GONE_KEY = "hms_auth_mfa_gone"
# The last-used time is written at most this often, so a busy page does not rewrite its
# session on every request; the idle limit is that much less exact.
SEEN_RESOLUTION_SECONDS = 60


def now() -> float:
    return time.time()


def start_staff_session(request: HttpRequest) -> None:
    at = now()
    request.session[STARTED_KEY] = at
    request.session[SEEN_KEY] = at


def mark_mfa_passed(request: HttpRequest) -> None:
    request.session.pop(MFA_GONE_KEY, None)
    request.session[MFA_KEY] = now()


def mark_mfa_gone(request: HttpRequest) -> None:
    request.session.pop(MFA_KEY, None)
    request.session[MFA_GONE_KEY] = True


def passed_mfa(request: HttpRequest) -> bool:
    """Whether this session's sign-in went through a second factor: allauth's own record of
    the steps taken (sign-in or a later MFA check), or an authenticator activated in it."""
    if request.session.get(MFA_GONE_KEY):
        return False
    if request.session.get(MFA_KEY):
        return True
    records = get_authentication_records(request, request.user)  # type: ignore[arg-type]
    return any(entry.get("method") == "mfa" for entry in records)
