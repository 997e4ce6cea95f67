"""Tunables of the public pages, each overridable in settings as `HMS_REQUESTS_<NAME>`."""

from __future__ import annotations

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    # /track/: lookups allowed per client address, and per tracking number, in one window.
    "TRACK_LIMIT_PER_CLIENT": 10,
    "TRACK_LIMIT_PER_NUMBER": 10,
    "TRACK_WINDOW_SECONDS": 15 * 60,
    # The request header holding the client's address when a trusted proxy sets it
    # (e.g. "HTTP_X_REAL_IP"); empty: the connection's address (REMOTE_ADDR).
    "CLIENT_IP_HEADER": "",
    # How long a successful lookup lets this browser see the request without signing in.
    "TRACK_GRANT_SECONDS": 60 * 60,
    # Attachments: where they are kept (never under a served URL), and their limits.
    "ATTACHMENTS_ROOT": "",  # empty: <BASE_DIR>/private-media
    "ATTACHMENT_MAX_BYTES": 4 * 1024 * 1024,
    "ATTACHMENTS_PER_REQUEST": 10,
    # An image's width times height at most (a decompression bomb is a small file that
    # decodes to billions of pixels); 50 million is past any phone's photo.
    "IMAGE_MAX_PIXELS": 50_000_000,
    # Filing without an account: how long the emailed one-time link works, and how long an
    # unfinished draft (with its documents) is kept.
    "VERIFY_LINK_SECONDS": 48 * 60 * 60,
    "DRAFT_SECONDS": 7 * 24 * 60 * 60,
    # Emailed links asked for per client address and per email address, in one window.
    "VERIFY_LIMIT_PER_CLIENT": 10,
    "VERIFY_LIMIT_PER_EMAIL": 5,
    "VERIFY_WINDOW_SECONDS": 60 * 60,
    # Filing (service_requests/filing_limits.py): per account, a short and a long window; per
    # client address, any filing from there (with or without an account).
    "FILING_LIMIT_PER_ACCOUNT_SHORT": 3,
    "FILING_ACCOUNT_SHORT_WINDOW_SECONDS": 60,
    "FILING_LIMIT_PER_ACCOUNT_LONG": 10,
    "FILING_ACCOUNT_LONG_WINDOW_SECONDS": 60 * 60,
    "FILING_LIMIT_PER_CLIENT": 30,
    "FILING_CLIENT_WINDOW_SECONDS": 60 * 60,
}


def get(name: str) -> Any:
    """The setting `HMS_REQUESTS_<name>`, or its default."""
    return getattr(settings, f"HMS_REQUESTS_{name}", DEFAULTS[name])
