"""Every authentication event lands in the append-only security log; failed sign-ins lock out
one address before an account, and the owner hears of a lockout once and of a new device."""

from __future__ import annotations

import itertools
import secrets
from typing import Any

import pytest
from django.contrib import admin
from django.core import mail
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.urls import reverse

from core.models import KnownDevice, SecurityEvent, SecurityEventKind
from core.services.security import security_event_record
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

# Rate-limit counters and lockout notices live in the cache, which Redis keeps between runs:
# each run signs in from addresses of its own (IPv6 documentation range, one /64 each).
_run = secrets.randbelow(0xFFFF)
_addresses = itertools.count(1)
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
CHROME_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)


def from_address(agent: str = FIREFOX) -> Client:
    """A browser at an address no other test uses (rate-limit counters may be shared)."""
    address = f"2001:db8:{_run:x}:{next(_addresses):x}::1"
    return Client(REMOTE_ADDR=address, HTTP_USER_AGENT=agent)


def sign_in(client: Client, email: str, password: str = PASSWORD) -> Any:
    return client.post(reverse("account_login"), {"login": email, "password": password})


def kinds(**filters: Any) -> list[str]:
    return list(
        SecurityEvent.objects.filter(**filters).order_by("pk").values_list("kind", flat=True)
    )


def test_sign_in_failure_and_sign_out_are_logged_with_address_and_agent(civilian: Any) -> None:
    browser = from_address()
    sign_in(browser, civilian.email, "wrong password")
    sign_in(browser, civilian.email)
    browser.post(reverse("account_logout"))
    failed = SecurityEvent.objects.get(kind=SecurityEventKind.SIGN_IN_FAILED)
    assert failed.user is None
    assert failed.login == civilian.email
    assert failed.ip_address == browser.defaults["REMOTE_ADDR"]
    assert failed.user_agent == FIREFOX
    assert kinds(user=civilian) == [SecurityEventKind.SIGNED_IN, SecurityEventKind.SIGNED_OUT]


def test_password_change_is_logged(client: Client, civilian: Any) -> None:
    client.force_login(civilian)
    client.post(
        reverse("account_change_password"),
        {
            "oldpassword": PASSWORD,
            "password1": "a-new-long-phrase-9",
            "password2": "a-new-long-phrase-9",
        },
    )
    assert SecurityEventKind.PASSWORD_CHANGED in kinds(user=civilian)


def test_an_attacker_locks_out_only_their_own_address(
    civilian: Any, django_capture_on_commit_callbacks: Any
) -> None:
    attacker = from_address()
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(8):
            sign_in(attacker, civilian.email, "guess")
    refused = sign_in(attacker, civilian.email)  # even the right password, from there
    assert refused.status_code == 200
    assert "_auth_user_id" not in attacker.session
    assert SecurityEventKind.LOCKED_OUT in kinds(login=civilian.email)
    # The owner, from their own address, signs in.
    owner = from_address()
    assert sign_in(owner, civilian.email).status_code == 302
    assert owner.session["_auth_user_id"] == str(civilian.pk)
    # Told once, not once per refused attempt.
    notices = [m for m in mail.outbox if "paused" in m.subject]
    assert len(notices) == 1
    assert notices[0].to == [civilian.email]


def test_one_address_failing_across_many_accounts_is_stopped(
    civilian: Any, other_civilian: Any
) -> None:
    attacker = from_address()
    for n in range(10):
        sign_in(attacker, f"someone{n}@example.test", "guess")
    assert sign_in(attacker, other_civilian.email).status_code == 200
    assert "_auth_user_id" not in attacker.session


def test_the_owner_is_told_of_a_sign_in_from_a_new_device(
    civilian: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        laptop = from_address()
        sign_in(laptop, civilian.email)  # the first device: nothing to compare with
        sign_in(Client(**laptop.defaults), civilian.email)  # the same browser and address
        assert not [m for m in mail.outbox if "New sign-in" in m.subject]
        sign_in(from_address(CHROME_MAC), civilian.email)
    notices = [m for m in mail.outbox if "New sign-in" in m.subject]
    assert len(notices) == 1
    assert "Chrome on macOS" in notices[0].body
    assert KnownDevice.objects.filter(user=civilian).count() == 2
    assert kinds(user=civilian).count(SecurityEventKind.NEW_DEVICE) == 1


def test_the_log_refuses_updates_and_deletes_on_postgresql(
    require_postgres: None, civilian: Any
) -> None:
    event = security_event_record(actor=civilian, kind=SecurityEventKind.SIGNED_IN)
    for statement in (
        "UPDATE core_securityevent SET kind = 'signed_out' WHERE id = %s",
        "DELETE FROM core_securityevent WHERE id = %s",
    ):
        with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, [event.pk])
    assert SecurityEvent.objects.get(pk=event.pk).kind == SecurityEventKind.SIGNED_IN


def test_auditors_and_administrators_read_the_log_and_nobody_changes_it(
    client: Client, auditor: Any, reviewer: Any, civilian: Any
) -> None:
    from tests.factories import UserFactory

    event = security_event_record(actor=civilian, kind=SecurityEventKind.SIGNED_IN)
    changelist = reverse("admin:core_securityevent_changelist")
    change = reverse("admin:core_securityevent_change", args=[event.pk])
    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    for reader in (auditor, root):
        client.force_login(reader)
        assert client.get(changelist).status_code == 200
        assert client.get(f"{changelist}?kind=signed_in").status_code == 200
        assert client.get(change).status_code == 200
        assert client.post(change, {"kind": "signed_out"}).status_code == 403
        assert client.get(reverse("admin:core_securityevent_add")).status_code == 403
        assert (
            client.get(reverse("admin:core_securityevent_delete", args=[event.pk])).status_code
            == 403
        )
    client.force_login(reviewer)
    assert client.get(changelist).status_code == 403
    model_admin = admin.site._registry[SecurityEvent]
    assert not model_admin.has_add_permission(None)
    assert SecurityEvent.objects.get(pk=event.pk).kind == SecurityEventKind.SIGNED_IN
