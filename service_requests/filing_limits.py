"""How often a request may be filed: per account (a short and a long window) and per client
address, on the shared fixed-window counters of `ratelimit` (Redis in production).

Every filing path asks `filing_refusal` just before it files: the web form's review step and
its one-page post, the emailed link's "File my request", and `POST /api/v1/requests/` by a
person. An OAuth client (the REST API with a token, Open311 with an `api_key`) files under its
own rate instead (`HMS_API_CLIENT_RATE` or the client's rate in the admin): a 311 app filing
for many people from one server is not counted as one person. A retry of a filing already
made (the same submission token) is neither counted nor refused: it gets the first request.
The counters of one filing are counted in one cache round trip (`ratelimit.hit_many`).
Nothing is written to the database before the check, so a refusal leaves nothing behind.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext_lazy, ngettext

from . import conf, ratelimit, selectors

ERR_FILING_LIMIT = gettext_lazy(
    "You have filed several requests in a short time. To keep the service open to everyone, "
    "you can file again in %(wait)s."
)


@dataclass(frozen=True)
class FilingRefusal:
    """Over a limit: how long to wait (seconds) and the sentence that says so."""

    retry_after: int

    @property
    def message(self) -> str:
        minutes = max(1, -(-self.retry_after // 60))
        wait = ngettext("%(count)d minute", "%(count)d minutes", minutes) % {"count": minutes}
        return str(ERR_FILING_LIMIT) % {"wait": wait}


def _limits(user: Any, address: str | None) -> list[tuple[str, str, int, int]]:
    """(scope, key, limit, window) of each counter this filing goes through."""
    counters: list[tuple[str, str, int, int]] = []
    if address is not None:
        counters.append(
            (
                "file-client",
                address,
                int(conf.get("FILING_LIMIT_PER_CLIENT")),
                int(conf.get("FILING_CLIENT_WINDOW_SECONDS")),
            )
        )
    if user is not None and getattr(user, "pk", None) is not None:
        counters += [
            (
                "file-account-short",
                str(user.pk),
                int(conf.get("FILING_LIMIT_PER_ACCOUNT_SHORT")),
                int(conf.get("FILING_ACCOUNT_SHORT_WINDOW_SECONDS")),
            ),
            (
                "file-account-long",
                str(user.pk),
                int(conf.get("FILING_LIMIT_PER_ACCOUNT_LONG")),
                int(conf.get("FILING_ACCOUNT_LONG_WINDOW_SECONDS")),
            ),
        ]
    return counters


def filing_refusal(
    *, user: Any, address: str | None, submission_token: uuid.UUID | None = None
) -> FilingRefusal | None:
    """Count one filing by `user` (None: not known yet) from `address` (None: not counted
    per address); the refusal when a counter is over its limit, else None. Every counter is
    counted, so a refused attempt also uses up its windows."""
    if submission_token is not None and selectors.request_filed_with_token(token=submission_token):
        return None
    counters = _limits(user, address)
    waits = [
        ratelimit.retry_after(window)
        for (_, _, _, window), within in zip(counters, ratelimit.hit_many(counters), strict=True)
        if not within
    ]
    return FilingRefusal(retry_after=max(waits)) if waits else None
