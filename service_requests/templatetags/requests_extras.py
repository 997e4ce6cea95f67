"""Template filters of the public pages."""

from __future__ import annotations

from django import template

from service_requests.messages import public_text as _public_text
from service_requests.models import RequestEvent

register = template.Library()


@register.filter
def public_text(event: RequestEvent) -> str:
    """The timeline event's text as the civilian reads it, in the active language."""
    return _public_text(event)
