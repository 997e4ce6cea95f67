"""Compressed HTML responses, and the pages that must never be compressed.

`PortalGZipMiddleware` is Django's `GZipMiddleware` (which already skips small bodies, clients
that do not accept gzip and responses carrying a `Content-Encoding`) for HTML pages only (the
API's JSON, the OAuth token endpoint's answer and files are left as they are), with one more
rule: a page that shows a one-time secret is sent uncompressed. Compression beside a secret lets an
attacker who can inject text into the same page and watch the compressed length guess the secret
a character at a time (BREACH). Django's CSRF token is masked anew for every response, so it is
safe; a secret shown to its owner once is not compressed at all:

- a view decorated with `@uncompressed` (or any response with `response.uncompressed = True`);
- a page that renders a message added with `one_time_secret_message` (the admin shows a new API
  client secret or webhook signing secret as a message on the page after the save);
- every path under `HMS_UNCOMPRESSED_PATH_PREFIXES` (the second-factor pages show the TOTP
  set-up secret and the recovery codes on every visit).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponseBase
from django.middleware.gzip import GZipMiddleware

ONE_TIME_SECRET_TAG = "one-time-secret"
DEFAULT_UNCOMPRESSED_PATH_PREFIXES = ("/accounts/2fa/",)

View = Callable[..., HttpResponseBase]


def uncompressed(view: View) -> View:
    """Mark every response of `view` as never to be compressed (it shows a secret)."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> HttpResponseBase:
        response = view(*args, **kwargs)
        response.uncompressed = True  # type: ignore[attr-defined]
        return response

    return wrapped


def one_time_secret_message(request: HttpRequest, message: str) -> None:
    """Show `message`, which holds a secret shown once, as a warning on the next page; that
    page is then sent uncompressed."""
    messages.warning(request, message, extra_tags=ONE_TIME_SECRET_TAG)


def shows_one_time_secret(request: HttpRequest) -> bool:
    """Whether this request's page rendered a message added by `one_time_secret_message`."""
    storage = getattr(request, "_messages", None)
    if storage is None or not getattr(storage, "used", False):
        return False
    shown = getattr(storage, "_loaded_messages", [])
    return any(ONE_TIME_SECRET_TAG in (message.extra_tags or "") for message in shown)


def uncompressed_path(path: str) -> bool:
    prefixes = getattr(
        settings, "HMS_UNCOMPRESSED_PATH_PREFIXES", DEFAULT_UNCOMPRESSED_PATH_PREFIXES
    )
    return path.startswith(tuple(prefixes))


class PortalGZipMiddleware(GZipMiddleware):
    """Django's gzip compression of HTML pages, except pages that show a one-time secret."""

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        if (
            not response.get("Content-Type", "").startswith("text/html")
            or getattr(response, "uncompressed", False)
            or uncompressed_path(request.path_info)
            or shows_one_time_secret(request)
        ):
            return response
        return super().process_response(request, response)
