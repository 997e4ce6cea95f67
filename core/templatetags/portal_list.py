"""The admin changelist's rows, rendered once per column instead of once per cell.

unfold's `unfold_result_list` renders the action checkbox, every status badge and every boolean
icon through a template per row, recomputes the column headers for every row and repeats about
thirty utility classes on every cell. `portal_result_list` draws the same table from strings
built once per page (the checkbox, the change link, the cell openings) and once per process and
language (badges, boolean icons, choice labels); the cell styling lives in
`static/css/admin-list.css`, keyed on the table's `portal-list` class.

Lists that use what the fast path does not draw (editable columns, row sections, drag-ordering,
row actions) fall back to unfold's tag unchanged.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable
from types import SimpleNamespace
from typing import Any

from django import template
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
from django.contrib.admin.utils import lookup_field, quote
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import ObjectDoesNotExist
from django.db import models
from django.template.loader import get_template, render_to_string
from django.urls import NoReverseMatch
from django.utils.html import conditional_escape, format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from unfold.templatetags.unfold_list import result_headers
from unfold.templatetags.unfold_list import result_list as unfold_result_list
from unfold.utils import display_for_field, display_for_value

from core.choices import field_choice_texts

register = template.Library()

FAST_TEMPLATE = "admin/portal_change_list_results.html"
FALLBACK_TEMPLATE = "admin/change_list_results.html"
PK_PLACEHOLDER = "portalrowpk0"
# Badge types unfold's label.html colours; any other draws as the neutral badge.
BADGE_TYPES = frozenset({"info", "danger", "warning", "success", "primary"})
NOWRAP = mark_safe(' class="nowrap"')
INDENTATION = re.compile(r"\s*\n\s*")
KEEP_AS_IS = re.compile(r"(<(?:pre|textarea|script)\b.*?</(?:pre|textarea|script)>)", re.S | re.I)

# (language, value) -> rendered icon.
_boolean_icons: dict[tuple[str | None, Any], str] = {}


def compact(html: str) -> SafeString:
    """`html` without its templates' indentation: each run of whitespace that holds a line
    break becomes one line break, which the browser draws as the run (and which ends a `//`
    comment in an inline handler as the run did). The text of `pre`, `textarea` and `script`
    elements is left as it is."""
    parts = KEEP_AS_IS.split(html.strip())
    # Even parts lie between preserved elements; odd parts are those elements, untouched.
    text = "".join(
        part if index % 2 else INDENTATION.sub("\n", part) for index, part in enumerate(parts)
    )
    # The rendered template's own output, only whitespace between its tags changed.
    return mark_safe(text)  # noqa: S308


class CompactNode(template.Node):
    def __init__(self, nodelist: template.NodeList) -> None:
        self.nodelist = nodelist

    def render(self, context: template.Context) -> str:
        return compact(self.nodelist.render(context))


@register.tag(name="compact")
def compact_tag(parser: template.base.Parser, token: template.base.Token) -> CompactNode:
    """`{% compact %}...{% endcompact %}`: the enclosed output without whitespace runs between
    tags (see `compact`)."""
    nodelist = parser.parse(("endcompact",))
    parser.delete_first_token()
    return CompactNode(nodelist)


def badge(text: object, label_type: str | None) -> SafeString:
    """A status badge as unfold's `label.html` draws it (styled by `.portal-badge`)."""
    if label_type in BADGE_TYPES:
        return format_html('<span class="portal-badge portal-badge-{}">{}</span>', label_type, text)
    return format_html('<span class="portal-badge">{}</span>', text)


def boolean_icon(value: Any) -> str:
    """unfold's boolean icon, rendered once per value and language."""
    key = (get_language(), None if value in ("", None) else bool(value))
    icon = _boolean_icons.get(key)
    if icon is None:
        icon = _boolean_icons[key] = compact(
            render_to_string("unfold/helpers/boolean.html", {"value": key[1]})
        )
    return icon


