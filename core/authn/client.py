"""What a request says about the client: its address and its browser family."""

from __future__ import annotations

import re

from django.http import HttpRequest

_FAMILIES = (
    ("Edge", re.compile(r"\bEdg(e|A|iOS)?/")),
    ("Opera", re.compile(r"\bOPR/|\bOpera\b")),
    ("Firefox", re.compile(r"\b(Firefox|FxiOS)/")),
    ("Chrome", re.compile(r"\b(Chrome|CriOS|Chromium)/")),
    ("Safari", re.compile(r"\bSafari/")),
)
_SYSTEMS = (
    ("Android", re.compile(r"Android")),
    ("iOS", re.compile(r"iPhone|iPad|iPod")),
    ("Windows", re.compile(r"Windows")),
    ("macOS", re.compile(r"Mac OS X|Macintosh")),
    ("Linux", re.compile(r"Linux|X11")),
)


def client_ip(request: HttpRequest) -> str:
    """The client's address as allauth's rate limits see it ("" when none can be told)."""
    from allauth.account.adapter import get_adapter

    try:
        return get_adapter(request).get_client_ip(request)
    except Exception:  # no address at all (a test client, a misconfigured proxy)
        return ""


def user_agent(request: HttpRequest) -> str:
    return str(request.META.get("HTTP_USER_AGENT", ""))[:512]


def agent_family(agent: str) -> str:
    """A coarse name for the browser and system ("Firefox on Linux"): versions change every
    few weeks and must not make a known device look new."""
    browser = next((name for name, pattern in _FAMILIES if pattern.search(agent)), "")
    system = next((name for name, pattern in _SYSTEMS if pattern.search(agent)), "")
    if not browser and not system:
        return "Unknown client"
    return f"{browser or 'Unknown browser'} on {system or 'an unknown system'}"
