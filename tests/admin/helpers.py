"""Helpers for driving the admin in tests."""

from __future__ import annotations

from typing import Any

from django.contrib.admin import helpers
from django.test import Client
from django.urls import reverse

from service_requests.models import ServiceRequest

CHANGELIST = reverse("admin:service_requests_servicerequest_changelist")


def change_url(request: ServiceRequest) -> str:
    return reverse("admin:service_requests_servicerequest_change", args=[request.pk])


def act(client: Client, action: str, *requests: ServiceRequest, **extra: str) -> Any:
    """POST an admin action on `requests` from the changelist and follow the redirect."""
    data: dict[str, Any] = {
        "action": action,
        helpers.ACTION_CHECKBOX_NAME: [str(r.pk) for r in requests],
        **extra,
    }
    return client.post(CHANGELIST, data, follow=True)


def messages_of(response: Any) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def fresh(request: ServiceRequest) -> ServiceRequest:
    """Re-read a request (`refresh_from_db` trips over the protected status field)."""
    return ServiceRequest.objects.get(pk=request.pk)
