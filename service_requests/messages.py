"""The timeline's standard sentences, stored in English and shown in the reader's language.

A timeline event keeps the English text in `RequestEvent.message`: staff, auditors and history
read one language. What the civilian reads is `public_text(event)`: a sentence the system wrote
(one of `SYSTEM_MESSAGES`, matched with its parameters) is translated into the active language;
what a person wrote (a reviewer's question, the civilian's answer, a supervisor's reason) is
shown as written. Older rows written before this module existed match the same sentences.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from django.utils.translation import gettext, gettext_noop

if TYPE_CHECKING:
    from .models import RequestEvent

RECEIVED = gettext_noop("We received your request for %(service)s.")
REVIEW_STARTED = gettext_noop("A reviewer is looking at your request.")
RECOMMENDED = gettext_noop("Your request was reviewed and sent to a supervisor for approval.")
APPROVED = gettext_noop("Your request was approved.")
APPROVED_STAFF = gettext_noop("Your request was approved. Staff will now carry it out.")
FUNDED = gettext_noop("%(amount)s is reserved for you. You will be told when it is paid.")
FUNDED_LATER = gettext_noop("%(amount)s is now reserved for you.")
# Written when an allocation round grants part of what was asked (`services.funding`).
PARTLY_FUNDED = gettext_noop(
    "%(amount)s of the %(asked)s you asked is now reserved for you: the fund could not pay "
    "every request in full. You will be told when it is paid."
)
AWAITING_FUNDS = gettext_noop(
    "Your request is approved. The program's fund cannot cover it yet; it will be paid in turn "
    "as funds arrive."
)
FULFILLED = gettext_noop("Your request has been fulfilled.")
PAID = gettext_noop("%(amount)s has been paid to you.")
WITHDRAWN = gettext_noop("You withdrew this request.")
# Written by request_on_decision when the civilian recalls a request from approval.
RECALLED = gettext_noop("You recalled your request from approval; it is back in review.")
CLAIMED = gettext_noop("This request was added to your account.")

SYSTEM_MESSAGES = [
    RECEIVED,
    REVIEW_STARTED,
    RECOMMENDED,
    APPROVED,
    APPROVED_STAFF,
    FUNDED,
    FUNDED_LATER,
    PARTLY_FUNDED,
    AWAITING_FUNDS,
    FULFILLED,
    PAID,
    WITHDRAWN,
    RECALLED,
    CLAIMED,
]

# Kinds whose message a person wrote: never run through the catalogue.
PERSONAL_KINDS = frozenset({"info_requested", "info_provided", "rejected", "documents_added"})

_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _pattern(msgid: str) -> re.Pattern[str]:
    parts = _PLACEHOLDER.split(msgid)
    # split() alternates literal text and placeholder names.
    regex = "".join(
        re.escape(part) if index % 2 == 0 else f"(?P<{part}>.+?)"
        for index, part in enumerate(parts)
    )
    return re.compile(rf"^{regex}$", re.DOTALL)


_PATTERNS = [(msgid, _pattern(msgid)) for msgid in SYSTEM_MESSAGES]


def english(msgid: str, **params: str) -> str:
    """The stored (English) text of a standard sentence."""
    return msgid % params if params else msgid


def translate_stored(text: str, *, overrides: dict[str, str] | None = None) -> str:
    """`text` in the active language if it is one of the standard sentences, else as it is.

    `overrides` replace matched parameters (the service's name in the reader's language)."""
    for msgid, pattern in _PATTERNS:
        found = pattern.match(text)
        if found is None:
            continue
        params = found.groupdict()
        for name, value in (overrides or {}).items():
            if name in params:
                params[name] = value
        translated = gettext(msgid)
        return translated % params if params else translated
    return text


def public_text(event: RequestEvent) -> str:
    """What the civilian reads for `event`, in the active language."""
    if not event.message:
        return ""
    if event.kind in PERSONAL_KINDS:
        return event.message
    request = event.request
    return translate_stored(event.message, overrides={"service": request.service_type.display_name})
