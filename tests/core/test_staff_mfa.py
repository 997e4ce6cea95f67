"""Staff reach no staff page before a second factor; civilians are untouched. These tests go
through allauth's real pages: password, then a code from the authenticator's secret."""

from __future__ import annotations

from typing import Any

import pytest
from allauth.mfa.models import Authenticator
from django.test import Client
from django.urls import reverse

from core.models import SecurityEvent, SecurityEventKind
from tests.builders import enrol_totp, totp_code
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def password_sign_in(client: Client, user: Any, next_url: str = "/admin/") -> Any:
    return client.post(
        f"{reverse('account_login')}?next={next_url}",
        {"login": user.email, "password": PASSWORD},
    )


def kinds(user: Any) -> list[str]:
    return list(
        SecurityEvent.objects.filter(user=user).order_by("pk").values_list("kind", flat=True)
    )


def test_staff_with_an_authenticator_open_the_admin_after_the_code(supervisor: Any) -> None:
    enrol_totp(supervisor)
    client = Client()
    response = password_sign_in(client, supervisor)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("mfa_authenticate"))
    # Half-way: not signed in yet, the admin sends them to sign in.
    assert client.get("/admin/").status_code == 302

    response = client.post(reverse("mfa_authenticate"), {"code": totp_code()})
    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    assert kinds(supervisor) == [SecurityEventKind.MFA_PASSED, SecurityEventKind.SIGNED_IN]


def test_a_wrong_code_is_refused_and_logged(supervisor: Any) -> None:
    enrol_totp(supervisor)
    client = Client()
    password_sign_in(client, supervisor)
    wrong = f"{(int(totp_code()) + 1) % 1_000_000:06d}"
    response = client.post(reverse("mfa_authenticate"), {"code": wrong})
    assert response.status_code == 200
    assert client.get("/admin/").status_code == 302
    assert kinds(supervisor) == [SecurityEventKind.MFA_FAILED]


@pytest.mark.django_db(transaction=True)
def test_staff_without_an_authenticator_are_sent_to_enrol_first(finance_officer: Any) -> None:
    """The enrolment proves the new authenticator (its first code), which counts as this
    session's second factor once the authenticator is stored (on commit)."""
    client = Client()
    response = password_sign_in(client, finance_officer)
    assert response.status_code == 302
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("mfa_activate_totp"))
    assert client.get("/workflow/").status_code == 302

    # Activating asks for the password again, then shows the secret to scan.
    response = client.get(reverse("mfa_activate_totp"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_reauthenticate"))
    client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    response = client.get(reverse("mfa_activate_totp"))
    assert response.status_code == 200
    secret = client.session["mfa.totp.secret"]
    response = client.post(reverse("mfa_activate_totp"), {"code": totp_code(secret)})
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_view_recovery_codes")
    assert Authenticator.objects.filter(user=finance_officer).count() == 2  # app + codes
    assert client.get("/admin/").status_code == 200
    assert SecurityEventKind.MFA_ENROLLED in kinds(finance_officer)


def test_a_session_signed_in_without_the_code_is_sent_to_the_mfa_check(
    reviewer: Any,
) -> None:
    """A session that has not passed a second factor (say, from before staff needed one) gets
    allauth's MFA check before any staff page."""
    enrol_totp(reviewer)
    client = Client()
    client._login(reviewer, "django.contrib.auth.backends.ModelBackend")  # no MFA record
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("mfa_reauthenticate"))

    response = client.post(reverse("mfa_reauthenticate"), {"code": totp_code()})
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_civilians_need_no_second_factor(civilian: Any) -> None:
    client = Client()
    response = password_sign_in(client, civilian, next_url=reverse("service_requests:list"))
    assert response.status_code == 302
    assert response["Location"] == reverse("service_requests:list")
    assert client.get(reverse("service_requests:list")).status_code == 200


def test_staff_sign_out_and_mfa_pages_stay_open_before_the_second_factor(
    auditor: Any,
) -> None:
    client = Client()
    client._login(auditor, "django.contrib.auth.backends.ModelBackend")
    assert client.get(reverse("mfa_index")).status_code == 200
    response = client.post(reverse("account_logout"))
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


def test_the_api_with_a_staff_token_is_not_a_session(reviewer: Any) -> None:
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    token = Token.objects.create(user=reviewer)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert api.get("/api/v1/").status_code != 302


def test_staff_may_enrol_a_security_key_instead(finance_officer: Any) -> None:
    """The MFA pages, security keys (WebAuthn) included, stay open during the enrolment."""
    client = Client()
    password_sign_in(client, finance_officer)
    client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    assert client.get(reverse("mfa_index")).status_code == 200
    assert client.get(reverse("mfa_add_webauthn")).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_a_recovery_code_signs_in_once_and_removing_the_app_is_logged(
    supervisor: Any,
) -> None:
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes

    enrol_totp(supervisor)
    code = RecoveryCodes.activate(supervisor).get_unused_codes()[0]
    client = Client()
    password_sign_in(client, supervisor)
    response = client.post(reverse("mfa_authenticate"), {"code": code})
    assert response["Location"] == "/admin/"
    assert SecurityEventKind.RECOVERY_CODE_USED in kinds(supervisor)

    client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    client.post(reverse("mfa_deactivate_totp"))
    assert not Authenticator.objects.filter(user=supervisor, type="totp").exists()
    assert SecurityEventKind.MFA_REMOVED in kinds(supervisor)
    # Without it, the next staff page asks for a new one.
    response = client.get("/admin/")
    assert response["Location"].startswith(reverse("mfa_activate_totp"))
