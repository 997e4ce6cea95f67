"""Concurrent writers on PostgreSQL: row locks make each outcome happen once."""

from __future__ import annotations

import contextlib
import itertools
import threading
import uuid
from collections.abc import Callable

import pytest
from django.db import connection, connections
from guardian.shortcuts import assign_perm

from governance import services as governance
from governance.models import Decision, Outcome
from ledger.models import Transfer
from ledger.services import LedgerError
from service_requests import services as requests
from service_requests.models import ServiceRequest
from tests.builders import ledger_account, move, pending_approval
from tests.factories import UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _race(*calls: Callable[[], object]) -> tuple[list[object], list[BaseException]]:
    """Run the calls in threads released at the same moment; each thread has its own
    database connection, closed at the end."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = []
    errors: list[BaseException] = []

    def run(call: Callable[[], object]) -> None:
        try:
            barrier.wait()
            results.append(call())
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(c,)) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results, errors


def test_two_supervisors_deciding_at_once_produce_one_outcome(
    require_postgres, civilian, reviewer, supervisor, housing, rent_help
):
    second = UserFactory(username="second-sup", is_staff=True)
    assign_perm("governance.decide_program", second, housing)
    _, case = pending_approval(civilian, reviewer, rent_help, amount_minor=10_000)
    results, errors = _race(
        lambda: governance.case_decide(
            actor=supervisor, case_id=case.pk, outcome=Outcome.APPROVE, reason="yes"
        ),
        lambda: governance.case_decide(
            actor=second, case_id=case.pk, outcome=Outcome.REJECT, reason="no"
        ),
    )
    assert len(results) == 1
    assert len(errors) == 1
    assert isinstance(errors[0], governance.GovernanceError)
    assert "already decided" in str(errors[0])
    assert Decision.objects.count() == 1
    status = ServiceRequest.objects.values_list("status", flat=True).get()
    assert status == ("funded" if Decision.objects.get().outcome == Outcome.APPROVE else "rejected")


def test_double_submit_racing_on_one_token_makes_one_request(require_postgres, civilian, rent_help):
    token = uuid.uuid4()

    def submit() -> object:
        return requests.request_submit(
            actor=civilian,
            service_type=rent_help,
            description="Two months behind on rent.",
            contact_name="Alice",
            contact_email="alice@example.test",
            amount_minor=10_000,
            submission_token=token,
        )

    results, errors = _race(submit, submit, submit)
    assert errors == []
    assert ServiceRequest.objects.count() == 1
    assert {r[0].pk for r in results} == {ServiceRequest.objects.get().pk}  # type: ignore[index]


def test_many_writers_draining_one_fund_never_overdraw_it(require_postgres, actor):
    source = ledger_account(actor, "source")
    fund = ledger_account(actor, "fund", limited=True)
    payee = ledger_account(actor, "payee")
    move(actor, "fund", source, fund, 1_000)

    def drain(n: int) -> Callable[[], object]:
        return lambda: move(actor, f"drain-{n}", fund, payee, 300)

    results, errors = _race(*(drain(n) for n in range(8)))
    assert len(results) == 3
    assert len(errors) == 5
    assert all(getattr(e, "code", None) == "exceeds_credits" for e in errors)
    fund.refresh_from_db()
    assert fund.available_minor == 100
    sequences = list(Transfer.objects.order_by("sequence").values_list("sequence", flat=True))
    assert sequences == list(range(1, len(sequences) + 1))
    assert connection.vendor == "postgresql"


def _in_processes(jobs: list[tuple[str, int]], worker) -> list[object]:  # type: ignore[no-untyped-def]
    """Run `worker(name, n)` for each job in forked processes that start together; each opens
    its own database connection. Returns what each returned (or the refusal code it met)."""
    import multiprocessing

    connections.close_all()  # a forked child must not share the parent's socket
    context = multiprocessing.get_context("fork")
    start = context.Barrier(len(jobs))
    results = context.Queue()

    def run(name: str, n: int) -> None:
        connections.close_all()
        start.wait()
        try:
            results.put(worker(name, n))
        except LedgerError as refused:
            results.put(refused.code)
        finally:
            connections.close_all()

    processes = [context.Process(target=run, args=job) for job in jobs]
    for p in processes:
        p.start()
    for p in processes:
        p.join(60)
    assert all(p.exitcode == 0 for p in processes)
    return [results.get(timeout=5) for _ in processes]


def test_processes_draining_a_hot_account_never_overdraw_it_nor_fork_the_chain(
    require_postgres, actor
):
    from ledger.models import Account, LedgerHead

    source = ledger_account(actor, "source")
    fund = ledger_account(actor, "fund", limited=True)
    payee = ledger_account(actor, "payee")
    move(actor, "fund", source, fund, 10_000)

    def drain(name: str, n: int) -> str:
        for i in range(n):
            with contextlib.suppress(LedgerError):  # refused once the fund is drained
                move(actor, f"{name}-{i}", fund, payee, 700)
        return name

    _in_processes([(f"p{k}", 6) for k in range(4)], drain)
    fund = Account.objects.get(pk=fund.pk)
    assert fund.debits_posted == 14 * 700  # 10,000 covers 14 transfers of 700, no more
    assert fund.available_minor == 10_000 - 14 * 700
    chain = list(Transfer.objects.order_by("sequence").values_list("sequence", "prev_hash", "hash"))
    assert [s for s, _, _ in chain] == list(range(1, len(chain) + 1))
    for (_, _, before), (_, prev, _) in itertools.pairwise(chain):
        assert prev == before
    assert LedgerHead.objects.get().hash == chain[-1][2]


def test_identical_submissions_from_processes_make_one_transfer(require_postgres, actor):
    source = ledger_account(actor, "source")
    payee = ledger_account(actor, "payee")

    def submit(name: str, n: int) -> int:
        return move(actor, "the-same-key", source, payee, 4_200).pk

    ids = _in_processes([(f"p{k}", 1) for k in range(5)], submit)
    assert len(set(ids)) == 1
    assert Transfer.objects.filter(idempotency_key="the-same-key").count() == 1
