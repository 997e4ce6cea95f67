"""allauth's account adapter with failed sign-ins counted per address and account.

allauth counts failed sign-ins per address (`login_failed` "…/ip") and per login ("…/key").
Here the "key" is the address and the login together, so an attacker who keeps failing from
one address locks only that address out of the account, never its owner elsewhere. A refused
attempt is in the security log; the owner is emailed once per lockout, not per attempt.
"""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.utils import filter_users_by_email
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from core.models import SecurityEventKind as Kind

from . import conf, emails
from .client import client_ip
from .receivers import record


def _login_of(credentials: dict[str, Any]) -> str:
    return str(credentials.get("email") or credentials.get("username") or "").lower()


class AccountAdapter(DefaultAccountAdapter):
    def _get_login_attempts_cache_key(self, request: HttpRequest, **credentials: Any) -> str:
        per_login = super()._get_login_attempts_cache_key(request, **credentials)
        return f"{client_ip(request)}|{per_login}"

    def pre_authenticate(self, request: HttpRequest, **credentials: Any) -> None:
        try:
            super().pre_authenticate(request, **credentials)
        except ValidationError:
            self._locked_out(request, _login_of(credentials))
            raise

    def _locked_out(self, request: HttpRequest, login: str) -> None:
        address = client_ip(request)
        owner = next(iter(filter_users_by_email(login, is_active=True)), None) if login else None
        first = cache.add(
            f"hms:lockout-notice:{address}|{login}", 1, timeout=conf.lockout_notice_seconds()
        )
        record(Kind.LOCKED_OUT, request, owner, login=login, by_owner=False, first=first)
        if first and owner is not None:
            emails.owner_locked_out(owner.pk, address)
