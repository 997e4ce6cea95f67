"""Each figure against numbers worked out by hand from one small, fixed week of requests.

The week: Monday 2 to Friday 6 March 2026 (EST, no holiday), the period asked is those five
days (`since` Monday 00:00, `until` Saturday 00:00). The service "quick" has a resolution
target of 2 working days (16 h), a first-response target of 8 h and a decision target of 16 h.

Timelines (New York time):
- R1: Mon 09:00 filed; 11:00 review started (rita); 13:00 information asked; Tue 13:00
  answered; 15:00 recommended; Wed 10:00 approved; 12:00 fulfilled; rated 4.
- R2: Mon 10:00 filed; Tue 10:00 review started (rita); 11:00 recommended; Thu 11:00 rejected.
- R3: Tue 09:00 filed; 09:30 review started (rita); open.
- R4: Wed 12:00 filed; 13:00 review started (rita); open.
- R5: Wed 14:00 filed; 15:00 withdrawn.
- R6: Fri 20 February 09:00 filed; 10:00 review started (sam); open.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from allocations import services as allocations
from governance import services as governance
from oversight.figures import outcomes
from oversight.models import ServiceLevelTarget
from service_requests import services
from tests.builders import submitted
from tests.factories import ServiceTypeFactory

from .conftest import ny, place

SINCE = ny(3, 2, 0)
UNTIL = ny(3, 7, 0)


@pytest.fixture
def quick(housing: Any) -> Any:
    service = ServiceTypeFactory(code="quick", name="Quick help", program=housing, target_days=2)
    ServiceLevelTarget.objects.create(
        service_type=service, first_response_hours=8, decision_hours=16
    )
    return service


@pytest.fixture
def week(quick: Any, civilian: Any, reviewer: Any, supervisor: Any) -> dict[str, Any]:
    r1 = submitted(civilian, quick)
    services.request_start_review(actor=reviewer, request_id=r1.pk)
    services.request_ask_info(actor=reviewer, request_id=r1.pk, message="Your lease, please.")
    services.request_provide_info(actor=civilian, request_id=r1.pk, message="Attached.")
    r1 = services.request_recommend(actor=reviewer, request_id=r1.pk, note="Meets the criteria.")
    governance.case_decide(
        actor=supervisor, case_id=r1.approval_case_id, outcome="approve", reason="Fine."
    )
    services.request_fulfil(actor=reviewer, request_id=r1.pk)
    services.request_rate(actor=civilian, request_id=r1.pk, score=4)
    place(
        r1,
        ny(3, 2, 9),
        ny(3, 2, 11),
        ny(3, 2, 13),
        ny(3, 3, 13),
        ny(3, 3, 15),
        ny(3, 4, 10),
        ny(3, 4, 12),
    )

    r2 = submitted(civilian, quick)
    services.request_start_review(actor=reviewer, request_id=r2.pk)
    r2 = services.request_recommend(actor=reviewer, request_id=r2.pk, note="Meets the criteria.")
    governance.case_decide(
        actor=supervisor, case_id=r2.approval_case_id, outcome="reject", reason="No."
    )
    place(r2, ny(3, 2, 10), ny(3, 3, 10), ny(3, 3, 11), ny(3, 5, 11))

    r3 = submitted(civilian, quick)
    services.request_start_review(actor=reviewer, request_id=r3.pk)
    place(r3, ny(3, 3, 9), ny(3, 3, 9, 30))

    r4 = submitted(civilian, quick)
    services.request_start_review(actor=reviewer, request_id=r4.pk)
    place(r4, ny(3, 4, 12), ny(3, 4, 13))

    r5 = submitted(civilian, quick)
    services.request_withdraw(actor=civilian, request_id=r5.pk)
    place(r5, ny(3, 4, 14), ny(3, 4, 15))

    r6 = submitted(civilian, quick)
    services.request_start_review(actor=supervisor, request_id=r6.pk)
    place(r6, ny(2, 20, 9), ny(2, 20, 10))
    return {"r1": r1, "r2": r2}


def test_the_weeks_figures(week: Any) -> None:
    figures = outcomes(since=SINCE, until=UNTIL).as_json()
    assert figures["received"] == 5  # R1-R5; R6 was filed before the period
    assert figures["closed"] == 3  # R1 fulfilled, R2 rejected, R5 withdrawn
    assert figures["backlog_open"] == 3  # R3, R4, R6
    # First responses in the period: R3 0.5 h, R4 1 h, R1 2 h, R2 8 h (Mon 10-17, Tue 9-10).
    # p50 between 1 and 2; p90 at rank 2.7: 2 + 0.7 x (8 - 2).
    assert figures["first_response_hours"] == {"p50": 1.5, "p90": 6.2}
    # Decisions: R1 Tue 15-17 + Wed 9-10 = 3 h; R2 Tue 11-17, Wed, Thu 9-11 = 16 h.
    assert figures["decision_hours"] == {"p50": 9.5, "p90": 14.7}
    # Resolutions in calendar days: R1 Mon 09:00 to Wed 12:00 = 51 h; R2 Mon 10:00 to Thu
    # 11:00 = 73 h. p50 = 62 h, p90 = 51 + 0.9 x 22 = 70.8 h.
    assert figures["resolution_days"] == {
        "p50": round(62 / 24, 4),
        "p90": round(70.8 / 24, 4),
    }
    # R1's clock: Mon 9-13, Tue 13-17, Wed 9-12 = 11 h (within 16); R2's 25 h (missed).
    assert figures["within_target_ratio"] == 0.5
    assert figures["csat"] == {"responses": 1, "mean": 4.0, "response_rate": 0.5}
    # Open at the end: R3 and R4 with rita, R6 with sam. Jain (3^2)/(2 x 5) = 0.9;
    # Gini |2 - 1| x 2 / (2 x 2^2 x 1.5) = 1/6.
    assert figures["workload"] == {
        "open_by_reviewer": {"rita": 2, "sam": 1},
        "jain": 0.9,
        "gini": round(1 / 6, 4),
    }


def test_backlog_by_age_and_working_hours(week: Any) -> None:
    figures = outcomes(since=SINCE, until=UNTIL)
    # At Saturday 00:00: R3 is 3 days old, R4 2, R6 14.
    assert figures.backlog_by_age == {"0-7": 2, "8-30": 1, "31-90": 0, "over-90": 0}
    assert figures.resolution.working_hours.p50 == 18.0  # (11 + 25) / 2
    assert figures.within_target == 1
    assert figures.resolved == 2


def test_a_period_that_ends_earlier_does_not_see_what_came_after(week: Any) -> None:
    # Until Tuesday 00:00: only Monday's filings; nothing closed yet; both open.
    figures = outcomes(since=SINCE, until=ny(3, 3, 0)).as_json()
    assert figures["received"] == 2
    assert figures["closed"] == 0
    assert figures["backlog_open"] == 3  # R1, R2 and R6
    assert figures["first_response_hours"] == {"p50": 2.0, "p90": 2.0}
    assert figures["decision_hours"] == {"p50": None, "p90": None}


def test_a_program_is_its_own_scope(week: Any, business: Any, housing: Any) -> None:
    assert outcomes(since=SINCE, until=UNTIL, program_ids=[housing.pk]).received == 5
    empty = outcomes(since=SINCE, until=UNTIL, program_ids=[business.pk]).as_json()
    assert empty["received"] == 0
    assert empty["funds"] == []


def test_an_empty_period_gives_null_never_a_division_by_zero(db: Any) -> None:
    figures = outcomes(since=SINCE, until=UNTIL).as_json()
    assert figures == {
        "received": 0,
        "closed": 0,
        "backlog_open": 0,
        "first_response_hours": {"p50": None, "p90": None},
        "decision_hours": {"p50": None, "p90": None},
        "resolution_days": {"p50": None, "p90": None},
        "within_target_ratio": None,
        "csat": {"responses": 0, "mean": None, "response_rate": None},
        "funds": [],
        "workload": {"open_by_reviewer": {}, "jain": None, "gini": None},
    }


def test_a_holiday_added_afterwards_changes_the_figures(week: Any, actor: Any) -> None:
    from oversight import services as oversight
    from oversight.models import Holiday

    before = outcomes(since=SINCE, until=UNTIL)
    assert before.as_json()["decision_hours"] == {"p50": 9.5, "p90": 14.7}
    # Wednesday 4 March declared a holiday: R1's decision is Tue 15-17 = 2 h, R2's Tue 11-17
    # and Thu 9-11 = 8 h. p50 5, p90 2 + 0.9 x 6 = 7.4.
    oversight.holiday_save(actor=actor, holiday=Holiday(date=ny(3, 4, 0).date(), name="Storm"))
    after = outcomes(since=SINCE, until=UNTIL).as_json()
    assert after["decision_hours"] == {"p50": 5.0, "p90": 7.4}


def test_funds_read_the_ledgers_balances(rent_help: Any, rent_fund: Any, actor: Any) -> None:
    from ledger import selectors as ledger
    from ledger import services as ledger_services
    from ledger.models import OwnerKind

    payee = ledger_services.payee_account_for(
        actor=actor, owner_kind=OwnerKind.CIVILIAN, owner_ref="7", name="Payee", currency="USD"
    )
    first = allocations.claim_submit(
        actor=actor,
        fund=rent_fund,
        reference="HMS-2026-000001",
        amount_minor=120_000,
        currency="USD",
        payee_account=payee,
    )
    allocations.claim_submit(
        actor=actor,
        fund=rent_fund,
        reference="HMS-2026-000002",
        amount_minor=30_000,
        currency="USD",
        payee_account=payee,
    )
    allocations.claim_pay(actor=actor, claim_id=first.pk)
    funds = outcomes(since=None, until=ny(12, 31, 0) + timedelta(days=400)).as_json()["funds"]
    # 10,000.00 credited; 300.00 reserved for the second claim; 1,200.00 paid out.
    assert funds == [
        {
            "code": "rent-relief",
            "budget_minor": 1_000_000,
            "obligated_minor": 30_000,
            "spent_minor": 120_000,
            "available_minor": 850_000,
        }
    ]
    account = ledger.account_get(account_id=rent_fund.account_id)
    assert funds[0]["available_minor"] == account.available_minor
