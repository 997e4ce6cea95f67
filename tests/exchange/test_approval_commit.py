"""Second-person approval (one governance case per cycle), withdrawal and re-solve, and the
commit: each cycle's money all or nothing."""

from __future__ import annotations

from typing import Any

import pytest

from exchange import services as exchange
from exchange import snapshot as frozen
from exchange.models import (
    CycleStatus,
    ExchangeAssignment,
    ExchangeCycle,
    ExchangeSnapshot,
)
from governance import services as governance
from governance.models import ApprovalCase
from ledger.models import Account, Transfer

from .conftest import account, join, make_round, rank, solved, state_of

pytestmark = pytest.mark.django_db


def _decide(case: ApprovalCase, who: Any, outcome: str = "approve") -> None:
    governance.case_decide(actor=who, case_id=case.pk, outcome=outcome, reason="Checked")


def _cycles(round_: Any) -> list[ExchangeCycle]:
    return list(ExchangeCycle.objects.filter(round=round_).order_by("number"))


@pytest.fixture
def two_cycles(officer: Any, housing: Any) -> Any:
    """Six homes: a 3-cycle (a, b, c), a swap (d, e), and f who ranks only a."""
    round_ = make_round(officer, housing)
    items = join(round_, ["ann", "ben", "cat", "dan", "eli", "flo"])
    rank(items, {0: [1], 1: [2], 2: [0], 3: [4], 4: [3], 5: [0]})
    return round_, items


def test_each_cycle_gets_a_case_and_the_sender_cannot_approve(
    officer: Any, second_officer: Any, supervisor: Any, two_cycles: Any
) -> None:
    from guardian.shortcuts import assign_perm

    round_, _ = two_cycles
    assign_perm("governance.decide_program", officer, round_.program)
    solved(round_, officer)
    exchange.round_send_for_approval(actor=officer, round_id=round_.pk)
    assert state_of(round_) == "under_approval"
    cycles = _cycles(round_)
    assert [c.status for c in cycles] == [CycleStatus.UNDER_APPROVAL] * 2
    cases = [c.approval_case for c in cycles]
    assert all(case is not None and case.subject_kind == "exchange_cycle" for case in cases)
    assert {case.maker for case in cases} == {officer}  # type: ignore[union-attr]
    with pytest.raises(governance.GovernanceError, match="You submitted this"):
        _decide(cases[0], officer)  # type: ignore[arg-type]
    _decide(cases[0], supervisor)  # type: ignore[arg-type]
    assert state_of(round_) == "under_approval"
    _decide(cases[1], supervisor, "reject")  # type: ignore[arg-type]
    assert state_of(round_) == "approved"
    assert [c.status for c in _cycles(round_)] == [CycleStatus.APPROVED, CycleStatus.DECLINED]


def test_the_solver_cannot_approve_when_someone_else_sent(
    officer: Any, second_officer: Any, two_cycles: Any, housing: Any
) -> None:
    from guardian.shortcuts import assign_perm

    round_, _ = two_cycles
    solved(round_, officer)
    exchange.round_send_for_approval(actor=second_officer, round_id=round_.pk)
    assign_perm("governance.decide_program", officer, housing)
    case = _cycles(round_)[0].approval_case
    with pytest.raises(governance.GovernanceError, match="You recommended this"):
        _decide(case, officer)  # type: ignore[arg-type]


def test_a_withdrawal_breaks_only_its_cycle_and_the_rest_is_solved_again(
    officer: Any, supervisor: Any, two_cycles: Any
) -> None:
    round_, items = two_cycles
    solved(round_, officer)
    exchange.round_send_for_approval(actor=officer, round_id=round_.pk)
    first_hash = ExchangeCycle.objects.filter(round=round_).first().snapshot.sha256  # type: ignore[union-attr]
    swap = _cycles(round_)[1]
    _decide(swap.approval_case, supervisor)  # type: ignore[arg-type]
    b = items[1]
    exchange.item_withdraw(actor=b.holder, item_id=b.pk)
    cycles = _cycles(round_)
    assert cycles[0].status == CycleStatus.BROKEN
    assert cycles[1].status == CycleStatus.APPROVED  # the other cycle and its approval stand
    latest = ExchangeSnapshot.objects.filter(round=round_).latest("pk")
    loaded = frozen.load(latest.data.encode())
    assert loaded.round["previous"] == first_hash
    # a, c and f are solved again among themselves: c wants a, a wants only b (gone), f wants a.
    assert loaded.items == sorted([items[0].pk, items[2].pk, items[5].pk])
    assert ExchangeRound_hash(round_) == latest.sha256
    current = dict(
        ExchangeAssignment.objects.filter(round=round_, current=True).values_list(
            "item_id", "receives_id"
        )
    )
    assert current[items[0].pk] is None
    assert current[items[2].pk] is None
    assert b.pk not in current
    # Nobody of a, c and f can move, and the broken cycle's case no longer counts.
    assert state_of(round_) == "approved"
    _decide(cycles[0].approval_case, supervisor)  # type: ignore[arg-type]
    assert ExchangeCycle.objects.get(pk=cycles[0].pk).status == CycleStatus.BROKEN


