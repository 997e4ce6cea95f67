"""A stateful test: random sequences of ledger operations against a small in-memory model.

The model is the specification in a few lines: totals per account and side, pending
reservations resolved at most once, idempotency keys bound to their first content, reversals at
most once, and a fund that may never promise more than it holds. After every step the database
must agree with it, and with its own postings.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from ledger import services
from ledger.models import Account, Posting
from tests.builders import ledger_account

SIDES = ("debits_pending", "debits_posted", "credits_pending", "credits_posted")
KEYS = [f"k{n}" for n in range(6)]  # few keys, so retries and conflicts happen often


@dataclass
class Reservation:
    debit: str
    credit: str
    amount: int
    resolved: bool = False


@dataclass
class Model:
    totals: dict[str, dict[str, int]] = field(default_factory=dict)
    keys: dict[str, tuple[object, ...]] = field(default_factory=dict)
    pending: dict[int, Reservation] = field(default_factory=dict)
    posted: dict[int, tuple[str, str, int]] = field(default_factory=dict)
    reversed: set[int] = field(default_factory=set)

    def add(self, name: str, side: str, amount: int) -> None:
        self.totals[name][side] += amount

    def fund_allows(self, debit: str, extra: int) -> bool:
        if debit != "fund":
            return True
        t = self.totals["fund"]
        return t["debits_pending"] + t["debits_posted"] + extra <= t["credits_posted"]


class LedgerMachine(RuleBasedStateMachine):
    actor: object = None  # set by the test: the user every operation is recorded for

    def __init__(self) -> None:
        super().__init__()
        self.model = Model()
        self.run = uuid.uuid4().hex[:8]
        self.accounts: dict[str, Account] = {}

    @initialize()
    def open_accounts(self) -> None:
        for name in ("source", "fund", "payee-a", "payee-b"):
            self.accounts[name] = ledger_account(
                self.actor, f"{name}-{self.run}", limited=name == "fund"
            )
            self.model.totals[name] = dict.fromkeys(SIDES, 0)

    def _key(self, key: str) -> str:
        return f"{self.run}-{key}"

    @rule(
        key=st.sampled_from(KEYS),
        pair=st.sampled_from(
            [("source", "fund"), ("fund", "payee-a"), ("fund", "payee-b"), ("payee-a", "payee-b")]
        ),
        amount=st.integers(min_value=1, max_value=5_000),
        pending=st.booleans(),
    )
    def create(self, key: str, pair: tuple[str, str], amount: int, pending: bool) -> None:
        debit, credit = pair
        content = ("create", debit, credit, amount, pending)
        known = self.model.keys.get(key)
        kwargs = {
            "actor": self.actor,
            "idempotency_key": self._key(key),
            "debit_account_id": self.accounts[debit].pk,
            "credit_account_id": self.accounts[credit].pk,
            "amount_minor": amount,
            "currency": "USD",
            "pending": pending,
        }
        if known is not None:
            if known == content:
                services.transfer_create(**kwargs)  # a retry: returns the first, writes nothing
            else:
                with pytest.raises(services.LedgerError) as refused:
                    services.transfer_create(**kwargs)
                assert refused.value.code == "idempotency_conflict"
            return
        if not self.model.fund_allows(debit, amount):
            with pytest.raises(services.LedgerError) as refused:
                services.transfer_create(**kwargs)
            assert refused.value.code == "exceeds_credits"
            return
        transfer = services.transfer_create(**kwargs)
        self.model.keys[key] = content
        phase = "pending" if pending else "posted"
        self.model.add(debit, f"debits_{phase}", amount)
        self.model.add(credit, f"credits_{phase}", amount)
        if pending:
            self.model.pending[transfer.pk] = Reservation(debit, credit, amount)
        else:
            self.model.posted[transfer.pk] = (debit, credit, amount)

    @rule(data=st.data(), void=st.booleans())
    def resolve(self, data: st.DataObject, void: bool) -> None:
        if not self.model.pending:
            return
        pending_id = data.draw(st.sampled_from(sorted(self.model.pending)))
        reservation = self.model.pending[pending_id]
        amount = data.draw(st.integers(min_value=1, max_value=reservation.amount))
        key = f"{self.run}-resolve-{uuid.uuid4().hex[:6]}"
        call = (
            (
                lambda: services.transfer_void_pending(
                    actor=self.actor, idempotency_key=key, pending_id=pending_id
                )
            )
            if void
            else (
                lambda: services.transfer_post_pending(
                    actor=self.actor,
                    idempotency_key=key,
                    pending_id=pending_id,
                    amount_minor=amount,
                )
            )
        )
        if reservation.resolved:
            with pytest.raises(services.LedgerError) as refused:
                call()
            assert refused.value.code == "pending_already_resolved"
            return
        transfer = call()
        reservation.resolved = True
        self.model.add(reservation.debit, "debits_pending", -reservation.amount)
        self.model.add(reservation.credit, "credits_pending", -reservation.amount)
        if not void:
            self.model.add(reservation.debit, "debits_posted", amount)
            self.model.add(reservation.credit, "credits_posted", amount)
            self.model.posted[transfer.pk] = (reservation.debit, reservation.credit, amount)

    @rule(data=st.data())
    def reverse(self, data: st.DataObject) -> None:
        if not self.model.posted:
            return
        transfer_id = data.draw(st.sampled_from(sorted(self.model.posted)))
        debit, credit, amount = self.model.posted[transfer_id]
        key = f"{self.run}-reverse-{uuid.uuid4().hex[:6]}"
        if transfer_id in self.model.reversed:
            expected = "already_reversed"
        elif not self.model.fund_allows(credit, amount):
            expected = "exceeds_credits"  # the fund already promised that money on
        else:
            expected = None
        if expected:
            with pytest.raises(services.LedgerError) as refused:
                services.transfer_reverse(
                    actor=self.actor, idempotency_key=key, transfer_id=transfer_id
                )
            assert refused.value.code == expected
            return
        services.transfer_reverse(actor=self.actor, idempotency_key=key, transfer_id=transfer_id)
        self.model.reversed.add(transfer_id)
        self.model.add(credit, "debits_posted", amount)
        self.model.add(debit, "credits_posted", amount)

    @invariant()
    def database_agrees_with_the_model_and_with_its_postings(self) -> None:
        if not self.accounts:
            return
        for name, account in self.accounts.items():
            stored = Account.objects.values(*SIDES).get(pk=account.pk)
            assert stored == self.model.totals[name], name
            from_postings = dict.fromkeys(SIDES, 0)
            for side, phase, amount in Posting.objects.filter(account=account).values_list(
                "side", "phase", "amount_minor"
            ):
                from_postings[f"{side}s_{phase}"] += amount
            assert from_postings == stored, name
        fund = Account.objects.get(pk=self.accounts["fund"].pk)
        assert fund.available_minor >= 0

    @invariant()
    def money_is_conserved(self) -> None:
        """Every debit has its credit: over all accounts the sides are equal, per phase."""
        t = self.model.totals
        for phase in ("pending", "posted"):
            assert sum(a[f"debits_{phase}"] for a in t.values()) == sum(
                a[f"credits_{phase}"] for a in t.values()
            )


def test_random_operations_keep_the_ledger_equal_to_its_model(actor):
    """Each example opens its own accounts (unique codes), so examples do not interfere."""
    machine = type("LedgerMachineForTest", (LedgerMachine,), {"actor": actor})
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=20,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
