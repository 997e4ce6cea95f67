"""Fair assignment on arrival: the rules, eligibility, affinity, the unassigned queue, the loads,
absences, caps and reassignment."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone
from guardian.shortcuts import assign_perm, remove_perm

from core import roles
from core.audit import system_user
from governance import services as governance
from service_requests import services
from service_requests.models import (
    Absence,
    AssignmentMethod,
    AssignmentRule,
    ConflictFlag,
    EventKind,
    ReviewerProfile,
    ServiceRequest,
)
from service_requests.services.assignment import Candidate, choose
from tests.builders import submitted
from tests.conftest import _person

pytestmark = pytest.mark.django_db


def staff_reviewer(name: str, program: Any, **profile: Any) -> Any:
    user = _person(name, roles.REVIEWER, staff=True)
    assign_perm("governance.review_program", user, program)
    if profile:
        ReviewerProfile.objects.update_or_create(user=user, defaults=profile)
    return user


def rule(service_type: Any, method: str = AssignmentMethod.LEAST_LOADED, **fields: Any) -> Any:
    return AssignmentRule.objects.create(service_type=service_type, method=method, **fields)


def load_of(user: Any) -> tuple[int, int]:
    profile = ReviewerProfile.objects.filter(user=user).first()
    return (profile.open_cases, profile.open_effort) if profile else (0, 0)


def assignee_of(request: ServiceRequest) -> int | None:
    return ServiceRequest.objects.values_list("assignee_id", flat=True).get(pk=request.pk)


# -- the pure choice ----------------------------------------------------------------------------


def _cand(pk: int, cases: int, effort: int, cap: int = 40, langs: str = "en") -> Candidate:
    return Candidate(pk, f"r{pk}", cap, cases, effort, langs)


def test_least_loaded_names_the_loads_it_compared(inspection):
    request = ServiceRequest(service_type=inspection, language="en")
    found = [_cand(1, 5, 9), _cand(2, 4, 7), _cand(3, 6, 11)]
    choice = choose(request, AssignmentRule(method="least_loaded"), found)
    assert choice.user_id == 2
    assert choice.reason == "least loaded: 7 open vs 9, 11"


def test_least_loaded_skips_those_at_their_cap(inspection):
    request = ServiceRequest(service_type=inspection, language="en")
    found = [_cand(1, 3, 3, cap=3), _cand(2, 4, 8)]
    assert choose(request, AssignmentRule(method="least_loaded"), found).user_id == 2


def test_round_robin_takes_the_next_in_turn_and_wraps(inspection):
    request = ServiceRequest(service_type=inspection, language="en")
    found = [_cand(1, 0, 0), _cand(4, 9, 9), _cand(7, 1, 1)]
    assert choose(request, AssignmentRule(method="round_robin"), found).user_id == 1
    assert (
        choose(request, AssignmentRule(method="round_robin", last_assignee_id=1), found).user_id
        == 4
    )
    assert (
        choose(request, AssignmentRule(method="round_robin", last_assignee_id=7), found).user_id
        == 1
    )


def test_language_is_required_only_when_the_rule_says_so(inspection):
    request = ServiceRequest(service_type=inspection, language="es")
    found = [_cand(1, 0, 0, langs="en"), _cand(2, 5, 5, langs="en,es")]
    assert choose(request, AssignmentRule(require_language=True), found).user_id == 2
    assert choose(request, AssignmentRule(require_language=False), found).user_id == 1


def test_nobody_under_cap_says_why(inspection):
    request = ServiceRequest(service_type=inspection, language="en")
    choice = choose(request, AssignmentRule(), [_cand(1, 2, 2, cap=2)])
    assert choice.user_id is None
    assert choice.reason == "nobody eligible: 1 reviewer(s) available, 1 at their cap"


# -- on arrival ---------------------------------------------------------------------------------


def test_a_manual_service_is_left_unassigned(civilian, inspection, reviewer):
    request = submitted(civilian, inspection)
    assert assignee_of(request) is None
    assert not request.events.filter(kind=EventKind.UNASSIGNED).exists()


def test_least_loaded_assigns_on_arrival_and_records_the_rule(civilian, housing, inspection):
    rita = staff_reviewer("rita", housing)
    tom = staff_reviewer("tom", housing)
    rule(inspection, effort=3)
    first = submitted(civilian, inspection)
    second = submitted(civilian, inspection)
    assert {assignee_of(first), assignee_of(second)} == {rita.pk, tom.pk}
    assert load_of(rita) == (1, 3)
    assert load_of(tom) == (1, 3)
    latest = ServiceRequest.history.filter(id=second.pk).first()
    assert latest.history_change_reason == "assigned by least loaded: 0 open vs 3"
    assert latest.history_user == system_user()
    event = second.events.get(kind=EventKind.ASSIGNED)
    assert event.public is False
    assert "least loaded" in event.message


def test_round_robin_takes_turns(civilian, housing, inspection):
    people = [staff_reviewer(n, housing) for n in ("ann", "ben", "cat")]
    rule(inspection, AssignmentMethod.ROUND_ROBIN)
    chosen = [assignee_of(submitted(civilian, inspection)) for _ in range(4)]
    ids = sorted(p.pk for p in people)
    assert chosen == [*ids, ids[0]]


def test_the_filer_the_flagged_and_the_absent_are_never_chosen(
    civilian, other_civilian, housing, inspection
):
    flagged = staff_reviewer("fred", housing)
    away = staff_reviewer("amy", housing)
    free = staff_reviewer("zed", housing, open_cases=10, open_effort=10)
    ConflictFlag.objects.create(reviewer=flagged, person=civilian, reason="my cousin")
    today = timezone.localdate()
    Absence.objects.create(user=away, starts_on=today, ends_on=today, entered_by=away)
    rule(inspection)
    assert assignee_of(submitted(civilian, inspection)) == free.pk
    # Staff who file for themselves are never their own reviewer.
    assign_perm("governance.review_program", other_civilian, housing)
    other_civilian.is_staff = True
    other_civilian.save()
    assert assignee_of(submitted(other_civilian, inspection)) != other_civilian.pk


def test_someone_without_the_review_permission_is_never_chosen(
    civilian, housing, business, inspection
):
    staff_reviewer("outsider", business)
    rule(inspection)
    request = submitted(civilian, inspection)
    assert assignee_of(request) is None


def test_nobody_eligible_queues_it_and_tells_the_supervisors_on_commit(
    civilian, housing, inspection, supervisor, django_capture_on_commit_callbacks
):
    staff_reviewer("full", housing, cap=1, open_cases=1, open_effort=1)
    remove_perm("governance.review_program", supervisor, housing)
    rule(inspection)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        request = submitted(civilian, inspection)
    assert mail.outbox == []  # nothing inside the transaction
    for callback in callbacks:
        callback()
    assert assignee_of(request) is None
    event = request.events.get(kind=EventKind.UNASSIGNED)
    assert event.message == "nobody eligible: 1 reviewer(s) available, 1 at their cap"
    told = [m for m in mail.outbox if "waits for a reviewer" in m.subject]
    assert [m.to for m in told] == [[supervisor.email]]


def test_a_returned_request_goes_back_to_whoever_had_it(civilian, housing, inspection, supervisor):
    remove_perm("governance.review_program", supervisor, housing)
    rita = staff_reviewer("rita", housing)
    rule(inspection)
    request = submitted(civilian, inspection)
    assert assignee_of(request) == rita.pk
    services.request_start_review(actor=rita, request_id=request.pk)
    services.request_recommend(actor=rita, request_id=request.pk, note="Eligible.")
    assert load_of(rita) == (0, 0)
    staff_reviewer("idle", housing)  # now less loaded than rita would be
    case = ServiceRequest.objects.get(pk=request.pk).approval_case
    governance.case_decide(
        actor=supervisor, case_id=case.pk, outcome="return", reason="Ask for the lease."
    )
    assert assignee_of(request) == rita.pk
    assert load_of(rita) == (1, 1)


def test_loads_follow_every_change(civilian, housing, inspection, rent_help):
    rita = staff_reviewer("rita", housing)
    rule(inspection, effort=2)
    request = submitted(civilian, inspection)
    assert load_of(rita) == (1, 2)
    services.request_start_review(actor=rita, request_id=request.pk)
    services.request_withdraw(actor=civilian, request_id=request.pk)
    assert load_of(rita) == (0, 0)
    manual = submitted(civilian, rent_help, amount_minor=1000)
    services.request_assign(actor=rita, request_id=manual.pk, assignee=rita)
    assert load_of(rita) == (1, 1)
    assert services.loads_recount() == 0  # the kept loads equal a fresh count


# -- absences -----------------------------------------------------------------------------------


def test_an_absence_from_today_hands_the_open_requests_back(civilian, housing, inspection):
    rita = staff_reviewer("rita", housing)
    rule(inspection)
    request = submitted(civilian, inspection)
    assert assignee_of(request) == rita.pk
    tom = staff_reviewer("tom", housing)
    today = timezone.localdate()
    services.absence_add(actor=rita, user=rita, starts_on=today, ends_on=today + timedelta(days=3))
    assert assignee_of(request) == tom.pk
    assert load_of(rita) == (0, 0)
    reasons = list(
        ServiceRequest.history.filter(id=request.pk).values_list("history_change_reason", flat=True)
    )
    assert any(r.startswith("handed back: rita away") for r in reasons)
    assert Absence.history.filter(user=rita, history_user=rita).count() == 1


def test_a_future_absence_hands_back_on_its_first_day(civilian, housing, inspection):
    rita = staff_reviewer("rita", housing)
    rule(inspection)
    request = submitted(civilian, inspection)
    start = timezone.localdate() + timedelta(days=2)
    services.absence_add(actor=rita, user=rita, starts_on=start, ends_on=start)
    assert assignee_of(request) == rita.pk
    services.absences_begin(actor=system_user(), today=start)
    assert assignee_of(request) is None


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [(5, 4, "ends_on"), (1, 3, "starts_on"), (3, 9, "starts_on")],
)
def test_bad_absences_are_refused_by_field_and_change_nothing(housing, start, end, field):
    rita = staff_reviewer("rita", housing)
    today = timezone.localdate()
    services.absence_add(
        actor=rita,
        user=rita,
        starts_on=today + timedelta(days=2),
        ends_on=today + timedelta(days=4),
    )
    with pytest.raises(services.RequestError) as refused:
        services.absence_add(
            actor=rita,
            user=rita,
            starts_on=today + timedelta(days=start),
            ends_on=today + timedelta(days=end),
        )
    assert field in refused.value.message_dict
    assert Absence.objects.filter(user=rita).count() == 1


def test_only_the_person_or_their_supervisor_enters_an_absence(housing, supervisor):
    rita = staff_reviewer("rita", housing)
    tom = staff_reviewer("tom", housing)
    today = timezone.localdate()
    with pytest.raises(services.RequestError) as refused:
        services.absence_add(actor=tom, user=rita, starts_on=today, ends_on=today)
    assert "user" in refused.value.message_dict
    ReviewerProfile.objects.update_or_create(user=rita, defaults={"supervisor": supervisor})
    services.absence_add(actor=supervisor, user=rita, starts_on=today, ends_on=today)
    assert Absence.objects.filter(user=rita, entered_by=supervisor).count() == 1


# -- caps and reassignment ----------------------------------------------------------------------


def test_a_cap_below_the_current_load_is_refused(housing, supervisor):
    rita = staff_reviewer("rita", housing, open_cases=5, open_effort=5, supervisor=supervisor)
    with pytest.raises(services.RequestError) as refused:
        services.reviewer_profile_save(
            actor=supervisor, user=rita, cap=4, languages="en", supervisor=supervisor
        )
    assert refused.value.message_dict["cap"] == [
        "They carry 5 open requests now: set a cap of at least 5."
    ]
    assert ReviewerProfile.objects.get(user=rita).cap == 40
    services.reviewer_profile_save(
        actor=supervisor, user=rita, cap=5, languages="en, es", supervisor=supervisor
    )
    profile = ReviewerProfile.objects.get(user=rita)
    assert (profile.cap, profile.languages) == (5, "en,es")
    assert profile.history.first().history_user == supervisor


def test_a_supervisor_reassigns_and_it_is_recorded(civilian, housing, inspection, supervisor):
    rita = staff_reviewer("rita", housing)
    tom = staff_reviewer("tom", housing)
    request = submitted(civilian, inspection)
    services.request_assign(actor=rita, request_id=request.pk, assignee=rita)
    services.request_reassign(
        actor=supervisor, request_id=request.pk, assignee=tom, reason="balance"
    )
    assert assignee_of(request) == tom.pk
    assert (load_of(rita), load_of(tom)) == ((0, 0), (1, 1))
    row = ServiceRequest.history.filter(id=request.pk).first()
    assert row.history_user == supervisor
    assert row.history_change_reason == "reassigned to tom by sam: balance"


def test_reassignment_to_someone_without_the_permission_is_refused(
    civilian, housing, business, inspection, supervisor
):
    rita = staff_reviewer("rita", housing)
    oscar = staff_reviewer("oscar", business)
    request = submitted(civilian, inspection)
    services.request_assign(actor=rita, request_id=request.pk, assignee=rita)
    with pytest.raises(services.RequestError) as refused:
        services.request_reassign(actor=supervisor, request_id=request.pk, assignee=oscar)
    assert "assignee" in refused.value.message_dict
    assert assignee_of(request) == rita.pk
    assert load_of(rita) == (1, 1)


def test_a_reviewer_may_not_reassign(civilian, housing, inspection):
    rita = staff_reviewer("rita", housing)
    tom = staff_reviewer("tom", housing)
    request = submitted(civilian, inspection)
    with pytest.raises(services.RequestError):
        services.request_reassign(actor=rita, request_id=request.pk, assignee=tom)
    assert assignee_of(request) is None


def test_a_conflict_declared_hands_back_that_persons_requests(civilian, housing, inspection):
    rita = staff_reviewer("rita", housing)
    rule(inspection)
    request = submitted(civilian, inspection)
    tom = staff_reviewer("tom", housing)
    services.conflict_flag(actor=rita, person=civilian, reason="my landlord")
    assert assignee_of(request) == tom.pk
    assert ConflictFlag.history.get().history_user == rita


def test_the_candidates_query_equals_its_orm_reference(civilian, housing, business, inspection):
    from django.contrib.auth.models import Group

    from service_requests.services.assignment import candidates, candidates_reference

    staff_reviewer("direct", housing, cap=3, open_cases=2, open_effort=5, languages="en,es")
    by_group = _person("grouped", roles.REVIEWER, staff=True)
    team = Group.objects.create(name="housing-team")
    assign_perm("governance.review_program", team, housing)
    by_group.groups.add(team)
    staff_reviewer("elsewhere", business)
    away = staff_reviewer("away", housing)
    today = timezone.localdate()
    Absence.objects.create(user=away, starts_on=today, ends_on=today, entered_by=away)
    ended = staff_reviewer("back", housing)
    Absence.objects.create(
        user=ended, starts_on=today - timedelta(5), ends_on=today - timedelta(1), entered_by=ended
    )
    flagged = staff_reviewer("flagged", housing)
    ConflictFlag.objects.create(reviewer=flagged, person=civilian, reason="neighbour")
    gone = staff_reviewer("gone", housing)
    gone.is_active = False
    gone.save()
    request = submitted(civilian, inspection)
    found = candidates(request)
    assert found == candidates_reference(request)
    assert [c.username for c in found] == ["direct", "grouped", "back"]
    assert found[0] == Candidate(found[0].user_id, "direct", 3, 2, 5, "en,es")


def test_workload_per_program_by_hand(civilian, housing, inspection, rent_help, supervisor):
    from service_requests.workload import workload_by_program

    remove_perm("governance.review_program", supervisor, housing)
    rita = staff_reviewer("rita", housing)
    tom = staff_reviewer("tom", housing)
    staff_reviewer("ann", housing)  # carries nothing
    rule(inspection, AssignmentMethod.MANUAL, effort=3)
    for assignee, service, amount in (
        (rita, inspection, None),
        (rita, rent_help, 1000),
        (tom, rent_help, 1000),
    ):
        request = submitted(civilian, service, amount_minor=amount)
        services.request_assign(actor=assignee, request_id=request.pk, assignee=assignee)
    [housing_load] = [w for w in workload_by_program() if w.program == housing]
    # rita 3 + 1 = 4, tom 1, ann 0: Jain = 25 / (3 * 17); Gini = (2*(1*0+2*1+3*4))/(3*5) - 4/3
    assert sorted(housing_load.loads.values()) == [0, 1, 4]
    assert housing_load.jain == pytest.approx(25 / 51)
    assert housing_load.gini == pytest.approx(28 / 15 - 4 / 3)


def test_a_filing_reads_no_rule_for_a_service_assigned_by_hand_and_sees_a_new_rule_at_once(
    client, civilian, housing, inspection
):
    """The service's filing copy says whether a rule assigns it: a filing for a service assigned
    by hand reads no rule, and a rule added later drops that copy, so the next filing is
    assigned by it."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.builders import filing_form

    rita = staff_reviewer("rita", housing)
    client.force_login(civilian)
    assert client.post("/requests/new/", filing_form(inspection)).status_code == 302
    with CaptureQueriesContext(connection) as captured:
        assert client.post("/requests/new/", filing_form(inspection)).status_code == 302
    rule_reads = [
        q
        for q in captured.captured_queries
        if q["sql"].startswith('SELECT "service_requests_assignmentrule"')
    ]
    assert rule_reads == []
    assert list(ServiceRequest.objects.values_list("assignee_id", flat=True)) == [None, None]
    rule(inspection)
    assert client.post("/requests/new/", filing_form(inspection)).status_code == 302
    assert (
        ServiceRequest.objects.order_by("-pk").values_list("assignee_id", flat=True)[0] == rita.pk
    )