def choice_label(field: models.Field[Any, Any], value: Any, empty: str) -> str:
    """The label of a choice, the field's lazy choices resolved once per language."""
    try:
        return field_choice_texts(field).get(value, empty)
    except TypeError:  # unhashable choices or value: as unfold draws them
        return display_for_field(value, field, empty)


def label_cell(value: Any, empty: str, label: Any) -> str:
    """unfold's `display_for_label`: a badge (or several) coloured by the label mapping."""
    label_type = None
    if isinstance(label, dict):
        if isinstance(value, tuple):
            label_type = label.get(value[0])
            value = value[1] if value[0] in label else value[0]
        elif value in label:
            label_type = label[value]
    if not value:
        return "-"
    if isinstance(value, list | tuple):
        return format_html_join("", "{}", ((badge(item, label_type),) for item in value))
    return badge(value, label_type)


class Column:
    """One list column: how to open its cell and how to draw a value in it."""

    def __init__(self, cl: ChangeList, field_name: Any, header: str) -> None:
        self.field_name = field_name
        self.header = header
        self.is_checkbox = field_name == "action_checkbox"
        self.empty = cl.model_admin.get_empty_value_display()

    def cell(self, cl: ChangeList, result: models.Model) -> tuple[str, bool]:
        """The cell's content and whether it holds a date or time (kept on one line)."""
        empty = self.empty
        try:
            f, attr, value = lookup_field(self.field_name, result, cl.model_admin)
        except ObjectDoesNotExist:
            return empty, False
        nowrap = False
        if f is None or f.auto_created:
            empty = getattr(attr, "empty_value_display", empty)
            label = getattr(attr, "label", False)
            if label:
                text = label_cell(value, empty, label)
            elif getattr(attr, "boolean", False):
                text = boolean_icon(value)
            elif getattr(attr, "dropdown", False) or getattr(attr, "header", False):
                return _unfold_cell(cl, result, self.field_name), False
            else:
                text = display_for_value(value, empty)
            nowrap = isinstance(value, datetime.date | datetime.time)
        else:
            if isinstance(f.remote_field, models.ManyToOneRel):
                field_val = getattr(result, f.name)
                text = empty if field_val is None else field_val
            elif f.choices:
                text = choice_label(f, value, empty)
            elif isinstance(f, models.BooleanField):
                text = boolean_icon(value)
            else:
                text = display_for_field(value, f, empty)
            nowrap = isinstance(f, models.DateField | models.TimeField | models.ForeignKey)
        return text, nowrap


def _unfold_cell(cl: ChangeList, result: models.Model, field_name: str) -> SafeString:
    """The inner HTML unfold draws for a column the fast path leaves to it."""
    from unfold.templatetags.unfold_list import items_for_result

    index = list(cl.list_display).index(field_name)
    cell = list(items_for_result(cl, result, None))[index]
    # unfold's own escaped cell, without its opening and closing tags.
    return mark_safe(cell[cell.index(">") + 1 : cell.rindex("<")])  # noqa: S308


