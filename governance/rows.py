"""The inbox's table rows as HTML, built in Python.

A page shows up to 50 cases, and rendering each row through the template language cost more
than the page's queries (a dozen nodes per cell: URL reversing, translation blocks, filters,
attribute look-ups that fail on purpose). Here each row is one `format_html` of strings
prepared once per page: the labels translated once, the case URL reversed once, the status
labels resolved once per language (not through the lazily translated choices on each row).
The markup is the template's, without whitespace between tags.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.template.defaultfilters import date as date_filter
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from core.choices import field_choice_texts
from core.money import display_money

from .models import ApprovalCase

MISSING = "—"
_PLACEHOLDER = 2_147_483_647  # a case number no URL pattern change can turn into something else

_ROW = (
    "<tr{}>"
    '<th scope="row" data-label="{}"><a class="text-no-wrap" href="{}">{}</a><br>'
    '<span class="text-normal">{}</span><br><span class="text-normal text-base">{} {}</span></th>'
    '<td data-label="{}">{}</td>'
    '<td data-label="{}">{}</td>'
    '<td data-label="{}" class="text-right text-tabular text-no-wrap">{}</td>'
    '<td data-label="{}">{}</td>'
    '<td data-label="{}">{}</td>'
    '<td data-label="{}"><span class="usa-tag portal-case-status portal-case-status--{}">{}</span>'
    "</td></tr>"
)


def _person(user: Any) -> str:
    return user.get_full_name() or user.get_username()


def _step(case_step: Any) -> str:
    if case_step is None:
        return MISSING
    text = f"{case_step.order}. {case_step.step.name}"
    if case_step.required_approvals > 1:
        text += f" ({case_step.approvals}/{case_step.required_approvals})"
    return text


class InboxRows:
    """What every row of one inbox page shares, resolved once (in the active language)."""

    def __init__(self, *, show_all: bool) -> None:
        self.show_all = show_all
        self.labels = {
            "case": _("Case"),
            "program": _("Program"),
            "step": _("Step"),
            "amount": _("Amount"),
            "maker": _("Submitted by"),
            "due": _("Due"),
            "authority": _("Your authority"),
            "status": _("Status"),
            "own": _("Own"),
            "overdue": _("Overdue:"),
        }
        self.case_number = _("Case %(number)s")
        self.delegated = _("For %(who)s (delegation)")
        self.statuses = field_choice_texts(ApprovalCase._meta.get_field("status"))
        url = reverse("governance:case", args=[_PLACEHOLDER])
        self.url_head, self.url_tail = url.split(str(_PLACEHOLDER))

    def _due(self, case: Any, late: bool) -> SafeString | str:
        if case.due_at is None:
            return MISSING
        due = timezone.localtime(case.due_at) if timezone.is_aware(case.due_at) else case.due_at
        return format_html(
            '<time datetime="{}"{}>{}{}</time>',
            date_filter(due, "c"),
            SafeString(' class="gov-overdue"') if late else "",
            f"{self.labels['overdue']} " if late else "",
            date_filter(due, "SHORT_DATETIME_FORMAT"),
        )

    def _authority(self, via: Any) -> str:
        if self.show_all:
            return MISSING
        if via is not None:
            return self.delegated % {"who": _person(via.delegator)}
        return self.labels["own"]

    def row(self, case: Any, via: Any) -> tuple[Any, ...]:
        """The values of `_ROW` for one case (`via`: the delegation it is decided under)."""
        late = getattr(case, "overdue_rank", 1) == 0
        labels = self.labels
        return (
            SafeString(' class="gov-overdue-row"') if late else "",
            labels["case"],
            f"{self.url_head}{case.pk}{self.url_tail}",
            self.case_number % {"number": case.pk},
            case.subject_label,
            labels["maker"],
            _person(case.maker),
            labels["program"],
            case.program.name,
            labels["step"],
            _step(case.current_step),
            labels["amount"],
            display_money(case.amount_minor, case.currency),
            labels["due"],
            self._due(case, late),
            labels["authority"],
            self._authority(via),
            labels["status"],
            case.status,
            self.statuses.get(case.status, case.status),
        )

    def render(self, items: Iterable[tuple[Any, Any]]) -> SafeString:
        """The rows of (case, delegation or None) pairs, as one piece of HTML."""
        return format_html_join("", _ROW, (self.row(case, via) for case, via in items))
