"""The refusal every change to a request raises, and the messages several services share."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

# Messages a civilian may read are translated (lazily: in the language of whoever is served).
ERR_NOT_ALLOWED = _("You may not do that for request {tracking_number}.")
ERR_STALE = _(
    "{tracking_number} is now “{status}”, so it cannot be {action}. Nothing was changed: "
    "reload to see where it stands."
)
ERR_MESSAGE_REQUIRED = _("Write a message.")
ERR_BAD_TEXT = _("Remove the invisible control characters from the text.")
ERR_LINK_INVALID = _(
    "This link is not valid. Copy the whole link from our email, or file the request again."
)
ERR_LINK_EXPIRED = _("This link has expired. File the request again: nothing was filed.")
ERR_LINK_USED = _(
    "This link was already used: your request is filed. Follow it with the tracking number "
    "from our email at “Track a request”."
)
ERR_NOT_CLAIMABLE = _(
    "This request cannot be added to your account: it was filed with an email address your "
    "account has not verified, or it is already in an account."
)


class RequestError(ValidationError):
    """A refused change to a request; its message says why and nothing was written."""


def text_validate_printable(text: str) -> None:
    """Refuse NUL and other invisible control characters (tabs and line breaks are fine)."""
    if any(ord(char) < 32 and char not in "\t\n\r" for char in text) or "\x7f" in text:
        raise RequestError(ERR_BAD_TEXT, code="control_characters")
