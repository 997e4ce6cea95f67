"""Fixtures for the staff admin: requests built through the services, and a superuser."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from allauth.account.models import EmailAddress

from governance import services as governance
from service_requests import services
from service_requests.models import ServiceRequest
from tests.factories import UserFactory


@pytest.fixture
def superuser(db):  # type: ignore[no-untyped-def]
    user = UserFactory(username="ada", is_staff=True, is_superuser=True)
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    return user


@pytest.fixture
def submit(civilian) -> Callable[..., ServiceRequest]:  # type: ignore[no-untyped-def]
    """File a request as the civilian through the service."""

    def _submit(
        service_type: Any,
        *,
        amount_minor: int | None = None,
        name: str = "Alice Doe",
        email: str = "alice@example.test",
    ) -> ServiceRequest:
        request, _ = services.request_submit(
            actor=civilian,
            service_type=service_type,
            description="Please help.",
            contact_name=name,
            contact_email=email,
            amount_minor=amount_minor,
        )
        return request

    return _submit


@pytest.fixture
def approve(supervisor) -> Callable[[ServiceRequest], ServiceRequest]:  # type: ignore[no-untyped-def]
    """The housing supervisor approves a request pending approval."""

    def _approve(request: ServiceRequest) -> ServiceRequest:
        case_id = ServiceRequest.objects.get(pk=request.pk).approval_case_id
        governance.case_decide(actor=supervisor, case_id=case_id, outcome="approve", reason="Fits.")
        return ServiceRequest.objects.get(pk=request.pk)

    return _approve
