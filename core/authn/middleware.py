"""Two rules for staff sessions, checked on every request after the user is known
(`AuthenticationMiddleware`, allauth's `AccountMiddleware`):

- `StaffSessionLimitMiddleware`: a staff session ends after `HMS_STAFF_SESSION_IDLE_SECONDS`
  without a request or `HMS_STAFF_SESSION_MAX_SECONDS` after its sign-in;
- `StaffMfaMiddleware`: until the session has passed a second factor, a staff member reaches
  only the sign-in, sign-out and MFA pages: without an authenticator, the enrolment (an
  authenticator app, then recovery codes); with one, allauth's MFA check.

Civilians are untouched, and so are API clients with tokens (a token is not a session: the
user is not known at this point).
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import REDIRECT_FIELD_NAME, logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _

from core.models import SecurityEventKind as Kind
from core.roles import is_staff_member

from . import conf, sessions
from .receivers import record

Handler = Callable[[HttpRequest], HttpResponse]


def _with_next(url: str, request: HttpRequest) -> str:
    if request.method != "GET":
        return url
    return f"{url}?{urlencode({REDIRECT_FIELD_NAME: request.get_full_path()})}"


class StaffSessionLimitMiddleware:
    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if is_staff_member(user) and hasattr(request, "session"):
            at = sessions.now()
            started = request.session.get(sessions.STARTED_KEY)
            seen = request.session.get(sessions.SEEN_KEY)
            if started is None:
                # A session from before these limits: its clock starts now.
                sessions.start_staff_session(request)
            else:
                ended = None
                if seen is not None and at - seen > conf.staff_idle_seconds():
                    ended = Kind.SESSION_IDLE_EXPIRED
                elif at - started > conf.staff_max_seconds():
                    ended = Kind.SESSION_LIFETIME_EXPIRED
                if ended is not None:
                    record(ended, request, user)
                    logout(request)
                    messages.info(request, _("Your session ended. Please sign in again."))
                    return HttpResponseRedirect(_with_next(reverse("account_login"), request))
                if seen is None or at - seen >= sessions.SEEN_RESOLUTION_SECONDS:
                    request.session[sessions.SEEN_KEY] = at
        return self.get_response(request)


class StaffMfaMiddleware:
    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response
        self._open: tuple[str, ...] | None = None

    def _open_paths(self) -> tuple[str, ...]:
        if self._open is None:
            self._open = (
                reverse("account_logout"),
                reverse("account_reauthenticate"),
                reverse("mfa_index"),  # the MFA pages live under it
                settings.STATIC_URL,
                "/i18n/",
            )
        return self._open

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if (
            is_staff_member(user)
            and not request.path.startswith(self._open_paths())
            and not sessions.passed_mfa(request)
        ):
            if is_mfa_enabled(user):
                target = reverse("mfa_reauthenticate")
            else:
                target = reverse("mfa_activate_totp")
                messages.info(
                    request,
                    _("Staff accounts need a second factor. Add an authenticator app to continue."),
                )
            return HttpResponseRedirect(_with_next(target, request))
        return self.get_response(request)
