"""The case's Mermaid source: one node per step in order, the current step highlighted, decided
steps marked done, skipped steps dashed, the outcome at the end, labels safely quoted."""

from __future__ import annotations

from typing import Any

import pytest

from governance import services as governance
from governance.diagram import case_flowchart
from governance.models import ApprovalCase
from tests.governance.conftest import decide, make_policy, open_case, staff

Step = governance.StepSpec


def _chart(case: ApprovalCase) -> list[str]:
    case = ApprovalCase.objects.get(pk=case.pk)
    steps = list(case.steps.select_related("step__group").order_by("order"))
    return case_flowchart(case, steps).splitlines()


@pytest.fixture
def three_steps(bare_program: Any) -> dict[str, Any]:
    make_policy(
        bare_program,
        Step(name="Intake"),
        Step(name='Finance "A" team', sla_hours=24),
        Step(name="Board", threshold_minor=1_000_000),
    )
    return {
        "program": bare_program,
        "first": staff("first", program=bare_program),
        "second": staff("second", program=bare_program),
        "maker": staff("maker"),
    }


def test_open_case_highlights_the_current_step_and_marks_the_rest(three_steps):
    case = open_case(three_steps["program"], three_steps["maker"], amount_minor=10_000)
    decide(three_steps["first"], case)
    lines = _chart(case)
    assert lines[0] == "flowchart LR"
    assert '  s1["1. Intake<br/>One approver · the program\'s deciders"]' in lines
    assert (
        '  s2["2. Finance #quot;A#quot; team<br/>One approver · the program\'s deciders · 24 h"]'
        in lines
    )
    assert '  s3["3. Board<br/>One approver · the program\'s deciders · above $10,000.00"]' in lines
    assert lines.index("  start --> s1") < lines.index("  s1 --> s2") < lines.index("  s2 -.-> s3")
    assert "  s3 --> finish" in lines
    assert [line for line in lines if line.startswith("  class ")] == [
        "  class s1 done",
        "  class s2 current",
        "  class s3 skipped",
    ]
    for name in ("current", "done", "skipped", "pending", "ended"):
        assert any(line.startswith(f"  classDef {name} ") for line in lines), name
    assert '  finish(["Approved"])' in lines


def test_decided_case_marks_its_outcome(three_steps):
    approved = open_case(three_steps["program"], three_steps["maker"], amount_minor=10_000)
    decide(three_steps["first"], approved)
    decide(three_steps["second"], approved)
    lines = _chart(approved)
    assert "  class s1 done" in lines
    assert "  class s2 done" in lines
    assert "  class finish done" in lines

    rejected = open_case(three_steps["program"], three_steps["maker"], amount_minor=10_000)
    decide(three_steps["first"], rejected, outcome="reject", reason="Not eligible.")
    lines = _chart(rejected)
    assert '  finish(["Rejected"])' in lines
    assert "  class finish ended" in lines
    assert "  class s1 ended" in lines
    assert not any("current" in line for line in lines if line.startswith("  class "))


def test_pending_steps_are_plain_until_they_open(three_steps):
    case = open_case(three_steps["program"], three_steps["maker"], amount_minor=2_000_000)
    lines = _chart(case)
    assert [line for line in lines if line.startswith("  class ")] == [
        "  class s1 current",
        "  class s2 pending",
        "  class s3 pending",
    ]
    assert "  s2 --> s3" in lines


def test_markup_and_entity_codes_in_a_name_stay_text(bare_program):
    make_policy(bare_program, Step(name="Check <b>#quot; & co</b>"))
    case = open_case(bare_program, staff("maker"), amount_minor=100)
    lines = _chart(case)
    assert (
        '  s1["1. Check #lt;b#gt;#35;quot; & co#lt;/b#gt;<br/>One approver · '
        "the program's deciders\"]"
    ) in lines
