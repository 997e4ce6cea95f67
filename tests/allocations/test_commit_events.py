"""What committing a round tells the apps above allocations (`core.events`), inside its
transaction: the claims it granted, and the round itself with what it committed."""

from __future__ import annotations

from typing import Any

import pytest

from allocations import selectors, services
from allocations.models import Claim, ClaimStatus
from core import events
from tests.allocations.conftest import approved_round

pytestmark = pytest.mark.django_db


@pytest.fixture
def heard(monkeypatch):  # type: ignore[no-untyped-def]
    """What the round's facts carried, as a listener inside the commit reads it."""
    heard: list[tuple[str, dict[str, Any]]] = []

    def round_committed(**data: Any) -> None:
        round_ = data["round"]
        commitment = selectors.round_commitment(round_)
        heard.append(
            (
                events.ROUND_COMMITTED,
                {
                    "keys": sorted(data),
                    "round": round_.pk,
                    "fund": round_.fund.code,
                    "rule": round_.rule,
                    "budget_minor": round_.budget_minor,
                    "granted_minor": commitment.granted_minor,
                    "currency": round_.currency,
                    "grants": commitment.grants,
                    "input_sha256": round_.input_sha256,
                },
            )
        )

    def claims_granted(**data: Any) -> None:
        heard.append((events.CLAIMS_GRANTED, data))

    monkeypatch.setitem(events._handlers, events.ROUND_COMMITTED, [round_committed])
    monkeypatch.setitem(events._handlers, events.CLAIMS_GRANTED, [claims_granted])
    return heard


def test_a_commit_announces_the_claims_it_granted_then_the_round_with_its_totals(
    officer, supervisor, round_fund, waiting_claims, heard
):
    # Max-min with 9,000.00: 2,000.00 and 3,000.00 in full, 4,000.00 of the 6,000.00.
    round_ = approved_round(officer, supervisor, round_fund, budget=900_000)
    services.round_commit(actor=officer, round_id=round_.pk)
    assert [fact for fact, _ in heard] == [events.CLAIMS_GRANTED, events.ROUND_COMMITTED]
    granted = heard[0][1]
    assert sorted(granted["claim_ids"]) == sorted(c.pk for c in waiting_claims)
    assert granted["actor"] == officer
    assert heard[1][1] == {
        "keys": ["round"],
        "round": round_.pk,
        "fund": round_fund.code,
        "rule": "max_min",
        "budget_minor": 900_000,
        "granted_minor": 900_000,
        "currency": "USD",
        "grants": 3,
        "input_sha256": round_.input_sha256,
    }


def test_claims_that_left_the_round_are_not_counted_and_a_second_commit_is_silent(
    officer, supervisor, round_fund, waiting_claims, heard
):
    round_ = approved_round(officer, supervisor, round_fund, budget=900_000)
    # The 3,000.00 claim is cancelled before the commit: it is released, not paid.
    cancelled = waiting_claims[1]
    Claim.objects.filter(pk=cancelled.pk).update(status=ClaimStatus.CANCELLED)
    services.round_commit(actor=officer, round_id=round_.pk)
    assert heard[0][1]["claim_ids"] == [waiting_claims[0].pk, waiting_claims[2].pk]
    assert (heard[1][1]["granted_minor"], heard[1][1]["grants"]) == (600_000, 2)
    heard.clear()
    services.round_commit(actor=officer, round_id=round_.pk)
    assert heard == []
