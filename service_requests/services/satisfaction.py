"""The civilian's rating of the service, once their request is closed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _

from ..errors import ERR_NOT_ALLOWED, RequestError, text_validate_printable
from ..models import MAX_SATISFACTION_COMMENT, RATABLE_STATUSES, SatisfactionResponse
from .common import is_requester, locked

if TYPE_CHECKING:
    from django.contrib.auth.models import User

ERR_NOT_RATABLE = _("You can rate the service once the request is closed.")
ERR_RATED_ALREADY = _("You have already rated the service for this request. Thank you.")
ERR_SCORE = _("Choose a rating from 1 to 5.")
ERR_COMMENT_TOO_LONG = _("Keep the comment under {limit} characters.")


def request_validate_rating(*, score: object, comment: str) -> None:
    """The rating rules a form shows as field errors and the service enforces again."""
    if not isinstance(score, int) or isinstance(score, bool) or not 1 <= score <= 5:
        raise RequestError(ERR_SCORE, code="score")
    if len(comment) > MAX_SATISFACTION_COMMENT:
        raise RequestError(
            ERR_COMMENT_TOO_LONG.format(limit=MAX_SATISFACTION_COMMENT), code="comment"
        )
    text_validate_printable(comment)


@transaction.atomic
def request_rate(
    *, actor: User, request_id: int, score: int, comment: str = "", language: str = "en"
) -> SatisfactionResponse:
    """The civilian rates the service (1 to 5, optional comment) once their request closed.

    Once per request: the request row is locked while checking, and the response's unique key
    refuses a second answer even from a concurrent writer."""
    comment = (comment or "").strip()
    request_validate_rating(score=score, comment=comment)
    request = locked(request_id)
    if not is_requester(actor, request):
        raise RequestError(
            ERR_NOT_ALLOWED.format(tracking_number=request.tracking_number), code="forbidden"
        )
    if request.status not in RATABLE_STATUSES:
        raise RequestError(ERR_NOT_RATABLE, code="not_closed")
    if SatisfactionResponse.objects.filter(request=request).exists():
        raise RequestError(ERR_RATED_ALREADY, code="rated_already")
    response = SatisfactionResponse(
        request=request,
        service_type=request.service_type,
        respondent=actor,
        score=score,
        comment=comment,
        language=language if language in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE,
    )
    response.full_clean(exclude=["request", "service_type", "respondent"], validate_unique=False)
    try:
        # A savepoint: the unique key is the last word if two answers race.
        with transaction.atomic():
            response.save(force_insert=True)
    except IntegrityError:
        raise RequestError(ERR_RATED_ALREADY, code="rated_already") from None
    return response
