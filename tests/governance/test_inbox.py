"""The workflow inbox (own and delegated cases, overdue first, filters, fixed queries) and the
case page (steps diagram, timeline, decision under delegation)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from governance import services as governance
from governance.models import ApprovalCase, CaseStep
from tests.factories import ProgramFactory
from tests.governance.conftest import decide, delegate_to, make_policy, open_case, staff

Step = governance.StepSpec


@pytest.fixture
def setup(bare_program: Any) -> dict[str, Any]:
    make_policy(bare_program, Step(name="Supervisor", sla_hours=48), Step(name="Second"))
    other = ProgramFactory(code="roads", name="Roads")
    make_policy(other, Step(name="Roads supervisor"))
    me = staff("me", program=bare_program)
    boss = staff("roads-boss", program=other)
    delegate_to(boss, me, other, ceiling_minor=50_000)
    return {"parks": bare_program, "roads": other, "me": me, "boss": boss, "maker": staff("mk")}


def _inbox(client: Any, **params: Any) -> str:
    response = client.get("/workflow/", params)
    assert response.status_code == 200
    return response.content.decode()


def test_inbox_lists_own_and_delegated_cases_and_leaves_out_the_rest(client, setup):
    parks, roads, me, boss, maker = (setup[k] for k in ("parks", "roads", "me", "boss", "maker"))
    own = open_case(parks, maker, amount_minor=1_000)
    delegated = open_case(roads, maker, amount_minor=40_000)
    too_big = open_case(roads, maker, amount_minor=60_000)
    of_the_boss = open_case(roads, boss, amount_minor=1_000)
    mine = open_case(parks, me)
    client.force_login(me)
    page = _inbox(client)
    for case in (own, delegated):
        assert f"/workflow/cases/{case.pk}/" in page
    for case in (too_big, of_the_boss, mine):
        assert f"/workflow/cases/{case.pk}/" not in page
    assert "For Roads-Boss" in page or f"For {boss.get_full_name()}" in page
    assert "<title>Approval inbox (2 cases)" in page


def test_inbox_puts_overdue_cases_first_and_filters(client, setup):
    parks, me, maker = setup["parks"], setup["me"], setup["maker"]
    cases = [open_case(parks, maker, amount_minor=a) for a in (1_000, 2_000, 3_000)]
    late = cases[2]
    CaseStep.objects.filter(pk=late.current_step_id).update(
        due_at=timezone.now() - timedelta(hours=1)
    )
    ApprovalCase.objects.filter(pk=late.pk).update(due_at=timezone.now() - timedelta(hours=1))
    client.force_login(me)
    page = _inbox(client)
    positions = [page.index(f"/workflow/cases/{c.pk}/") for c in cases]
    assert positions[2] < positions[0] < positions[1]
    assert "Overdue:" in page
    by_amount = _inbox(client, amount_min="15", amount_max="25.00")
    assert f"/workflow/cases/{cases[1].pk}/" in by_amount
    assert f"/workflow/cases/{cases[0].pk}/" not in by_amount
    assert f"/workflow/cases/{cases[1].pk}/" not in _inbox(client, program=setup["roads"].pk)
    assert f"/workflow/cases/{cases[1].pk}/" not in _inbox(client, step=2)
    newest_due_first = _inbox(client, sort="-due")
    assert newest_due_first.index(f"/workflow/cases/{cases[2].pk}/") > newest_due_first.index(
        f"/workflow/cases/{cases[1].pk}/"
    )


def test_inbox_runs_the_same_queries_for_few_or_many_cases(client, setup):
    parks, roads, me, maker = setup["parks"], setup["roads"], setup["me"], setup["maker"]
    client.force_login(me)
    client.get("/workflow/")  # warm the session

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            client.get("/workflow/")
        return len(queries)

    open_case(parks, maker)
    open_case(roads, maker, amount_minor=100)
    few = count()
    for _ in range(12):
        open_case(parks, maker)
        open_case(roads, maker, amount_minor=100)
    assert count() == few
    assert few <= 12


def test_case_page_shows_the_steps_diagram_with_the_current_step(client, setup):
    parks, me, maker = setup["parks"], setup["me"], setup["maker"]
    case = open_case(parks, maker)
    client.force_login(me)
    page = client.get(f"/workflow/cases/{case.pk}/").content.decode()
    assert '<pre class="mermaid" id="case-flowchart"' in page
    assert "flowchart LR" in page
    assert "class s1 current" in page
    assert "class s2 pending" in page
    assert 'aria-current="step"' in page


def test_a_decision_under_delegation_is_named_on_the_page(client, setup):
    roads, me, boss, maker = setup["roads"], setup["me"], setup["boss"], setup["maker"]
    case = open_case(roads, maker, amount_minor=10_000)
    client.force_login(me)
    page = client.get(f"/workflow/cases/{case.pk}/").content.decode()
    assert "You decide on behalf of" in page
    response = client.post(f"/workflow/cases/{case.pk}/", {"outcome": "approve", "reason": "ok"})
    assert response.status_code == 302
    client.force_login(boss)
    page = client.get(f"/workflow/cases/{case.pk}/").content.decode()
    assert f"{me.get_full_name()} on behalf of {boss.get_full_name()}" in page


def test_a_second_decider_on_a_stale_page_is_told_and_nothing_changes(client, setup):
    parks, me, maker = setup["parks"], setup["me"], setup["maker"]
    make_policy  # noqa: B018 (the fixture's policy has two steps)
    case = open_case(parks, maker)
    other = staff("other-sup", program=parks)
    decide(other, case)
    decide(staff("third-sup", program=parks), case)
    client.force_login(me)
    response = client.post(f"/workflow/cases/{case.pk}/", {"outcome": "approve", "reason": "ok"})
    assert response.status_code == 400
    assert "already decided" in response.content.decode()


def test_the_maker_may_recall_from_the_case_page(client, setup):
    parks, maker = setup["parks"], setup["maker"]
    case = open_case(parks, maker)
    client.force_login(maker)
    page = client.get(f"/workflow/cases/{case.pk}/").content.decode()
    assert "Recall this case" in page
    response = client.post(f"/workflow/cases/{case.pk}/recall/", {"reason": "Duplicate"})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.status == "recalled"


def test_the_authority_report_is_for_auditors(client, setup, auditor):
    client.force_login(setup["me"])
    assert client.get("/workflow/oversight/authority/").status_code == 403
    client.force_login(auditor)
    page = client.get("/workflow/oversight/authority/").content.decode()
    assert "delegation #" in page
    assert "Roads" in page
    before = (timezone.now() - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M")
    past = client.get("/workflow/oversight/authority/", {"moment": before}).content.decode()
    assert "delegation #" not in past
