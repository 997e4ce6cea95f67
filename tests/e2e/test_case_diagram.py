"""The case page draws the policy's steps as a Mermaid diagram in the browser, from the
vendored script alone (no other host is asked for anything), with the current step
highlighted and the decided and skipped ones marked; without JavaScript the source stays."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from guardian.shortcuts import assign_perm
from playwright.sync_api import Page, Route, expect

from governance import services as governance
from governance.models import ApprovalCase, CaseStepStatus
from tests.factories import ProgramFactory
from tests.governance.conftest import decide, make_policy, open_case, staff

pytestmark = pytest.mark.e2e

Step = governance.StepSpec
SignIn = Callable[[Page, Any], None]


@pytest.fixture
def case_at_step_two(supervisor: Any) -> ApprovalCase:
    """A case whose first step is approved, second open (the supervisor may decide it),
    third pending and fourth skipped (its threshold is above the amount)."""
    parks = ProgramFactory(code="parks", name="Parks")
    make_policy(
        parks,
        Step(name="Intake check"),
        Step(name="Finance sign-off", sla_hours=48),
        Step(name="Director"),
        Step(name="Board", threshold_minor=5_000_000),
    )
    first = staff("first-decider", program=parks)
    assign_perm("governance.decide_program", supervisor, parks)
    case = open_case(parks, staff("case-maker"), amount_minor=10_000)
    decide(first, case, reason="Papers complete.")
    statuses = list(case.steps.order_by("order").values_list("status", flat=True))
    assert statuses == [
        CaseStepStatus.APPROVED,
        CaseStepStatus.OPEN,
        CaseStepStatus.PENDING,
        CaseStepStatus.SKIPPED,
    ]
    return case


@pytest.fixture
def foreign_requests(page: Page, live_server: Any) -> list[str]:
    """Every request the page makes to another host, refused and listed."""
    refused: list[str] = []

    def _route(route: Route) -> None:
        if route.request.url.startswith(live_server.url):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    page.route("**/*", _route)
    return refused


def test_case_page_draws_the_steps_with_the_current_one_highlighted(
    page: Page,
    sign_in: SignIn,
    check_accessible: Callable[[Page, str], None],
    shoot: Callable[[Page, str], Path],
    supervisor: Any,
    case_at_step_two: ApprovalCase,
    foreign_requests: list[str],
) -> None:
    sign_in(page, supervisor)
    page.goto(f"/workflow/cases/{case_at_step_two.pk}/")
    chart = page.locator("#case-flowchart")
    svg = chart.locator("svg")
    expect(svg).to_have_count(1)
    expect(chart).to_have_class("mermaid gov-drawn")
    for label in ("1. Intake check", "2. Finance sign-off", "3. Director", "4. Board"):
        expect(svg.locator("g.node").filter(has_text=label)).to_have_count(1)
    expect(svg.locator("g.node.current")).to_have_count(1)
    expect(svg.locator("g.node.current")).to_contain_text("2. Finance sign-off")
    expect(svg.locator("g.node.done")).to_contain_text("1. Intake check")
    expect(svg.locator("g.node.pending")).to_contain_text("3. Director")
    expect(svg.locator("g.node.skipped")).to_contain_text("4. Board")
    # The highlight is drawn, not only named: the current step's shape has the amber fill.
    fill = (
        svg.locator("g.node.current")
        .locator("rect, path, polygon")
        .first.evaluate("e => getComputedStyle(e).fill")
    )
    assert fill == "rgb(255, 190, 46)", fill
    # The source text is gone from view once the diagram is drawn.
    expect(chart).not_to_contain_text("flowchart LR")
    assert foreign_requests == []
    shoot(page, "workflow-case-diagram")
    check_accessible(page, "case page with its steps diagram")


def test_case_page_without_javascript_keeps_the_diagram_source(
    page_without_js: Page, sign_in: SignIn, supervisor: Any, case_at_step_two: ApprovalCase
) -> None:
    sign_in(page_without_js, supervisor)
    page_without_js.goto(f"/workflow/cases/{case_at_step_two.pk}/")
    chart = page_without_js.locator("#case-flowchart")
    expect(chart.locator("svg")).to_have_count(0)
    expect(chart).to_contain_text("flowchart LR")
    expect(chart).to_contain_text("class s2 current")
    expect(chart).to_contain_text("class s1 done")
    expect(page_without_js.locator("#case-steps li[aria-current=step]")).to_contain_text(
        "Finance sign-off"
    )


def test_markup_in_a_step_name_is_drawn_as_text_never_run(
    page: Page, sign_in: SignIn, supervisor: Any
) -> None:
    roads = ProgramFactory(code="roads", name="Roads")
    make_policy(roads, Step(name="Check <img src=x onerror=window.__injected=1>"))
    assign_perm("governance.decide_program", supervisor, roads)
    case = open_case(roads, staff("case-maker"), amount_minor=10_000)
    sign_in(page, supervisor)
    page.goto(f"/workflow/cases/{case.pk}/")
    svg = page.locator("#case-flowchart svg")
    expect(svg.locator("g.node.current")).to_contain_text("1. Check")
    expect(svg.locator("img")).to_have_count(0)
    expect(svg.locator("g.node.current")).to_contain_text("<img src=x onerror=window.__injected=1>")
    assert page.evaluate("window.__injected") is None
