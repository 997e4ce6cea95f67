"""What the case page shows of a case's subject, beyond its label and summary.

Governance knows nothing of its subjects: the app that owns a subject kind registers one
handler of `core.events.CASE_SUBJECT_DETAILS` for it (in `AppConfig.ready()`), which returns a
`SubjectDetails` for the case and the person viewing it. A kind with no handler shows only the
label and summary the case was opened with.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core import events


@dataclass(frozen=True)
class Document:
    """A file of the subject, downloaded from `url`."""

    name: str
    url: str
    size: int


@dataclass(frozen=True)
class Message:
    """One step of the subject's question-and-answer thread."""

    at: datetime
    who: str
    kind: str
    text: str


@dataclass(frozen=True)
class Related:
    """An earlier subject of the same person (a link, its status and date)."""

    label: str
    status: str
    at: datetime
    url: str


@dataclass(frozen=True)
class SubjectDetails:
    """The subject as the deciding supervisor needs to see it."""

    recommendation_note: str = ""
    recommended_by: str = ""
    amount_minor: int | None = None
    currency: str = ""
    fund_name: str = ""
    fund_available_minor: int | None = None
    documents: list[Document] = field(default_factory=list)
    thread: list[Message] = field(default_factory=list)
    earlier: list[Related] = field(default_factory=list)


def subject_details(*, case: Any, viewer: Any) -> SubjectDetails | None:
    """The details the subject's app gives for `case`, or None when its kind has no handler."""
    if not events.registered_for(events.CASE_SUBJECT_DETAILS, case.subject_kind):
        return None
    details: SubjectDetails | None = events.announce_to_one(
        events.CASE_SUBJECT_DETAILS, case.subject_kind, case=case, viewer=viewer
    )
    return details
