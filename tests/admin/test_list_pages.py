"""The staff's daily lists: drawn compactly (core/templatetags/portal_list.py), under 80 KB for
a page of 50 rows, gzip-compressed on the wire, and without failed template lookups in the
templates the portal overrides."""

from __future__ import annotations

import gzip

import pytest
from django.urls import reverse

from service_requests.models import ServiceRequest, Status
from tests.admin.helpers import CHANGELIST
from tests.template_lookups import failed_lookups

pytestmark = pytest.mark.django_db

PAGE_LIMIT = 80 * 1024
GZIP = {"accept-encoding": "gzip"}
# The admin lists staff open every day.
DAILY_LISTS = [
    "admin:service_requests_servicerequest_changelist",
    "admin:governance_approvalcase_changelist",
    "admin:allocations_claim_changelist",
    "admin:ledger_transfer_changelist",
    "admin:ledger_account_changelist",
    "admin:allocations_allocationround_changelist",
    "admin:integrations_delivery_changelist",
]
PORTAL_TEMPLATES = (
    "admin/change_list.html",
    "admin/portal_change_list_results.html",
    "admin/app_list.html",
)


@pytest.fixture
def fifty_requests(submit, rent_help):  # type: ignore[no-untyped-def]
    """A full page: 50 requests filed through the service."""
    return [
        submit(rent_help, amount_minor=10_000 + n, name=f"Person {n}", email=f"p{n}@example.test")
        for n in range(50)
    ]


def _portal_failures(counter) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return {k: v for k, v in counter.items() if k.startswith(PORTAL_TEMPLATES)}


def test_a_page_of_fifty_requests_is_small_and_sent_compressed(client, superuser, fifty_requests):
    client.force_login(superuser)
    plain = client.get(CHANGELIST)
    assert len(plain.context["cl"].result_list) == 50
    assert len(plain.content) <= PAGE_LIMIT
    sent = client.get(CHANGELIST, headers=GZIP)
    assert sent["Content-Encoding"] == "gzip"
    assert len(sent.content) < len(plain.content) / 4
    html = gzip.decompress(sent.content).decode()
    assert html.count('class="action-select"') == 50
    table = html.split('<table id="result_list"', 1)[1].split("</table>", 1)[0]
    assert "  " not in table


def test_the_rows_keep_the_checkbox_link_badge_and_filters(client, reviewer, fifty_requests):
    first = fifty_requests[-1]  # newest first
    client.force_login(reviewer)
    html = client.get(CHANGELIST + f"?status__exact={Status.SUBMITTED}").content.decode()
    assert (
        f'<input type="checkbox" name="_selected_action" value="{first.pk}"'
        ' class="action-select" aria-label="Select record">'
    ) in html
    change = reverse("admin:service_requests_servicerequest_change", args=[first.pk])
    assert f'<a href="{change}?_changelist_filters=status__exact%3D{Status.SUBMITTED}">' in html
    assert f">{first.tracking_number}</a></th>" in html
    assert '<span class="portal-badge portal-badge-info">Received</span>' in html
    assert 'data-label="status"' in html


def test_no_failed_lookups_in_the_portals_admin_templates(client, superuser, fifty_requests):
    client.force_login(superuser)
    with failed_lookups() as failures:
        assert client.get(CHANGELIST).status_code == 200
    assert _portal_failures(failures) == {}


@pytest.mark.parametrize("name", DAILY_LISTS)
def test_every_daily_list_is_drawn_compactly_and_sent_compressed(
    client, superuser, name, fifty_requests
):
    client.force_login(superuser)
    with failed_lookups() as failures:
        response = client.get(reverse(name), headers=GZIP)
    assert response.status_code == 200
    assert response["Content-Encoding"] == "gzip"
    html = gzip.decompress(response.content).decode()
    assert len(html) <= PAGE_LIMIT
    if response.context["cl"].result_list:
        assert 'class="result-list portal-list' in html
    assert _portal_failures(failures) == {}


def test_a_reviewer_lists_only_their_programs_requests(client, outsider_reviewer, fifty_requests):
    client.force_login(outsider_reviewer)
    response = client.get(CHANGELIST)
    assert response.context["cl"].result_list.count() == 0
    assert ServiceRequest.objects.count() == 50


def test_anonymous_is_sent_to_the_login_from_every_daily_list(client):
    for name in DAILY_LISTS:
        assert client.get(reverse(name)).status_code == 302
