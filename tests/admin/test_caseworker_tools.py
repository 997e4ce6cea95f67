"""The caseworker's screens: a request's page offers what its state allows and comes back to
itself; the recommendation's reasons; "My queue"; the supervisor's team view with reassignment;
the assignment settings' pages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.admin import helpers
from django.urls import reverse
from django.utils import timezone
from guardian.shortcuts import assign_perm

from core import roles
from service_requests import services
from service_requests.models import Absence, ReviewerProfile, ServiceRequest, Status
from tests.admin.helpers import CHANGELIST, change_url, fresh, messages_of
from tests.conftest import _person

pytestmark = pytest.mark.django_db

MY_QUEUE = reverse("admin:service_requests_servicerequest_my_queue")
TEAM = reverse("admin:service_requests_servicerequest_team")
ABSENCE_ADD = reverse("admin:service_requests_absence_add")


def latest_history(request: ServiceRequest):  # type: ignore[no-untyped-def]
    return ServiceRequest.history.filter(id=request.pk).latest("history_id")


def offered(client, request: ServiceRequest) -> list[str]:  # type: ignore[no-untyped-def]
    page = client.get(change_url(request))
    assert page.status_code == 200
    return [name for name, _description in page.context["request_actions"]]


def from_page(client, action: str, request: ServiceRequest, **extra: str):  # type: ignore[no-untyped-def]
    """Press an action's button on the request's page."""
    return client.post(
        CHANGELIST,
        {
            "action": action,
            helpers.ACTION_CHECKBOX_NAME: [str(request.pk)],
            "_from_page": str(request.pk),
            **extra,
        },
        follow=True,
    )


# -- the request's page -------------------------------------------------------------------------


def test_the_page_offers_only_what_the_state_allows(client, reviewer, submit, inspection):
    request = submit(inspection)
    client.force_login(reviewer)
    assert offered(client, request) == ["assign_to_me", "start_review"]
    services.request_start_review(actor=reviewer, request_id=request.pk)
    assert offered(client, request) == ["ask_for_information", "recommend"]
    services.request_recommend(actor=reviewer, request_id=request.pk, note="Fine.")
    assert offered(client, request) == []


def test_an_action_from_the_page_comes_back_to_it_with_a_message(
    client, reviewer, submit, inspection
):
    request = submit(inspection)
    client.force_login(reviewer)
    response = from_page(client, "start_review", request)
    assert response.redirect_chain[-1][0] == change_url(request)
    assert "Review started on 1 request." in messages_of(response)
    assert fresh(request).status == Status.IN_REVIEW
    assert latest_history(request).history_user == reviewer


def test_recommend_asks_for_the_reasons_and_keeps_them(client, reviewer, submit, inspection):
    request = submit(inspection)
    services.request_start_review(actor=reviewer, request_id=request.pk)
    client.force_login(reviewer)
    page = from_page(client, "recommend", request)
    assert page.templates[0].name == "admin/service_requests/servicerequest/recommend.html"
    assert fresh(request).status == Status.IN_REVIEW
    before = ServiceRequest.history.filter(id=request.pk).count()
    refused = from_page(client, "recommend", request, apply="1", note="   ")
    assert refused.context["form"].errors["note"]
    assert ServiceRequest.history.filter(id=request.pk).count() == before
    done = from_page(
        client, "recommend", request, apply="1", note="Income verified; landlord letter attached."
    )
    assert done.redirect_chain[-1][0] == change_url(request)
    request = fresh(request)
    assert request.status == Status.PENDING_APPROVAL
    assert request.recommendation_note == "Income verified; landlord letter attached."
    assert latest_history(request).history_user == reviewer
    assert "Income verified; landlord letter attached." in client.get(change_url(request)).text


def test_the_service_refuses_a_recommendation_without_reasons(reviewer, submit, inspection):
    request = submit(inspection)
    services.request_start_review(actor=reviewer, request_id=request.pk)
    with pytest.raises(services.RequestError) as refused:
        services.request_recommend(actor=reviewer, request_id=request.pk, note=" ")
    assert "note" in refused.value.message_dict
    assert fresh(request).status == Status.IN_REVIEW


# -- My queue -----------------------------------------------------------------------------------


def test_my_queue_lists_my_open_requests_overdue_first(client, reviewer, submit, inspection):
    newer = submit(inspection)
    older = submit(inspection)
    ServiceRequest.objects.filter(pk=older.pk).update(
        submitted_at=timezone.now() - timedelta(days=60)
    )
    for request in (newer, older):
        services.request_assign(actor=reviewer, request_id=request.pk, assignee=reviewer)
    submit(inspection)  # nobody's
    client.force_login(reviewer)
    page = client.get(MY_QUEUE)
    assert page.status_code == 200
    assert [r.pk for r in page.context["queue"]] == [older.pk, newer.pk]
    assert str(page.context["title"]) == "My queue: 2 open, 1 overdue"


def test_my_queue_is_refused_to_staff_without_requests_and_anonymous(client, db):
    clerk = _person("clerk", None, staff=True)
    client.force_login(clerk)
    assert client.get(MY_QUEUE).status_code == 403
    client.logout()
    response = client.get(MY_QUEUE)
    assert response.status_code == 302
    assert "login" in response["Location"]


# -- the supervisor's team ----------------------------------------------------------------------


@pytest.fixture
def team(housing, supervisor):  # type: ignore[no-untyped-def]
    people = []
    for name in ("tess", "uma"):
        user = _person(name, roles.REVIEWER, staff=True)
        assign_perm("governance.review_program", user, housing)
        ReviewerProfile.objects.create(user=user, supervisor=supervisor)
        people.append(user)
    return people


def test_team_view_shows_the_team_and_the_unassigned(client, supervisor, team, submit, inspection):
    tess, _uma = team
    mine = submit(inspection)
    services.request_assign(actor=tess, request_id=mine.pk, assignee=tess)
    waiting = submit(inspection)
    client.force_login(supervisor)
    page = client.get(TEAM)
    assert page.status_code == 200
    members = {m.user.username: [r.pk for r in m.requests] for m in page.context["team"]}
    assert members == {"tess": [mine.pk], "uma": []}
    assert [r.pk for r in page.context["unassigned"]] == [waiting.pk]


def test_bulk_reassignment_moves_all_and_records_each(client, supervisor, team, submit, inspection):
    tess, uma = team
    first, second = submit(inspection), submit(inspection)
    for request in (first, second):
        services.request_assign(actor=tess, request_id=request.pk, assignee=tess)
    client.force_login(supervisor)
    response = client.post(
        TEAM,
        {
            "move-requests": [str(first.pk), str(second.pk)],
            "move-assignee": str(uma.pk),
            "move-reason": "tess is on training",
        },
        follow=True,
    )
    assert "2 requests reassigned to uma." in messages_of(response)
    for request in (first, second):
        assert fresh(request).assignee == uma
        row = latest_history(request)
        assert row.history_user == supervisor
        assert row.history_change_reason == "reassigned to uma by sam: tess is on training"
    assert ReviewerProfile.objects.get(user=uma).open_cases == 2
    assert ReviewerProfile.objects.get(user=tess).open_cases == 0


def test_reassignment_to_someone_without_the_permission_changes_nothing(
    client, supervisor, team, submit, inspection, outsider_reviewer
):
    tess, _uma = team
    request = submit(inspection)
    services.request_assign(actor=tess, request_id=request.pk, assignee=tess)
    before = ServiceRequest.history.filter(id=request.pk).count()
    client.force_login(supervisor)
    response = client.post(
        TEAM, {"move-requests": [str(request.pk)], "move-assignee": str(outsider_reviewer.pk)}
    )
    assert response.status_code == 400
    assert "assignee" in response.context["form"].errors
    assert fresh(request).assignee == tess
    assert ServiceRequest.history.filter(id=request.pk).count() == before


def test_reassignment_without_requests_chosen_is_a_field_error(client, supervisor, team):
    client.force_login(supervisor)
    response = client.post(TEAM, {"move-assignee": str(team[0].pk)})
    assert response.status_code == 400
    assert response.context["form"].errors["requests"] == [
        "Choose at least one request to reassign."
    ]


def test_team_view_is_refused_to_reviewers_and_anonymous(
    client, reviewer, team, submit, inspection
):
    request = submit(inspection)
    services.request_assign(actor=team[0], request_id=request.pk, assignee=team[0])
    client.force_login(reviewer)
    assert client.get(TEAM).status_code == 403
    assert (
        client.post(
            TEAM, {"move-requests": [str(request.pk)], "move-assignee": str(reviewer.pk)}
        ).status_code
        == 403
    )
    assert fresh(request).assignee == team[0]
    client.logout()
    assert "login" in client.get(TEAM)["Location"]


# -- absences and terms in the admin ------------------------------------------------------------


def test_a_reviewer_enters_their_absence(client, reviewer):
    client.force_login(reviewer)
    today = timezone.localdate()
    response = client.post(
        ABSENCE_ADD,
        {"user": str(reviewer.pk), "starts_on": str(today), "ends_on": str(today), "note": "ill"},
    )
    assert response.status_code == 302
    absence = Absence.objects.get(user=reviewer)
    assert absence.entered_by == reviewer
    assert absence.history.get().history_user == reviewer


def test_an_absence_ending_before_it_starts_is_a_field_error(client, reviewer):
    client.force_login(reviewer)
    today = timezone.localdate()
    response = client.post(
        ABSENCE_ADD,
        {"user": str(reviewer.pk), "starts_on": str(today), "ends_on": str(today - timedelta(1))},
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["ends_on"] == [
        "The last day away cannot be before the first."
    ]
    assert not Absence.objects.exists()


def test_nobody_enters_an_absence_for_a_colleague(client, reviewer, housing):
    colleague = _person("vic", roles.REVIEWER, staff=True)
    client.force_login(colleague)
    today = timezone.localdate()
    response = client.post(
        ABSENCE_ADD, {"user": str(reviewer.pk), "starts_on": str(today), "ends_on": str(today)}
    )
    assert response.context["adminform"].form.errors["user"]
    assert not Absence.objects.exists()
    client.logout()
    assert "login" in client.get(ABSENCE_ADD)["Location"]


def test_a_cap_below_the_load_is_a_field_error_on_the_terms_page(client, supervisor, team):
    tess = team[0]
    ReviewerProfile.objects.filter(user=tess).update(open_cases=3, open_effort=3)
    profile = ReviewerProfile.objects.get(user=tess)
    client.force_login(supervisor)
    url = reverse("admin:service_requests_reviewerprofile_change", args=[profile.pk])
    response = client.post(
        url,
        {"user": str(tess.pk), "cap": "2", "languages": "en", "supervisor": str(supervisor.pk)},
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["cap"]
    assert ReviewerProfile.objects.get(pk=profile.pk).cap == 40
    response = client.post(
        url,
        {"user": str(tess.pk), "cap": "3", "languages": "en,es", "supervisor": str(supervisor.pk)},
    )
    assert response.status_code == 302
    profile = ReviewerProfile.objects.get(pk=profile.pk)
    assert (profile.cap, profile.languages) == (3, "en,es")
    assert profile.history.first().history_user == supervisor


def test_a_reviewer_cannot_change_their_own_cap(client, team):
    tess = team[0]
    profile = ReviewerProfile.objects.get(user=tess)
    client.force_login(tess)
    url = reverse("admin:service_requests_reviewerprofile_change", args=[profile.pk])
    response = client.post(url, {"user": str(tess.pk), "cap": "99", "languages": "en"})
    assert response.status_code == 403
    assert ReviewerProfile.objects.get(pk=profile.pk).cap == 40
    client.logout()
    assert "login" in client.post(url, {"cap": "99"})["Location"]
    assert ReviewerProfile.objects.get(pk=profile.pk).cap == 40


# -- assignment rules and conflicts in the admin ------------------------------------------------

RULE_ADD = reverse("admin:service_requests_assignmentrule_add")
FLAG_ADD = reverse("admin:service_requests_conflictflag_add")


def test_a_supervisor_sets_a_rule_for_their_program(client, supervisor, inspection):
    from service_requests.models import AssignmentRule

    client.force_login(supervisor)
    response = client.post(
        RULE_ADD, {"service_type": str(inspection.pk), "method": "round_robin", "effort": "2"}
    )
    assert response.status_code == 302
    rule = AssignmentRule.objects.get(service_type=inspection)
    assert (rule.method, rule.effort, rule.require_language) == ("round_robin", 2, False)
    assert rule.history.get().history_user == supervisor


def test_a_rule_is_refused_to_reviewers_and_other_programs_supervisors(
    client, reviewer, outsider_supervisor, inspection
):
    from service_requests.models import AssignmentRule

    client.force_login(reviewer)
    assert client.get(RULE_ADD).status_code == 403
    # The supervisors' model permission, but the decide permission of another program.
    client.force_login(outsider_supervisor)
    response = client.post(
        RULE_ADD, {"service_type": str(inspection.pk), "method": "manual", "effort": "1"}
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["service_type"]
    assert not AssignmentRule.objects.exists()
    client.logout()
    assert "login" in client.get(RULE_ADD)["Location"]


def test_a_reviewer_declares_a_conflict(client, reviewer, civilian):
    from service_requests.models import ConflictFlag

    client.force_login(reviewer)
    response = client.post(FLAG_ADD, {"person": str(civilian.pk), "reason": "my sister"})
    assert response.status_code == 302
    flag = ConflictFlag.objects.get()
    assert (flag.reviewer, flag.person) == (reviewer, civilian)
    assert flag.history.get().history_user == reviewer


def test_conflicts_are_refused_to_civilians_and_anonymous(client, civilian, other_civilian):
    from service_requests.models import ConflictFlag

    client.force_login(civilian)
    response = client.post(FLAG_ADD, {"person": str(other_civilian.pk), "reason": "x"})
    assert response.status_code == 302
    assert "login" in response["Location"]
    client.logout()
    assert "login" in client.get(FLAG_ADD)["Location"]
    assert not ConflictFlag.objects.exists()
