"""PostgreSQL: deciders racing on a case's last step produce exactly one outcome; drafts of
one policy code made at once are numbered one after another."""

from __future__ import annotations

from typing import Any

import pytest

from core.audit import system_user
from governance import services as governance
from governance.models import ApprovalCase, CaseStatus, Decision
from tests.governance.conftest import OUTCOMES, decide, delegate_to, make_policy, open_case, staff
from tests.integration.test_concurrency import _race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_parallel_deciders_on_the_last_step_make_one_outcome(require_postgres, bare_program):
    make_policy(bare_program, governance.StepSpec(name="First"), governance.StepSpec(name="Last"))
    case = open_case(bare_program, staff("maker"))
    decide(staff("first", program=bare_program), case)
    racers = [staff(f"racer{i}", program=bare_program) for i in range(3)]
    deputy = staff("deputy")
    delegate_to(staff("absent", program=bare_program), deputy, bare_program)
    racers.append(deputy)
    outcomes = ["approve", "reject", "approve", "return"]

    def attempt(person: Any, outcome: str) -> Any:
        return lambda: governance.case_decide(
            actor=person, case_id=case.pk, outcome=outcome, reason="racing"
        )

    results, errors = _race(*(attempt(p, o) for p, o in zip(racers, outcomes, strict=True)))
    assert len(results) == 1
    assert len(errors) == 3
    assert all(isinstance(e, governance.GovernanceError) for e in errors)
    assert all("already decided" in str(e) for e in errors)
    winner = Decision.objects.exclude(case_step__order=1).get(case=case)
    final = ApprovalCase.objects.get(pk=case.pk)
    expected = {
        "approve": CaseStatus.APPROVED,
        "reject": CaseStatus.REJECTED,
        "return": CaseStatus.RETURNED,
    }[winner.outcome]
    assert final.status == expected
    assert [o[1] for o in OUTCOMES] == [winner.outcome]


def test_drafts_of_one_code_made_at_once_take_successive_versions(require_postgres, bare_program):
    def draft(name: str) -> Any:
        return lambda: governance.policy_create(
            actor=system_user(),
            program=bare_program,
            code="parks",
            name=name,
            steps=[governance.StepSpec(name="Supervisor")],
        )

    results, errors = _race(draft("first"), draft("second"), draft("third"))
    assert errors == []
    assert sorted(p.version for p in results) == [1, 2, 3]  # type: ignore[attr-defined]
