"""Walk requests to a given point through the real services (for arranging tests)."""

from __future__ import annotations

import io
import uuid
from typing import Any

import pikepdf
from PIL import Image

from governance.models import ApprovalCase
from service_requests import services
from service_requests.models import ServiceRequest


def pdf_bytes() -> bytes:
    """A small PDF that opens cleanly: one blank page, no active content."""
    document = pikepdf.new()
    document.add_blank_page()
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def image_bytes(kind: str = "PNG", size: tuple[int, int] = (8, 8)) -> bytes:
    """A small image that decodes cleanly (`kind`: PNG or JPEG)."""
    out = io.BytesIO()
    Image.new("RGB", size, (0, 94, 162)).save(out, kind)
    return out.getvalue()


def submitted(
    civilian: Any, service_type: Any, *, amount_minor: int | None = None
) -> ServiceRequest:
    request, _ = services.request_submit(
        actor=civilian,
        service_type=service_type,
        description="Two months behind on rent after my hours were cut.",
        contact_name=civilian.get_full_name() or civilian.username,
        contact_email=civilian.email,
        amount_minor=amount_minor,
    )
    return request


def filing_form(chosen: Any, /, **overrides: Any) -> dict[str, Any]:
    """A complete one-page filing form (`POST /requests/new/`) for the service `chosen`, with a
    fresh one-time token; `overrides` replace or add fields (None drops one)."""
    data: dict[str, Any] = {
        "service_type": str(chosen.pk),
        "description": "The stairs to the basement are loose and one step is missing.",
        "contact_name": "Alice Example",
        "contact_email": "alice@example.test",
        "contact_phone": "",
        "submission_token": str(uuid.uuid4()),
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def pending_approval(
    civilian: Any, reviewer: Any, service_type: Any, *, amount_minor: int | None = None
) -> tuple[ServiceRequest, ApprovalCase]:
    request = submitted(civilian, service_type, amount_minor=amount_minor)
    services.request_start_review(actor=reviewer, request_id=request.pk)
    request = services.request_recommend(
        actor=reviewer, request_id=request.pk, note="Meets the criteria."
    )
    assert request.approval_case is not None
    return request, request.approval_case


def status_of(request: ServiceRequest) -> str:
    """The stored status (the FSM field is protected, so no refresh_from_db)."""
    return ServiceRequest.objects.values_list("status", flat=True).get(pk=request.pk)


def ledger_account(actor: Any, code: str, *, currency: str = "USD", limited: bool = False) -> Any:
    """A bureau ledger account; `limited` accounts may not pay out more than they received."""
    from ledger import services as ledger
    from ledger.models import AccountType, OwnerKind

    return ledger.account_open(
        actor=actor,
        code=code,
        name=code.title(),
        type=AccountType.LIABILITY,
        currency=currency,
        owner_kind=OwnerKind.BUREAU,
        debits_must_not_exceed_credits=limited,
    )


def move(
    actor: Any, key: str, debit: Any, credit: Any, amount_minor: Any, *, pending: bool = False
) -> Any:
    """A USD transfer from `debit` to `credit` under idempotency key `key`."""
    from ledger import services as ledger

    return ledger.transfer_create(
        actor=actor,
        idempotency_key=key,
        debit_account_id=debit.pk,
        credit_account_id=credit.pk,
        amount_minor=amount_minor,
        currency="USD",
        pending=pending,
    )


# A fixed authenticator-app secret for test staff (base32, as allauth stores it).
TEST_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def enrol_totp(user: Any, secret: str = TEST_TOTP_SECRET) -> Any:
    """Give `user` an authenticator app with `secret` (kept when they already have one)."""
    from allauth.mfa.models import Authenticator
    from allauth.mfa.totp.internal.auth import TOTP

    existing = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).first()
    return existing or TOTP.activate(user, secret).instance


def totp_code(secret: str = TEST_TOTP_SECRET) -> str:
    """The code an authenticator app with `secret` shows now (allauth's own computation)."""
    from allauth.mfa.totp.internal.auth import (
        format_hotp_value,
        hotp_value,
        yield_hotp_counters_from_time,
    )

    counter = next(iter(yield_hotp_counters_from_time()))
    return format_hotp_value(hotp_value(secret, counter))


def mark_signed_in_with_mfa(client: Any, user: Any) -> None:
    """Make `client`'s signed-in session look as it does after allauth's sign-in with a
    password and then the authenticator app: the user has a TOTP authenticator and the
    session holds allauth's records of both steps."""
    import time

    from allauth.account.internal.flows.login import (
        _AUTHENTICATION_METHODS_USER_SESSION_KEY,
        AUTHENTICATION_METHODS_SESSION_KEY,
    )

    authenticator = enrol_totp(user)
    at = time.time()
    session = client.session
    session[AUTHENTICATION_METHODS_SESSION_KEY] = [
        {"method": "password", "at": at, "email": user.email},
        {"method": "mfa", "at": at, "id": authenticator.pk, "type": "totp"},
    ]
    session[_AUTHENTICATION_METHODS_USER_SESSION_KEY] = str(user.pk)
    session.save()


def reauthenticate(client: Any, password: str | None = None) -> None:
    """Enter the password again on allauth's reauthentication page, as a person asked to
    before a sensitive action would."""
    from django.urls import reverse

    from tests.conftest import PASSWORD

    response = client.post(reverse("account_reauthenticate"), {"password": password or PASSWORD})
    assert response.status_code == 302, response.content.decode()[:1000]
