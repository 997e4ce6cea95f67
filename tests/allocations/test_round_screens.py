"""The finance officers' round screens in the admin, the compute task, and the public pages."""

from __future__ import annotations

import hashlib

import pytest
from django.contrib.admin import helpers
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from allocations import services
from allocations.models import AllocationRound, RoundState
from tests.allocations.conftest import approved_round, computed_round, make_claims, state_of

CHANGELIST = reverse("admin:allocations_allocationround_changelist")


def act(client, action, round_):  # type: ignore[no-untyped-def]
    return client.post(
        CHANGELIST,
        {"action": action, helpers.ACTION_CHECKBOX_NAME: [str(round_.pk)]},
        follow=True,
    )


def messages_of(response) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(m) for m in response.context["messages"]]


@pytest.fixture
def committed(officer, supervisor, round_fund, waiting_claims):  # type: ignore[no-untyped-def]
    round_ = approved_round(officer, supervisor, round_fund)
    return services.round_commit(actor=officer, round_id=round_.pk)


def test_the_round_page_shows_metrics_side_by_side_chart_and_explanations(
    client, officer, round_fund, waiting_claims
):
    round_ = computed_round(officer, round_fund)
    client.force_login(officer)
    response = client.get(reverse("admin:allocations_allocationround_change", args=[round_.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Metrics, beside the other rules on the same snapshot" in page
    assert "Max-min fair (water-filling) (this round)" in page
    assert "Pro rata" in page
    assert "Priority order" in page
    assert "Gini on amounts" in page
    assert "<svg" in page
    assert "Line 1: asked $6,000.00, granted $4,000.00" in page
    assert "every claim was met up to $4,000.00" in page
    assert "Send for approval" in page  # offered as a button on the page


def test_officers_move_rounds_with_admin_actions(client, officer, round_fund, waiting_claims):
    round_ = services.round_create(
        actor=officer, fund=round_fund, name="Summer", budget_minor=500_000, rule="pro_rata"
    )
    client.force_login(officer)
    assert "is open: claims gathered" in messages_of(act(client, "open_rounds", round_))[0]
    assert "is frozen" in messages_of(act(client, "freeze_rounds", round_))[0]
    assert "is computed" in messages_of(act(client, "compute_rounds", round_))[0]
    assert state_of(round_) == RoundState.COMPUTED
    refused = messages_of(act(client, "commit_rounds", round_))
    assert refused == ["Round “Summer” is computed; it cannot be committed. Nothing was changed."]
    assert "sent for approval" in messages_of(act(client, "send_rounds_for_approval", round_))[0]
    assert state_of(round_) == RoundState.UNDER_APPROVAL


def test_people_without_the_round_permissions_cannot_see_or_act(
    client, reviewer, officer, round_fund
):
    round_ = services.round_create(
        actor=officer, fund=round_fund, name="Summer", budget_minor=0, rule="max_min"
    )
    client.force_login(reviewer)
    assert client.get(CHANGELIST).status_code == 403
    response = client.post(
        CHANGELIST, {"action": "open_rounds", helpers.ACTION_CHECKBOX_NAME: [str(round_.pk)]}
    )
    assert response.status_code == 403
    assert state_of(round_) == RoundState.DRAFT


def test_anonymous_visitors_are_sent_to_the_login(client):
    response = client.get(CHANGELIST)
    assert response.status_code == 302


def test_the_add_form_creates_a_round_through_the_service(client, officer, round_fund):
    client.force_login(officer)
    url = reverse("admin:allocations_allocationround_add")
    assert client.get(url).status_code == 200
    data = {
        "fund": round_fund.pk,
        "name": "Autumn",
        "budget": "12,000.00",
        "rule": "priority",
        "parameters": '{"on_shortfall": "stop"}',
        "tiebreak": "random",
        "tiebreak_seed": "",
    }
    response = client.post(url, data)
    assert "more than the fund&#x27;s available $10,000.00" in response.content.decode()
    assert not AllocationRound.objects.exists()
    data["budget"] = "8,000.50"
    response = client.post(url, data)
    assert response.status_code == 302
    created = AllocationRound.objects.get()
    assert (created.budget_minor, created.params, created.tiebreak) == (
        800_050,
        {"on_shortfall": "stop"},
        "random",
    )
    assert created.history.get().history_user == officer


def test_a_large_round_is_computed_by_a_task_that_reports_progress(
    client, officer, round_fund, waiting_claims, settings, django_capture_on_commit_callbacks
):
    settings.HMS_ALLOCATIONS_ASYNC_CLAIMS = 2  # three claims count as large here
    round_ = services.round_create(
        actor=officer, fund=round_fund, name="Big", budget_minor=900_000, rule="max_min"
    )
    services.round_open(actor=officer, round_id=round_.pk)
    services.round_freeze(actor=officer, round_id=round_.pk)
    client.force_login(officer)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = act(client, "compute_rounds", round_)
    assert "is being computed; its page shows the progress" in messages_of(response)[0]
    assert len(callbacks) == 1
    round_ = AllocationRound.objects.get(pk=round_.pk)
    assert round_.state == RoundState.COMPUTED
    assert (round_.progress_done, round_.progress_total, round_.progress_note) == (3, 3, "done")


def test_the_compute_task_records_a_refusal_and_is_idempotent(officer, round_fund):
    from allocations.tasks import compute_round

    round_ = services.round_create(
        actor=officer, fund=round_fund, name="Early", budget_minor=0, rule="max_min"
    )
    assert compute_round(round_.pk, officer.pk) == "refused"
    assert AllocationRound.objects.get(pk=round_.pk).progress_note.startswith("refused: ")
    services.round_open(actor=officer, round_id=round_.pk)
    services.round_freeze(actor=officer, round_id=round_.pk)
    assert compute_round(round_.pk, officer.pk) == "computed"
    assert compute_round(round_.pk, officer.pk) == "computed"


def test_a_committed_round_is_public_and_anonymous(client, committed, waiting_claims):
    response = client.get(reverse("allocations:round", args=[committed.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert committed.input_sha256 in page
    assert committed.result_sha256 in page
    assert "Max-min fair (water-filling)" in page
    assert "$9,000.00" in page
    assert "How fair is it?" in page
    assert "every claim was met up to $4,000.00" in page
    for claim in waiting_claims:
        assert claim.reference not in page  # grants are known by line number only
    listing = client.get(reverse("allocations:rounds")).content.decode()
    assert committed.name in listing


def test_the_snapshot_download_is_the_hashed_input(client, committed):
    response = client.get(reverse("allocations:snapshot", args=[committed.pk]))
    assert response.status_code == 200
    assert hashlib.sha256(response.content).hexdigest() == committed.input_sha256
    assert b"HMS-2026-9" not in response.content  # no tracking numbers in the inputs


def test_rounds_not_committed_are_not_public(client, officer, round_fund, waiting_claims):
    round_ = computed_round(officer, round_fund)
    assert client.get(reverse("allocations:round", args=[round_.pk])).status_code == 404
    assert client.get(reverse("allocations:snapshot", args=[round_.pk])).status_code == 404
    assert round_.name not in client.get(reverse("allocations:rounds")).content.decode()


def test_the_public_page_runs_a_fixed_number_of_queries(
    client, committed, officer, supervisor, actor, round_fund
):
    def queries(round_: AllocationRound) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("allocations:round", args=[round_.pk])).status_code == 200
        return len(captured)

    assert committed.grants.count() == 3
    small = queries(committed)
    make_claims(actor, round_fund, [50_000] * 12, prefix="HMS-2026-8")
    larger = services.round_commit(
        actor=officer, round_id=approved_round(officer, supervisor, round_fund, budget=60_000).pk
    )
    assert larger.grants.count() == 12
    assert queries(larger) == small <= 8
