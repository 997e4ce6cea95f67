"""Allocation rounds: the state machine, the snapshot, approval and commitment into the ledger."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from allocations import selectors
from allocations import services as allocations
from allocations.models import (
    AllocationGrant,
    Claim,
    ClaimStatus,
    RoundSnapshot,
    RoundState,
)
from allocations.rules import snapshot as frozen
from allocations.services import commit
from governance import services as governance
from ledger import services as ledger
from ledger.models import Account, Transfer, TransferKind
from tests.allocations.conftest import (
    approved_round,
    computed_round,
    make_claims,
    open_voting_round,
    state_of,
)
from tests.builders import ledger_account


def pending_debits(fund) -> int:  # type: ignore[no-untyped-def]
    return Account.objects.get(pk=fund.account_id).debits_pending


def test_claims_wait_for_a_round_when_the_fund_allocates_by_round(waiting_claims):
    assert all(c.status == ClaimStatus.AWAITING_FUNDS for c in waiting_claims)
    assert "waits for the next round" in waiting_claims[0].explanation


def test_a_round_goes_from_draft_to_committed_with_one_pending_transfer_per_grant(
    officer, supervisor, round_fund, waiting_claims
):
    round_ = allocations.round_create(
        actor=officer, fund=round_fund, name="Spring", budget_minor=900_000, rule="max_min"
    )
    assert state_of(round_) == RoundState.DRAFT
    allocations.round_open(actor=officer, round_id=round_.pk)
    assert state_of(round_) == RoundState.OPEN
    assert set(Claim.objects.filter(round=round_).values_list("pk", flat=True)) == {
        c.pk for c in waiting_claims
    }
    round_ = allocations.round_freeze(actor=officer, round_id=round_.pk)
    stored = RoundSnapshot.objects.get(round=round_)
    assert frozen.sha256(stored.data.encode()) == round_.input_sha256 == stored.sha256
    round_ = allocations.round_compute(actor=officer, round_id=round_.pk)
    grants = {g.claim_id: g for g in AllocationGrant.objects.filter(round=round_)}
    # Max-min with 9,000.00: 2,000.00 and 3,000.00 in full, the level 4,000.00 for the other.
    assert {c.pk: grants[c.pk].granted_minor for c in waiting_claims} == {
        waiting_claims[0].pk: 400_000,
        waiting_claims[1].pk: 300_000,
        waiting_claims[2].pk: 200_000,
    }
    assert round_.granted_minor == 900_000
    assert grants[waiting_claims[0].pk].explanation == (
        "You asked $6,000.00; every claim was met up to $4,000.00 because the budget of "
        "$9,000.00 ran out at that level. You received $4,000.00."
    )
    assert set(round_.metrics["rules"]) == {
        "priority",
        "pro_rata",
        "max_min",
        "weighted_max_min",
    }
    assert round_.metrics["result"]["granted"] == 900_000
    allocations.round_send_for_approval(actor=officer, round_id=round_.pk)
    assert state_of(round_) == RoundState.UNDER_APPROVAL
    round_.refresh_from_db(fields=["approval_case"])
    case = round_.approval_case
    assert case.subject_kind == "allocation_round"
    assert case.amount_minor == 900_000
    governance.case_decide(
        actor=supervisor, case_id=case.pk, outcome="approve", reason="Matches the plan."
    )
    assert state_of(round_) == RoundState.APPROVED
    before = Transfer.objects.count()
    allocations.round_commit(actor=officer, round_id=round_.pk)
    assert state_of(round_) == RoundState.COMMITTED
    assert Transfer.objects.count() == before + 3
    assert pending_debits(round_fund) == 900_000
    for claim in Claim.objects.filter(pk__in=[c.pk for c in waiting_claims]):
        grant = grants[claim.pk]
        grant.refresh_from_db()
        assert claim.status == ClaimStatus.GRANTED
        assert claim.granted_minor == grant.granted_minor
        assert claim.obligation_id == grant.obligation.pk
        assert grant.obligation.kind == TransferKind.PENDING
        assert grant.obligation.amount_minor == grant.granted_minor
        assert claim.explanation == grant.explanation
        assert claim.history.first().history_user == officer


def test_commit_is_refused_without_approval(officer, round_fund, waiting_claims):
    round_ = computed_round(officer, round_fund)
    before = Transfer.objects.count()
    with pytest.raises(allocations.RoundError, match="is computed; it cannot be committed"):
        allocations.round_commit(actor=officer, round_id=round_.pk)
    allocations.round_send_for_approval(actor=officer, round_id=round_.pk)
    with pytest.raises(allocations.RoundError, match="is under approval; it cannot be committed"):
        allocations.round_commit(actor=officer, round_id=round_.pk)
    assert Transfer.objects.count() == before
    assert pending_debits(round_fund) == 0


def test_a_double_commit_writes_once(officer, supervisor, round_fund, waiting_claims):
    round_ = approved_round(officer, supervisor, round_fund)
    allocations.round_commit(actor=officer, round_id=round_.pk)
    transfers = Transfer.objects.count()
    history = round_.history.count()
    again = allocations.round_commit(actor=officer, round_id=round_.pk)
    assert again.state == RoundState.COMMITTED
    assert Transfer.objects.count() == transfers
    assert round_.history.count() == history
    assert pending_debits(round_fund) == 900_000


def test_commit_is_refused_when_money_was_spent_from_the_fund_since_approval(
    officer, supervisor, actor, round_fund, waiting_claims
):
    round_ = approved_round(officer, supervisor, round_fund)
    elsewhere = ledger_account(actor, "EMERGENCY-REPAIRS")
    # A concurrent spend: 2,000.00 leaves the fund between approval and commit.
    ledger.transfer_create(
        actor=actor,
        idempotency_key="spend-in-between",
        debit_account_id=round_fund.account_id,
        credit_account_id=elsewhere.pk,
        amount_minor=200_000,
        currency="USD",
    )
    before = Transfer.objects.count()
    with pytest.raises(
        allocations.RoundError, match=r"now has \$8,000.00 available; .* \$9,000.00"
    ):
        allocations.round_commit(actor=officer, round_id=round_.pk)
    assert state_of(round_) == RoundState.APPROVED
    assert Transfer.objects.count() == before
    assert pending_debits(round_fund) == 0
    assert not Claim.objects.filter(round=round_).exclude(status=ClaimStatus.AWAITING_FUNDS)


def test_the_ledger_refuses_a_spend_the_pre_check_missed_and_nothing_is_written(
    officer, supervisor, actor, round_fund, waiting_claims, monkeypatch
):
    """The spend lands after the round's own check (a race): the ledger's limit, checked under
    its locks, refuses the batch and the whole commit rolls back."""
    round_ = approved_round(officer, supervisor, round_fund)
    ledger.transfer_create(
        actor=actor,
        idempotency_key="racing-spend",
        debit_account_id=round_fund.account_id,
        credit_account_id=ledger_account(actor, "RACE").pk,
        amount_minor=500_000,
        currency="USD",
    )
    monkeypatch.setattr(commit, "fund_available_minor", lambda fund: 10**12)
    before = Transfer.objects.count()
    with pytest.raises(allocations.RoundError, match="Money was spent from the fund"):
        allocations.round_commit(actor=officer, round_id=round_.pk)
    assert Transfer.objects.count() == before
    assert state_of(round_) == RoundState.APPROVED


def test_compute_reads_only_the_snapshot(officer, round_fund, waiting_claims):
    round_ = allocations.round_create(
        actor=officer, fund=round_fund, name="R", budget_minor=900_000, rule="pro_rata"
    )
    allocations.round_open(actor=officer, round_id=round_.pk)
    allocations.round_freeze(actor=officer, round_id=round_.pk)
    # Whatever happens to the claims after freezing does not reach the computation.
    Claim.objects.filter(pk=waiting_claims[0].pk).update(amount_minor=50, eligible=False)
    round_ = allocations.round_compute(actor=officer, round_id=round_.pk)
    grant = AllocationGrant.objects.get(round=round_, claim=waiting_claims[0])
    assert grant.asked_minor == 600_000
    assert grant.granted_minor == 490_909  # 9/11 of 6,000.00, rounded down
    recomputed = selectors.round_recompute(round_=round_)
    assert recomputed.digest() == round_.result_sha256
    assert recomputed.grants_by_key() == dict(
        AllocationGrant.objects.filter(round=round_).values_list("claim_id", "granted_minor")
    )


def test_a_tampered_snapshot_is_refused(officer, round_fund, waiting_claims):
    round_ = allocations.round_create(
        actor=officer, fund=round_fund, name="R", budget_minor=900_000, rule="max_min"
    )
    allocations.round_open(actor=officer, round_id=round_.pk)
    allocations.round_freeze(actor=officer, round_id=round_.pk)
    data = RoundSnapshot.objects.get(round=round_).data.replace('"budget":900000', '"budget":999')
    RoundSnapshot.objects.filter(round=round_).update(data=data)
    with pytest.raises(allocations.RoundError, match="does not match its input hash"):
        allocations.round_compute(actor=officer, round_id=round_.pk)
    assert state_of(round_) == RoundState.FROZEN


def test_rejection_cancels_the_round_and_releases_its_claims(
    officer, supervisor, round_fund, waiting_claims
):
    round_ = computed_round(officer, round_fund)
    round_ = allocations.round_send_for_approval(actor=officer, round_id=round_.pk)
    governance.case_decide(
        actor=supervisor, case_id=round_.approval_case_id, outcome="reject", reason="Too early."
    )
    assert state_of(round_) == RoundState.CANCELLED
    assert not Claim.objects.filter(round=round_).exists()
    granted = allocations.claims_grant_waiting(actor=officer, fund=round_fund)
    assert [c.pk for c in granted] == [waiting_claims[0].pk, waiting_claims[1].pk]


@pytest.mark.parametrize("outcome", ["return", "recall", "something-new"])
def test_other_outcomes_move_the_round_back_to_computed(
    outcome, officer, round_fund, waiting_claims
):
    round_ = computed_round(officer, round_fund)
    round_ = allocations.round_send_for_approval(actor=officer, round_id=round_.pk)
    decision = SimpleNamespace(outcome=outcome, reason="Please attach the plan.")
    allocations.round_on_decision(round_.approval_case, decision, officer)  # type: ignore[arg-type]
    assert state_of(round_) == RoundState.COMPUTED
    # It can be sent again, as a new case.
    again = allocations.round_send_for_approval(actor=officer, round_id=round_.pk)
    assert again.approval_case_id != round_.approval_case_id


def test_claims_held_by_a_round_are_not_granted_by_the_waiting_queue(
    officer, round_fund, waiting_claims
):
    round_ = allocations.round_create(
        actor=officer, fund=round_fund, name="R", budget_minor=100_000, rule="max_min"
    )
    allocations.round_open(actor=officer, round_id=round_.pk)
    assert allocations.claims_grant_waiting(actor=officer, fund=round_fund) == []
    assert pending_debits(round_fund) == 0


def test_zero_grants_release_their_claims_with_the_explanation(
    officer, supervisor, round_fund, waiting_claims
):
    round_ = approved_round(officer, supervisor, round_fund, rule="priority", budget=500_000)
    allocations.round_commit(actor=officer, round_id=round_.pk)
    first = Claim.objects.get(pk=waiting_claims[0].pk)  # 6,000.00 does not fit in 5,000.00
    assert first.status == ClaimStatus.AWAITING_FUNDS
    assert first.round is None
    assert "passed over" in first.explanation
    paid = Claim.objects.filter(pk__in=[waiting_claims[1].pk, waiting_claims[2].pk])
    assert {c.status for c in paid} == {ClaimStatus.GRANTED}
    assert pending_debits(round_fund) == 500_000


def test_only_finance_officers_run_rounds(reviewer, civilian, round_fund):
    for person in (reviewer, civilian):
        with pytest.raises(allocations.RoundError, match="Only finance officers may create"):
            allocations.round_create(
                actor=person, fund=round_fund, name="R", budget_minor=1, rule="max_min"
            )


def test_the_budget_may_not_exceed_what_the_fund_holds(officer, round_fund):
    with pytest.raises(allocations.RoundError, match=r"more than the fund's available \$10,000.00"):
        allocations.round_create(
            actor=officer, fund=round_fund, name="R", budget_minor=1_000_001, rule="max_min"
        )


def test_unknown_rules_and_parameters_are_refused(officer, round_fund):
    with pytest.raises(allocations.RoundError, match="Unknown rule"):
        allocations.round_create(
            actor=officer, fund=round_fund, name="R", budget_minor=1, rule="lottery"
        )
    with pytest.raises(allocations.RoundError, match="takes no parameter 'speed'"):
        allocations.round_create(
            actor=officer,
            fund=round_fund,
            name="R",
            budget_minor=1,
            rule="max_min",
            params={"speed": 2},
        )


def test_terms_are_set_until_the_round_freezes_and_floors_above_the_budget_refused(
    officer, round_fund, waiting_claims
):
    round_ = allocations.round_create(
        actor=officer, fund=round_fund, name="R", budget_minor=300_000, rule="max_min"
    )
    allocations.round_open(actor=officer, round_id=round_.pk)
    allocations.claim_set_terms(actor=officer, claim_id=waiting_claims[0].pk, floor_minor=200_000)
    allocations.claim_set_terms(actor=officer, claim_id=waiting_claims[1].pk, floor_minor=200_000)
    with pytest.raises(allocations.RoundError, match="floors add up to 400000"):
        allocations.round_freeze(actor=officer, round_id=round_.pk)
    assert state_of(round_) == RoundState.OPEN
    allocations.claim_set_terms(
        actor=officer,
        claim_id=waiting_claims[1].pk,
        floor_minor=0,
        eligible=False,
        exclusion_reason="already helped this year",
    )
    allocations.round_freeze(actor=officer, round_id=round_.pk)
    with pytest.raises(allocations.RoundError, match="is frozen in round"):
        allocations.claim_set_terms(actor=officer, claim_id=waiting_claims[0].pk, weight=3)
    round_ = allocations.round_compute(actor=officer, round_id=round_.pk)
    excluded = AllocationGrant.objects.get(round=round_, claim=waiting_claims[1])
    assert excluded.granted_minor == 0
    assert "not eligible in this round (already helped this year)" in excluded.explanation


def test_cancel_releases_claims_but_not_under_approval(officer, round_fund, waiting_claims):
    round_ = computed_round(officer, round_fund)
    allocations.round_send_for_approval(actor=officer, round_id=round_.pk)
    with pytest.raises(allocations.RoundError, match="is under approval; it cannot be cancelled"):
        allocations.round_cancel(actor=officer, round_id=round_.pk)
    other = allocations.round_create(
        actor=officer, fund=round_fund, name="Other", budget_minor=0, rule="max_min"
    )
    allocations.round_cancel(actor=officer, round_id=other.pk, reason="made by mistake")
    assert state_of(other) == RoundState.CANCELLED
    with pytest.raises(allocations.RoundError, match="is cancelled; it cannot be opened"):
        allocations.round_open(actor=officer, round_id=other.pk)


def test_a_participatory_round_counts_ballots_by_equal_shares(
    officer, supervisor, actor, round_fund
):
    projects = make_claims(actor, round_fund, [400_000, 300_000, 300_000], prefix="PB-")
    round_ = open_voting_round(officer, round_fund)
    a, b, c = (p.pk for p in projects)
    for n, ballot in enumerate([[a], [a], [a, b], [b, c], [c], [c]]):
        allocations.ballot_cast(
            actor=officer, round_id=round_.pk, voter_ref=f"v{n}", claim_ids=ballot
        )
    allocations.ballot_cast(actor=officer, round_id=round_.pk, voter_ref="v5", claim_ids=[b, c])
    round_ = allocations.round_freeze(actor=officer, round_id=round_.pk)
    data = RoundSnapshot.objects.get(round=round_).data
    assert '"ballots":[[' in data
    assert "v1" not in data
    round_ = allocations.round_compute(actor=officer, round_id=round_.pk)
    grants = dict(
        AllocationGrant.objects.filter(round=round_).values_list("claim_id", "granted_minor")
    )
    assert sum(grants.values()) <= 700_000
    assert all(
        g in (0, cost)
        for g, cost in zip(
            [grants[a], grants[b], grants[c]], [400_000, 300_000, 300_000], strict=True
        )
    )
    assert "equal_shares" in round_.metrics["rules"]
    with pytest.raises(allocations.RoundError, match="is computed; it cannot be voted in"):
        allocations.ballot_cast(actor=officer, round_id=round_.pk, voter_ref="late", claim_ids=[a])


def test_history_names_who_moved_the_round(officer, round_fund, waiting_claims):
    round_ = computed_round(officer, round_fund)
    reasons = list(
        round_.history.order_by("history_date").values_list("history_change_reason", flat=True)
    )
    assert reasons[:3] == ["round created", "opened", f"frozen {round_.input_sha256[:12]}"]
    assert {h.history_user for h in round_.history.all()} == {officer}


def test_a_claim_cancelled_after_gathering_takes_no_part(
    officer, supervisor, round_fund, waiting_claims
):
    round_ = allocations.round_create(
        actor=officer, fund=round_fund, name="R", budget_minor=900_000, rule="max_min"
    )
    allocations.round_open(actor=officer, round_id=round_.pk)
    withdrawn = waiting_claims[0]
    Claim.objects.filter(pk=withdrawn.pk).update(status=ClaimStatus.CANCELLED)
    round_ = allocations.round_freeze(actor=officer, round_id=round_.pk)
    loaded = frozen.load(RoundSnapshot.objects.get(round=round_).data.encode())
    assert withdrawn.pk not in loaded.table.key.tolist()
    allocations.round_compute(actor=officer, round_id=round_.pk)
    round_ = allocations.round_send_for_approval(actor=officer, round_id=round_.pk)
    governance.case_decide(
        actor=supervisor, case_id=round_.approval_case_id, outcome="approve", reason="Fine."
    )
    allocations.round_commit(actor=officer, round_id=round_.pk)
    assert pending_debits(round_fund) == 500_000  # the other two, in full
    assert Claim.objects.get(pk=withdrawn.pk).status == ClaimStatus.CANCELLED
