"""Every authentication step, heard from Django's and allauth's signals, goes into the security
log; a sign-in also starts the staff session clock and checks the device it came from."""

from __future__ import annotations

from typing import Any

from allauth.account import signals as account_signals
from allauth.mfa import signals as mfa_signals
from allauth.mfa.utils import is_mfa_enabled
from django.contrib.auth import signals as auth_signals
from django.http import HttpRequest

from core.models import SecurityEventKind as Kind
from core.roles import is_staff_member
from core.services.security import known_device_register, security_event_record

from . import emails
from .client import agent_family, client_ip, user_agent
from .sessions import mark_mfa_gone, mark_mfa_passed, start_staff_session


def record(
    kind: Kind,
    request: HttpRequest | None,
    user: Any = None,
    *,
    login: str = "",
    by_owner: bool = True,
    **detail: Any,
) -> None:
    """Append `kind` about `user`'s account (None: no account is known) with the request's
    address; `by_owner` False when someone else's attempt caused it (a lockout)."""
    if user is not None and not getattr(user, "pk", None):
        user = None
    security_event_record(
        actor=user if by_owner else None,
        user=user,
        kind=kind,
        login=login,
        ip_address=client_ip(request) if request is not None else "",
        user_agent=user_agent(request) if request is not None else "",
        detail={key: value for key, value in detail.items() if value is not None},
    )


def on_signed_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    record(Kind.SIGNED_IN, request, user)
    if request is None:
        return
    if is_staff_member(user) and hasattr(request, "session"):
        start_staff_session(request)
    family = agent_family(user_agent(request))
    address = client_ip(request)
    _, new, first = known_device_register(actor=user, agent_family=family, ip_address=address)
    if new and not first:
        record(Kind.NEW_DEVICE, request, user, family=family)
        emails.owner_new_device(user.pk, family, address)


def on_signed_out(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    record(Kind.SIGNED_OUT, request, user)


def on_sign_in_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    login = str(credentials.get("email") or credentials.get("username") or "")
    record(Kind.SIGN_IN_FAILED, request, None, login=login)


def on_step_completed(
    sender: Any, request: HttpRequest, user: Any, method: str, **kwargs: Any
) -> None:
    # MFA steps are told by the MFA signals below; a password typed again is told here.
    if method == "password" and kwargs.get("reauthenticated"):
        record(Kind.REAUTHENTICATED, request, user, method="password")


def on_password_changed(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    record(Kind.PASSWORD_CHANGED, request, user)


def on_password_reset(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    record(Kind.PASSWORD_RESET, request, user)


def on_authenticator_used(
    sender: Any,
    request: HttpRequest,
    user: Any,
    authenticator: Any,
    reauthenticated: bool = False,
    **kwargs: Any,
) -> None:
    kind_of = str(authenticator.type)
    if reauthenticated:
        record(Kind.REAUTHENTICATED, request, user, method="mfa", type=kind_of)
    elif kind_of == "recovery_codes":
        record(Kind.RECOVERY_CODE_USED, request, user)
    else:
        record(Kind.MFA_PASSED, request, user, type=kind_of)


def on_mfa_failed(
    sender: Any, request: HttpRequest, user: Any, authenticator: Any = None, **kwargs: Any
) -> None:
    kind_of = str(authenticator.type) if authenticator is not None else None
    record(
        Kind.MFA_FAILED,
        request,
        user,
        type=kind_of,
        reauthentication=kwargs.get("reauthentication"),
    )


def on_authenticator_added(
    sender: Any, request: HttpRequest, user: Any, authenticator: Any, **kwargs: Any
) -> None:
    record(Kind.MFA_ENROLLED, request, user, type=str(authenticator.type))
    # Activating an authenticator proves holding it: the session counts as having passed.
    if request is not None and hasattr(request, "session"):
        mark_mfa_passed(request)


def on_authenticator_removed(
    sender: Any, request: HttpRequest, user: Any, authenticator: Any, **kwargs: Any
) -> None:
    record(Kind.MFA_REMOVED, request, user, type=str(authenticator.type))
    if request is not None and hasattr(request, "session") and not is_mfa_enabled(user):
        mark_mfa_gone(request)


def on_authenticator_reset(
    sender: Any, request: HttpRequest, user: Any, authenticator: Any, **kwargs: Any
) -> None:
    record(Kind.RECOVERY_CODES_REGENERATED, request, user)


def connect() -> None:
    """Subscribe the receivers (from `CoreConfig.ready`)."""
    uid = "core.authn"
    auth_signals.user_logged_in.connect(on_signed_in, dispatch_uid=f"{uid}.in")
    auth_signals.user_logged_out.connect(on_signed_out, dispatch_uid=f"{uid}.out")
    auth_signals.user_login_failed.connect(on_sign_in_failed, dispatch_uid=f"{uid}.failed")
    account_signals.authentication_step_completed.connect(
        on_step_completed, dispatch_uid=f"{uid}.step"
    )
    account_signals.password_changed.connect(on_password_changed, dispatch_uid=f"{uid}.pw")
    account_signals.password_reset.connect(on_password_reset, dispatch_uid=f"{uid}.reset")
    mfa_signals.authenticator_used.connect(on_authenticator_used, dispatch_uid=f"{uid}.used")
    mfa_signals.authentication_failed.connect(on_mfa_failed, dispatch_uid=f"{uid}.mfa_failed")
    mfa_signals.authenticator_added.connect(on_authenticator_added, dispatch_uid=f"{uid}.add")
    mfa_signals.authenticator_removed.connect(on_authenticator_removed, dispatch_uid=f"{uid}.rm")
    mfa_signals.authenticator_reset.connect(on_authenticator_reset, dispatch_uid=f"{uid}.reset2")
