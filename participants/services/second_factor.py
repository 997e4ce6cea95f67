"""The participant's second factor: their authenticator app's one-time code (allauth MFA)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from allauth.mfa.models import Authenticator
from django.db import transaction

if TYPE_CHECKING:
    from django.contrib.auth.models import User


@transaction.atomic
def totp_code_accept(*, actor: User, code: str) -> bool:
    """Whether the actor's TOTP authenticator accepts `code`. Each code works once: allauth
    records its use on the authenticator."""
    authenticator = Authenticator.objects.filter(
        user_id=actor.pk, type=Authenticator.Type.TOTP
    ).first()
    if authenticator is None or not code:
        return False
    valid = bool(authenticator.wrap().validate_code(code.strip()))
    if valid:
        authenticator.record_usage()
    return valid
