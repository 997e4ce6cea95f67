"""What a decision announces: `CASE_DECIDED` when a case becomes approved or rejected (after the
case is saved, in the decision's transaction), nothing for a return or a recall; the final
outcome reaches the subject's one handler either way."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from core import events
from governance import services
from governance.models import ApprovalCase, CaseStatus
from tests.governance.conftest import OUTCOMES, decide, make_policy, open_case, staff

ANNOUNCED: list[tuple[int, str, str]] = []


def _listen(*, case: ApprovalCase, outcome: str) -> None:
    saved = ApprovalCase.objects.get(pk=case.pk)
    ANNOUNCED.append((case.pk, outcome, saved.status))


@pytest.fixture
def listening() -> Iterator[list[tuple[int, str, str]]]:
    ANNOUNCED.clear()
    events.subscribe(events.CASE_DECIDED, _listen)
    yield ANNOUNCED
    events.unsubscribe(events.CASE_DECIDED, _listen)


@pytest.fixture
def setup(bare_program: Any) -> dict[str, Any]:
    make_policy(bare_program, services.StepSpec(name="Supervisor"))
    return {"program": bare_program, "sup": staff("sup", program=bare_program)}


@pytest.mark.parametrize(
    ("outcome", "announced"),
    [("approve", "approved"), ("reject", "rejected"), ("return", None)],
)
def test_a_final_approval_or_rejection_is_announced_once_the_case_is_saved(
    setup: dict[str, Any], listening: list[Any], outcome: str, announced: str | None
) -> None:
    case = open_case(setup["program"], staff("maker"))
    decide(setup["sup"], case, outcome, reason="because")
    if announced is None:
        assert listening == []
    else:
        assert listening == [(case.pk, announced, announced)]
    assert [(case.pk, outcome, "sup")] == OUTCOMES


def test_a_recall_is_not_announced_as_decided(setup: dict[str, Any], listening: list[Any]) -> None:
    maker = staff("maker")
    case = open_case(setup["program"], maker)
    services.case_recall(actor=maker, case_id=case.pk)
    assert ApprovalCase.objects.get(pk=case.pk).status == CaseStatus.RECALLED
    assert listening == []
    assert [(case.pk, "recall", "maker")] == OUTCOMES