class RowRenderer:
    """Draws a changelist's rows from strings built once for the page."""

    def __init__(self, cl: ChangeList, headers: list[dict[str, Any]]) -> None:
        self.cl = cl
        self.columns = [
            Column(cl, name, str(headers[i]["text"])) for i, name in enumerate(cl.list_display)
        ]
        self.link_names = self._link_names()
        self.pk_attname = str(cl.to_field) if cl.to_field else cl.lookup_opts.pk.attname
        self.link = self._link_template()
        self.popup = cl.is_popup
        self.select_label = _("Select record")

    def _link_names(self) -> set[Any]:
        links = self.cl.list_display_links
        if links is None:
            return set()
        if not links:
            first = next((c.field_name for c in self.columns if not c.is_checkbox), None)
            return {first} if first else set()
        return set(links)

    @staticmethod
    def _split(html: SafeString) -> tuple[SafeString, SafeString] | None:
        """The safe HTML before and after the one placeholder primary key in `html`."""
        if html.count(PK_PLACEHOLDER) != 1:
            return None
        before, after = html.split(PK_PLACEHOLDER)
        # Halves of HTML that was safe whole, split at a placeholder of letters and digits.
        return mark_safe(before), mark_safe(after)  # noqa: S308

    def _link_template(self) -> tuple[SafeString, SafeString] | None:
        """The change link around a placeholder key, when the list links rows the admin's
        usual way (a list that overrides `url_for_result` is linked row by row)."""
        if type(self.cl).url_for_result is not ChangeList.url_for_result:
            return None
        stand_in = SimpleNamespace(**{self.cl.pk_attname: PK_PLACEHOLDER})
        try:
            url = self.cl.url_for_result(stand_in)  # type: ignore[arg-type]
        except NoReverseMatch:
            return None
        return self._split(conditional_escape(self._preserving_filters(url)))

    def _preserving_filters(self, url: str) -> str:
        return add_preserved_filters(
            {"preserved_filters": self.cl.preserved_filters, "opts": self.cl.opts}, url
        )

    def _href(self, result: models.Model, value: Any) -> str | None:
        if self.link is not None:
            return format_html("{}{}{}", self.link[0], quote(value), self.link[1])
        try:
            return self._preserving_filters(self.cl.url_for_result(result))
        except NoReverseMatch:
            return None

    def row(self, result: models.Model) -> str:
        cells = []
        linked = False
        pk = result.pk
        for column in self.columns:
            if column.is_checkbox:
                cells.append(
                    format_html(
                        '<td class="action-checkbox"><input type="checkbox"'
                        ' name="{}" value="{}" class="action-select" aria-label="{}"></td>',
                        ACTION_CHECKBOX_NAME,
                        pk,
                        self.select_label,
                    )
                )
                continue
            content, nowrap = column.cell(self.cl, result)
            tag = "td"
            if not linked and column.field_name in self.link_names:
                linked = True
                tag = "th"
                content = self._linked(result, content)
            cells.append(
                format_html(
                    '<{}{} data-label="{}">{}</{}>',
                    tag,
                    NOWRAP if nowrap else "",
                    column.header,
                    content,
                    tag,
                )
            )
        return format_html(
            '<tr class="data-row">{}</tr>', format_html_join("", "{}", ((c,) for c in cells))
        )

    def _linked(self, result: models.Model, content: Any) -> Any:
        value = result.serializable_value(self.pk_attname)
        href = self._href(result, value)
        if href is None:
            return content
        if self.popup:
            return format_html('<a href="{}" data-popup-opener="{}">{}</a>', href, value, content)
        return format_html('<a href="{}">{}</a>', href, content)

    def rows(self, results: Iterable[models.Model]) -> SafeString:
        return format_html_join("", "{}", ((self.row(result),) for result in results))


def fast_path_applies(cl: ChangeList, context: template.Context) -> bool:
    """Whether the list uses only what `RowRenderer` draws."""
    admin = cl.model_admin
    return not (
        getattr(cl, "formset", None)
        or getattr(admin, "list_sections", None)
        or getattr(admin, "ordering_field", None)
        or context.get("actions_row")
    )


@register.simple_tag(takes_context=True)
def portal_result_list(context: template.Context, cl: ChangeList) -> SafeString:
    """The changelist's table: the compact rows where they apply, unfold's otherwise."""
    request = context["request"]
    if not fast_path_applies(cl, context):
        values = unfold_result_list(context, cl)
        return compact(get_template(FALLBACK_TEMPLATE).render(values, request))
    headers = list(result_headers(cl))
    rows = RowRenderer(cl, headers).rows(cl.result_list)
    values = {
        "cl": cl,
        "result_headers": headers,
        "num_sorted_fields": sum(1 for h in headers if h["sortable"] and h["sorted"]),
        "rows": rows,
    }
    return compact(get_template(FAST_TEMPLATE).render(values, request))
