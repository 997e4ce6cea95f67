"""How the request admin shows a request: its status, amount, answers, documents and funding."""

from __future__ import annotations

from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from unfold.decorators import display

from core.admin import choice_text, format_money
from ledger import selectors as ledger_selectors

from ..models import ServiceRequest
from .labels import STATUS_LABELS


class RequestDisplayMixin:
    """The request's computed columns and read-only fields."""

    @display(description=_("status"), ordering="status", label=STATUS_LABELS)
    def status_label(self, obj: ServiceRequest) -> tuple[str, str]:
        return obj.status, choice_text(obj, "status")

    @display(description=_("amount"), ordering="amount_minor", empty_value="—")
    def amount(self, obj: ServiceRequest) -> str | None:
        if obj.amount_minor is None:
            return None
        return format_money(obj.amount_minor, obj.currency)

    @display(description=_("answers to the service's questions"))
    def answers_given(self, obj: ServiceRequest) -> str:
        """Each extra question as it was asked, and the civilian's answer."""
        answers = [a for a in obj.answers or [] if isinstance(a, dict)]
        if not answers:
            return "—"
        return format_html_join(
            mark_safe("<br>"),
            "<strong>{}</strong>: {}",
            (
                (
                    a.get("question", a.get("code", "")),
                    ", ".join(map(str, a["answer"]))
                    if isinstance(a.get("answer"), list)
                    else a.get("answer", ""),
                )
                for a in answers
            ),
        )

    @display(description=_("documents"))
    def documents(self, obj: ServiceRequest) -> str:
        """The civilian's documents, each a download (served by the portal to staff who may
        see the request)."""
        attachments = list(obj.attachments.all())
        if not attachments:
            return "—"
        return format_html_join(
            mark_safe("<br>"),
            '<a href="{}">{}</a> ({}, {})',
            (
                (
                    reverse("service_requests:attachment", args=[obj.tracking_number, a.pk]),
                    a.name,
                    a.content_type,
                    filesizeformat(a.size),
                )
                for a in attachments
            ),
        )

    @display(description=_("claim and ledger transfers"))
    def funding(self, obj: ServiceRequest) -> str:
        """The request's claim on its fund and the ledger transfers carrying its number."""
        claim = obj.claim
        if claim is None:
            return "—"
        transfers = ledger_selectors.transfers_for_reference(reference=obj.tracking_number)
        rows = format_html_join(
            "",
            "<tr><td>#{}</td><td>{}</td><td>{} → {}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    t.sequence,
                    t.get_kind_display(),
                    t.debit_account.code,
                    t.credit_account.code,
                    format_money(t.amount_minor, t.currency),
                    timezone.localtime(t.created_at).strftime("%Y-%m-%d %H:%M"),
                )
                for t in transfers
            ),
        )
        return format_html(
            "<p>{}: {} · {} {} · {} {}</p><table>{}</table>",
            _("Claim"),
            claim.get_status_display(),
            _("asked"),
            format_money(claim.amount_minor, claim.currency),
            _("granted"),
            format_money(claim.granted_minor, claim.currency),
            rows,
        )
