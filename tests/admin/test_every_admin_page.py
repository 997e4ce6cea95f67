"""Every registered admin page renders for a superuser (NetBox-style generic test), history
pages only read, and the fund action pays out waiting requests."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse

from allocations import services as allocations
from allocations.models import Fund
from service_requests import services
from service_requests.models import ServiceRequest, Status
from tests.admin.helpers import fresh, messages_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def bureau(submit, rent_help, inspection, permit_help, reviewer, approve):  # type: ignore[no-untyped-def]
    """One of everything: a fulfilled funded request (claim, transfers, postings, case and
    decision), a request waiting for funds and plain ones."""
    paid = submit(rent_help, amount_minor=200_000)
    services.request_start_review(actor=reviewer, request_id=paid.pk)
    services.request_recommend(actor=reviewer, request_id=paid.pk, note="Meets the criteria.")
    approve(paid)
    services.request_fulfil(actor=reviewer, request_id=paid.pk)
    submit(inspection)
    submit(permit_help)
    return paid


def _pages(model_admin: admin.ModelAdmin, request, obj) -> list[str]:  # type: ignore[no-untyped-def]
    opts = model_admin.model._meta
    info = f"admin:{opts.app_label}_{opts.model_name}"
    urls = [reverse(f"{info}_changelist")]
    if model_admin.has_add_permission(request):
        urls.append(reverse(f"{info}_add"))
    if obj is not None:
        urls.append(reverse(f"{info}_change", args=[obj.pk]))
        urls.append(reverse(f"{info}_history", args=[obj.pk]))
    return urls


def test_every_admin_page_renders_for_a_superuser(client, rf, superuser, bureau):
    client.force_login(superuser)
    request = rf.get("/admin/")
    request.user = superuser
    failures = []
    checked = 0
    for model, model_admin in admin.site._registry.items():
        obj = model_admin.get_queryset(request).order_by("pk").last()
        for url in _pages(model_admin, request, obj):
            response = client.get(url)
            checked += 1
            if response.status_code != 200:
                failures.append((url, response.status_code))
        tracked = hasattr(model._meta, "simple_history_manager_attribute")
        if obj is not None and tracked and hasattr(model_admin, "history_form_view"):
            version = (
                model.history.filter(**{model._meta.pk.attname: obj.pk})
                .order_by("history_id")
                .last()
            )
            url = reverse(
                f"admin:{model._meta.app_label}_{model._meta.model_name}_simple_history",
                args=[obj.pk, version.history_id],
            )
            response = client.get(url)
            checked += 1
            if response.status_code != 200:
                failures.append((url, response.status_code))
    assert failures == []
    assert checked > 30


def test_program_object_permissions_page_renders(client, superuser, housing, reviewer):
    client.force_login(superuser)
    url = reverse("admin:governance_program_permissions", args=[housing.pk])
    response = client.get(url)
    assert response.status_code == 200
    assert reviewer.username in response.content.decode()


def test_reviewer_reads_configuration_but_cannot_change_it(client, reviewer, inspection, housing):
    client.force_login(reviewer)
    url = reverse("admin:service_requests_servicetype_change", args=[inspection.pk])
    assert client.get(url).status_code == 200
    client.post(url, {"name": "Renamed", "code": inspection.code, "program": housing.pk})
    inspection.refresh_from_db()
    assert inspection.name != "Renamed"
    assert client.get(reverse("admin:service_requests_servicetype_add")).status_code == 403


def test_history_revert_post_is_refused_and_changes_nothing(client, superuser, bureau):
    client.force_login(superuser)
    first = ServiceRequest.history.filter(id=bureau.pk).order_by("history_id").first()
    before = ServiceRequest.history.filter(id=bureau.pk).count()
    url = reverse(
        "admin:service_requests_servicerequest_simple_history", args=[bureau.pk, first.history_id]
    )
    assert client.get(url).status_code == 200
    response = client.post(url, {"status": Status.SUBMITTED, "contact_name": "Reverted"})
    assert response.status_code == 405
    bureau = fresh(bureau)
    assert bureau.status == Status.FULFILLED
    assert ServiceRequest.history.filter(id=bureau.pk).count() == before


def test_history_revert_post_is_refused_on_configuration_too(client, superuser, inspection):
    client.force_login(superuser)
    version = inspection.history.order_by("history_id").first()
    url = reverse(
        "admin:service_requests_servicetype_simple_history",
        args=[inspection.pk, version.history_id],
    )
    response = client.post(url, {"name": "Old", "code": "old", "program": inspection.program_id})
    assert response.status_code == 405
    inspection.refresh_from_db()
    assert inspection.name == "Home safety inspection"


def test_ledger_rows_cannot_be_changed_or_deleted(client, superuser, bureau):
    client.force_login(superuser)
    for name in ("ledger_transfer", "ledger_posting", "ledger_account", "allocations_claim"):
        assert client.get(reverse(f"admin:{name}_add")).status_code == 403
    from ledger.models import Transfer

    transfer = Transfer.objects.order_by("sequence").last()
    assert (
        client.post(
            reverse("admin:ledger_transfer_delete", args=[transfer.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    assert Transfer.objects.filter(pk=transfer.pk).exists()


def test_grant_waiting_claims_funds_the_waiting_requests(
    client, superuser, submit, rent_help, reviewer, approve, actor
):
    fund = Fund.objects.get(pk=rent_help.fund_id)
    waiting = []
    for _ in range(3):  # 3 x 4,000.00 on a 10,000.00 fund: the third waits
        request = submit(rent_help, amount_minor=400_000)
        services.request_start_review(actor=reviewer, request_id=request.pk)
        services.request_recommend(
            actor=reviewer, request_id=request.pk, note="Meets the criteria."
        )
        waiting.append(approve(request))
    assert waiting[2].status == Status.AWAITING_FUNDS
    allocations.fund_credit(actor=actor, fund=fund, amount_minor=500_000, idempotency_key="more")
    client.force_login(superuser)
    response = client.post(
        reverse("admin:allocations_fund_changelist"),
        {"action": "grant_waiting_claims", "_selected_action": [fund.pk]},
        follow=True,
    )
    waiting[2] = fresh(waiting[2])
    assert waiting[2].status == Status.FUNDED
    assert "Rent relief: 1 waiting request funded." in messages_of(response)


def test_grant_waiting_claims_is_offered_to_finance_officers_only(
    client, finance_officer, auditor, rent_fund
):
    url = reverse("admin:allocations_fund_changelist")
    client.force_login(finance_officer)
    form = client.get(url).context["action_form"]
    assert form is not None
    assert "grant_waiting_claims" in [name for name, _ in form.fields["action"].choices]
    client.force_login(auditor)
    assert client.get(url).context["action_form"] is None


def test_granting_waiting_claims_is_refused_to_anyone_but_finance(auditor, reviewer, rent_fund):
    for person in (auditor, reviewer):
        with pytest.raises(allocations.AllocationError, match="Only finance officers"):
            allocations.fund_grant_waiting(actor=person, fund_id=rent_fund.pk)
