"""PostgreSQL: requests arriving at once never push a reviewer past their cap, and each
reviewer's kept load equals their requests."""

from __future__ import annotations

from typing import Any

import pytest
from guardian.shortcuts import assign_perm

from core import roles
from service_requests import services
from service_requests.models import AssignmentRule, ReviewerProfile, ServiceRequest
from tests.conftest import _person
from tests.integration.test_concurrency import _race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _file(civilian: Any, service_type: Any) -> Any:
    return lambda: services.request_submit(
        actor=civilian,
        service_type=service_type,
        description="Concurrent arrival.",
        contact_name="Alice",
        contact_email="alice@example.test",
    )


def test_concurrent_arrivals_never_pass_a_cap(require_postgres, civilian, housing, inspection):
    for name in ("ann", "ben"):
        user = _person(name, roles.REVIEWER, staff=True)
        assign_perm("governance.review_program", user, housing)
        ReviewerProfile.objects.create(user=user, cap=2)
    AssignmentRule.objects.create(service_type=inspection, method="least_loaded")

    results, errors = _race(*(_file(civilian, inspection) for _ in range(6)))

    assert errors == []
    assert len(results) == 6
    loads = dict(ReviewerProfile.objects.values_list("user__username", "open_cases"))
    assert loads == {"ann": 2, "ben": 2}
    assigned = ServiceRequest.objects.filter(assignee__isnull=False).count()
    assert assigned == 4
    assert ServiceRequest.objects.filter(assignee__isnull=True).count() == 2
    assert services.loads_recount() == 0
