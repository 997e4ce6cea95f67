"""`manage.py seed_demo`, the second half of `make demo`: one sign-in per role, a bureau with
requests in every state, and a settled clearing cycle; run again, it adds no one twice."""

from __future__ import annotations

from io import StringIO

import pytest
from allauth.account.models import EmailAddress
from django.apps import apps as django_apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command

from core import roles
from governance.models import Program
from service_requests.models import ServiceRequest, ServiceType

pytestmark = pytest.mark.django_db


def test_seeding_twice_gives_each_role_one_verified_sign_in_and_keeps_the_requests() -> None:
    if not Group.objects.filter(name=roles.REVIEWER).exists():
        # A transactional test's flush empties the tables the data migration filled.
        roles.sync_roles(django_apps)
    out = StringIO()
    call_command("seed_demo", stdout=out)
    requests = ServiceRequest.objects.count()
    types = ServiceType.objects.count()
    call_command("seed_demo", stdout=out)

    users = get_user_model().objects.filter(email__endswith="@demo.hms.example")
    assert sorted(users.values_list("username", flat=True)) == [
        "admin",
        "auditor",
        "civilian",
        "civilian2",
        "finance",
        "reviewer",
        "supervisor",
    ]
    assert EmailAddress.objects.filter(user__in=users, verified=True, primary=True).count() == 7
    reviewer = users.get(username="reviewer")
    assert reviewer.check_password("reviewer-demo-2026")
    assert list(reviewer.groups.values_list("name", flat=True)) == ["reviewer"]
    assert users.get(username="admin").is_superuser
    assert requests >= 50
    assert ServiceRequest.objects.count() == requests
    assert ServiceType.objects.count() == types
    housing = Program.objects.get(code="housing")
    assert reviewer.has_perm("governance.review_program", housing)
    assert not reviewer.has_perm("governance.decide_program", housing)
    supervisor = users.get(username="supervisor")
    assert supervisor.has_perm("governance.decide_program", housing)
    assert "Requests already seeded" in out.getvalue()
    # One open home swap to join, one solved market-stall swap with public results.
    from exchange.models import ExchangeRound

    assert sorted(ExchangeRound.objects.values_list("state", flat=True)) == ["open", "solved"]