def ExchangeRound_hash(round_: Any) -> str:
    from exchange.models import ExchangeRound

    return ExchangeRound.objects.values_list("input_sha256", flat=True).get(pk=round_.pk)


def test_a_withdrawal_can_form_a_new_cycle_that_goes_for_approval(
    officer: Any, supervisor: Any, housing: Any
) -> None:
    """a wants b then d; b wants a; d wants a. TTC: a and b swap; d keeps. When b withdraws,
    a and d swap: a new cycle with its own case."""
    round_ = make_round(officer, housing)
    items = join(round_, ["ada", "bob", "dee"])
    rank(items, {0: [1, 2], 1: [0], 2: [0]})
    solved(round_, officer)
    exchange.round_send_for_approval(actor=officer, round_id=round_.pk)
    _decide(_cycles(round_)[0].approval_case, supervisor)  # type: ignore[arg-type]
    assert state_of(round_) == "approved"
    exchange.item_withdraw(actor=items[1].holder, item_id=items[1].pk)
    cycles = _cycles(round_)
    assert [c.status for c in cycles] == [CycleStatus.BROKEN, CycleStatus.UNDER_APPROVAL]
    assert cycles[1].approval_case.maker == officer  # type: ignore[union-attr]
    assert state_of(round_) == "under_approval"
    _decide(cycles[1].approval_case, supervisor)  # type: ignore[arg-type]
    assert state_of(round_) == "approved"
    exchange.round_commit(actor=officer, round_id=round_.pk)
    assert state_of(round_) == "committed"


def _money_round(officer: Any, housing: Any) -> Any:
    settlement = account(officer, "EXCHANGE-SETTLE")
    round_ = make_round(officer, housing, settlement_account=settlement)
    funded = account(officer, "TENANT-RICH", limited=True)
    broke = account(officer, "TENANT-BROKE", limited=True)
    # Credit the rich tenant's account so it may pay.
    from ledger import services as ledger

    ledger.transfer_create(
        actor=officer,
        idempotency_key="seed-rich",
        debit_account_id=settlement.pk,
        credit_account_id=funded.pk,
        amount_minor=100_000,
        currency="USD",
    )
    from tests.conftest import _person

    people = [_person(n, "civilian") for n in ["ria", "sol", "tom", "uma"]]
    terms = [(25_000, funded), (-25_000, funded), (40_000, broke), (0, None)]
    items = [
        exchange.item_list(
            actor=officer,
            round_id=round_.pk,
            holder=p,
            title=f"Flat {p.username}",
            amount_minor=amount,
            account=acct,
        )
        for p, (amount, acct) in zip(people, terms, strict=True)
    ]
    # ria <-> sol swap (money that can move); tom <-> uma swap (tom cannot pay).
    rank(items, {0: [1], 1: [0], 2: [3], 3: [2]})
    return round_, items, settlement, funded, broke


def test_commit_moves_each_cycle_all_or_nothing(
    officer: Any, supervisor: Any, housing: Any
) -> None:
    round_, _items, _settlement, _funded, broke = _money_round(officer, housing)
    solved(round_, officer)
    exchange.round_send_for_approval(actor=officer, round_id=round_.pk)
    for cycle in _cycles(round_):
        _decide(cycle.approval_case, supervisor)  # type: ignore[arg-type]
    before = Transfer.objects.count()
    exchange.round_commit(actor=officer, round_id=round_.pk)
    ok, failed = _cycles(round_)
    assert ok.status == CycleStatus.COMMITTED
    assert ok.committed_at is not None
    assert failed.status == CycleStatus.APPROVED
    assert "Account TENANT-BROKE has 0 available" in failed.commit_error
    # Only the good cycle's two transfers were written; nothing of the refused one.
    transfers = Transfer.objects.order_by("pk")[before:]
    assert [(t.amount_minor, t.reference) for t in transfers] == [
        (25_000, f"exchange-{round_.pk}"),
        (25_000, f"exchange-{round_.pk}"),
    ]
    assert Account.objects.get(pk=broke.pk).debits_posted == 0
    assert state_of(round_) == "approved"  # a cycle is left to commit
    # Retrying writes nothing new for the committed cycle.
    exchange.round_commit(actor=officer, round_id=round_.pk)
    assert Transfer.objects.count() == before + 2


def test_a_round_without_money_commits_without_transfers(
    officer: Any, supervisor: Any, two_cycles: Any
) -> None:
    round_, _ = two_cycles
    solved(round_, officer)
    exchange.round_send_for_approval(actor=officer, round_id=round_.pk)
    for cycle in _cycles(round_):
        _decide(cycle.approval_case, supervisor)  # type: ignore[arg-type]
    before = Transfer.objects.count()
    exchange.round_commit(actor=officer, round_id=round_.pk)
    assert state_of(round_) == "committed"
    assert Transfer.objects.count() == before
    with pytest.raises(exchange.ExchangeError, match="committed"):
        exchange.item_withdraw(actor=officer, item_id=_[0].pk)


def test_no_commit_before_approval(officer: Any, two_cycles: Any) -> None:
    round_, _ = two_cycles
    solved(round_, officer)
    with pytest.raises(exchange.ExchangeError, match="cannot be committed"):
        exchange.round_commit(actor=officer, round_id=round_.pk)
    assert state_of(round_) == "solved"
