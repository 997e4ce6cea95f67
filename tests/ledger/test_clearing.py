"""Clearing cycles: netting, one cycle per transfer, settlement, the ACH file and its access."""

from __future__ import annotations

import hashlib
import itertools
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from core import events
from ledger import selectors
from ledger import services as ledger
from ledger.ach import read_ach, validate
from ledger.models import (
    BankAccount,
    BankAccountType,
    ClearingCycle,
    CycleStatus,
    HolderKind,
    NetPosition,
    OwnerKind,
    Transfer,
)
from ledger.tasks import generate_cycle_file
from tests.builders import ledger_account, move, reauthenticate

ALICE_NUMBER = "987654321012"
_keys = itertools.count()


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def participant(actor: Any, ref: str, kind: str = OwnerKind.CIVILIAN) -> Any:
    return ledger.payee_account_for(
        actor=actor, owner_kind=kind, owner_ref=ref, name=f"Payee {ref}", currency="USD"
    )


def bank(actor: Any, account: Any, number: str, *, organisation: bool = False) -> BankAccount:
    return ledger.bank_account_save(
        actor=actor,
        account_id=account.pk,
        holder_name=account.name,
        holder_kind=HolderKind.ORGANISATION if organisation else HolderKind.INDIVIDUAL,
        routing_number="026009593",
        account_number=number,
        account_type=BankAccountType.SAVINGS if organisation else BankAccountType.CHECKING,
    )


def pay(actor: Any, debit: Any, credit: Any, amount: int) -> Transfer:
    return move(actor, f"t-{next(_keys)}", debit, credit, amount)


def cycle_over(actor: Any, since: Any) -> ClearingCycle:
    return ledger.cycle_open(actor=actor, window_start=since, window_end=timezone.now())


@pytest.fixture
def world(actor: Any) -> dict[str, Any]:
    """A fund paying two civilians and a vendor, a vendor paying an agency; bank details for all."""
    since = timezone.now() - timedelta(seconds=1)
    fund = ledger_account(actor, "fund")
    alice, bob = participant(actor, "alice"), participant(actor, "bob")
    vendor = participant(actor, "acme", OwnerKind.VENDOR)
    agency = participant(actor, "water", OwnerKind.AGENCY)
    pay(actor, fund, alice, 50_000)
    pay(actor, fund, alice, 25_000)
    pay(actor, fund, bob, 10_000)
    pay(actor, fund, vendor, 40_000)
    pay(actor, vendor, agency, 15_000)
    pay(actor, agency, bob, 30_000)  # the agency ends owing: an ACH debit
    bank(actor, alice, ALICE_NUMBER)
    bank(actor, bob, "11112222")
    bank(actor, vendor, "5550001234", organisation=True)
    bank(actor, agency, "7770009876", organisation=True)
    return {
        "since": since,
        "fund": fund,
        "alice": alice,
        "bob": bob,
        "vendor": vendor,
        "agency": agency,
    }


def settled(actor: Any, world: dict[str, Any]) -> ClearingCycle:
    cycle = cycle_over(actor, world["since"])
    ledger.cycle_close(actor=actor, cycle_id=cycle.pk)
    ledger.cycle_settle(actor=actor, cycle_id=cycle.pk)
    return ledger.cycle_file_generate(actor=actor, cycle_id=cycle.pk)


def nets(cycle: ClearingCycle) -> dict[str, int]:
    return {
        p.account.code: p.net_minor
        for p in NetPosition.objects.filter(cycle=cycle).select_related("account")
    }


# -- netting -----------------------------------------------------------------------------------


def test_close_computes_multilateral_nets_that_sum_to_zero(
    actor: Any, world: dict[str, Any]
) -> None:
    cycle = cycle_over(actor, world["since"])
    closed = ledger.cycle_close(actor=actor, cycle_id=cycle.pk)
    assert closed.status == CycleStatus.CLOSED
    assert closed.transfer_count == 6
    assert closed.participant_count == 4
    positions = nets(closed)
    assert positions[world["alice"].code] == 75_000
    assert positions[world["bob"].code] == 40_000
    assert positions[world["vendor"].code] == 25_000
    assert positions[world["agency"].code] == -15_000
    assert positions["fund"] == -125_000
    assert sum(positions.values()) == 0
    assert closed.history.first().history_user == actor  # type: ignore[attr-defined]


def test_closing_twice_returns_the_cycle_unchanged(actor: Any, world: dict[str, Any]) -> None:
    cycle = cycle_over(actor, world["since"])
    first = ledger.cycle_close(actor=actor, cycle_id=cycle.pk)
    again = ledger.cycle_close(actor=actor, cycle_id=cycle.pk)
    assert again.closed_at == first.closed_at
    assert NetPosition.objects.filter(cycle=cycle).count() == 5
    assert selectors.cycle_transfers(again).count() == 6
    assert (again.first_sequence, again.last_sequence) == (
        first.first_sequence,
        first.last_sequence,
    )


def test_a_transfer_joins_one_cycle_only(actor: Any, world: dict[str, Any]) -> None:
    first = ledger.cycle_close(actor=actor, cycle_id=cycle_over(actor, world["since"]).pk)
    late = pay(actor, world["fund"], world["alice"], 1_000)
    overlapping = cycle_over(actor, world["since"] - timedelta(hours=1))
    second = ledger.cycle_close(actor=actor, cycle_id=overlapping.pk)
    assert first.transfer_count == 6
    assert second.transfer_count == 1
    assert list(selectors.cycle_transfers(second)) == [late]
    assert late not in selectors.cycle_transfers(first)
    assert second.first_sequence == first.last_sequence + 1  # type: ignore[operator]
    assert nets(second) == {world["alice"].code: 1_000, "fund": -1_000}


def test_a_cycle_claims_the_range_after_the_last_one_up_to_its_window_end(
    actor: Any, world: dict[str, Any]
) -> None:
    """Transfers created after the window's end wait for the next cycle; one dated before the
    window's start that no cycle took yet is taken, not left unsettled."""
    first = ledger.cycle_close(actor=actor, cycle_id=cycle_over(actor, world["since"]).pk)
    forgotten = pay(actor, world["fund"], world["bob"], 2_000)
    cut = timezone.now()
    after = pay(actor, world["fund"], world["alice"], 3_000)
    second = ledger.cycle_open(
        actor=actor, window_start=cut - timedelta(microseconds=1), window_end=cut
    )
    second = ledger.cycle_close(actor=actor, cycle_id=second.pk)
    assert (second.first_sequence, second.last_sequence) == (
        first.last_sequence + 1,  # type: ignore[operator]
        forgotten.sequence,
    )
    assert list(selectors.cycle_transfers(second)) == [forgotten]
    assert nets(second) == {world["bob"].code: 2_000, "fund": -2_000}
    third = ledger.cycle_close(actor=actor, cycle_id=cycle_over(actor, cut).pk)
    assert list(selectors.cycle_transfers(third)) == [after]


def test_a_cycle_with_nothing_new_claims_no_range(actor: Any, world: dict[str, Any]) -> None:
    ledger.cycle_close(actor=actor, cycle_id=cycle_over(actor, world["since"]).pk)
    empty = ledger.cycle_close(actor=actor, cycle_id=cycle_over(actor, world["since"]).pk)
    assert (empty.first_sequence, empty.last_sequence, empty.transfer_count) == (None, None, 0)
    assert not NetPosition.objects.filter(cycle=empty).exists()
    assert not selectors.cycle_transfers(empty).exists()


def test_the_cycle_transfers_are_what_was_netted(actor: Any, world: dict[str, Any]) -> None:
    other_currency = ledger_account(actor, "euro-fund", currency="EUR")
    euro_payee = ledger.payee_account_for(
        actor=actor, owner_kind=OwnerKind.CIVILIAN, owner_ref="eve", name="Eve", currency="EUR"
    )
    ledger.transfer_create(
        actor=actor,
        idempotency_key="eur-1",
        debit_account_id=other_currency.pk,
        credit_account_id=euro_payee.pk,
        amount_minor=900,
        currency="EUR",
    )
    bureau_only = move(actor, "bureau-only", world["fund"], ledger_account(actor, "ops"), 100)
    move(actor, "reserved", world["fund"], world["alice"], 400, pending=True)
    cycle = ledger.cycle_close(actor=actor, cycle_id=cycle_over(actor, world["since"]).pk)
    netted = list(selectors.cycle_transfers(cycle))
    assert len(netted) == cycle.transfer_count == 6
    assert bureau_only not in netted
    expected: dict[int, int] = {}
    for t in netted:
        expected[t.credit_account_id] = expected.get(t.credit_account_id, 0) + t.amount_minor
        expected[t.debit_account_id] = expected.get(t.debit_account_id, 0) - t.amount_minor
    got = dict(NetPosition.objects.filter(cycle=cycle).values_list("account_id", "net_minor"))
    assert got == expected


@pytest.mark.postgres
def test_postgres_refuses_two_cycles_of_a_currency_claiming_the_same_transfer(
    require_postgres: Any, actor: Any, world: dict[str, Any]
) -> None:
    from django.db import IntegrityError, transaction

    first = ledger.cycle_close(actor=actor, cycle_id=cycle_over(actor, world["since"]).pk)
    pay(actor, world["fund"], world["alice"], 1_000)
    second = ledger.cycle_close(actor=actor, cycle_id=cycle_over(actor, world["since"]).pk)
    with pytest.raises(IntegrityError, match="ledger_clearingcycle_ranges_disjoint"):  # noqa: SIM117
        with transaction.atomic():
            ClearingCycle.objects.filter(pk=second.pk).update(first_sequence=first.last_sequence)


def test_a_window_still_open_cannot_close(actor: Any, world: dict[str, Any]) -> None:
    cycle = ledger.cycle_open(
        actor=actor,
        window_start=world["since"],
        window_end=timezone.now() + timedelta(hours=1),
    )
    with pytest.raises(ledger.ClearingError) as refused:
        ledger.cycle_close(actor=actor, cycle_id=cycle.pk)
    assert refused.value.code == "window_open"


@hypothesis_settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(st.integers(0, 4), st.integers(0, 4), st.integers(1, 10**6)),
        min_size=1,
        max_size=25,
    )
)
def test_net_positions_always_sum_to_zero(actor: Any, moves: list[tuple[int, int, int]]) -> None:
    accounts = [participant(actor, f"h{n}") for n in range(4)] + [ledger_account(actor, "hfund")]
    since = timezone.now()
    expected: dict[int, int] = {}
    for debit, credit, amount in moves:
        if debit == credit:
            continue
        pay(actor, accounts[debit], accounts[credit], amount)
        expected[accounts[debit].pk] = expected.get(accounts[debit].pk, 0) - amount
        expected[accounts[credit].pk] = expected.get(accounts[credit].pk, 0) + amount
    cycle = ledger.cycle_close(actor=actor, cycle_id=cycle_over(actor, since).pk)
    got = dict(NetPosition.objects.filter(cycle=cycle).values_list("account_id", "net_minor"))
    assert sum(got.values()) == 0
    assert got == expected


# -- settlement --------------------------------------------------------------------------------


def test_settle_writes_one_transfer_per_participant_and_a_retry_writes_nothing(
    actor: Any, world: dict[str, Any]
) -> None:
    cycle = cycle_over(actor, world["since"])
    ledger.cycle_close(actor=actor, cycle_id=cycle.pk)
    before = Transfer.objects.count()
    done = ledger.cycle_settle(actor=actor, cycle_id=cycle.pk)
    assert done.status == CycleStatus.SETTLED
    written = Transfer.objects.filter(reference=f"clearing-cycle-{cycle.pk}")
    assert written.count() == 4 == Transfer.objects.count() - before
    accounts = [t.debit_account_id for t in written] + [t.credit_account_id for t in written]
    for name in ("alice", "bob", "vendor", "agency"):
        assert accounts.count(world[name].pk) == 1
    world["alice"].refresh_from_db()
    assert world["alice"].posted_balance_minor == 0  # paid out in full
    ledger.cycle_settle(actor=actor, cycle_id=cycle.pk)
    assert Transfer.objects.count() - before == 4
    # The settlement transfers never join a later cycle.
    later = ledger.cycle_close(actor=actor, cycle_id=cycle_over(actor, world["since"]).pk)
    assert later.transfer_count == 0


def test_settling_announces_the_settled_cycle_once_in_its_transaction(
    actor: Any, world: dict[str, Any]
) -> None:
    heard: list[tuple[int, str, int]] = []

    def listener(cycle: ClearingCycle) -> None:
        stored = ClearingCycle.objects.get(pk=cycle.pk)  # saved before it is announced
        heard.append((cycle.pk, stored.status, stored.settlement_credit_minor))

    cycle = ledger.cycle_close(actor=actor, cycle_id=cycle_over(actor, world["since"]).pk)
    events.subscribe(events.CYCLE_SETTLED, listener)
    try:
        done = ledger.cycle_settle(actor=actor, cycle_id=cycle.pk)
        ledger.cycle_settle(actor=actor, cycle_id=cycle.pk)  # already settled: not again
    finally:
        events.unsubscribe(events.CYCLE_SETTLED, listener)
    assert heard == [(cycle.pk, CycleStatus.SETTLED, done.settlement_credit_minor)]


def test_a_listener_that_raises_refuses_the_settlement(actor: Any, world: dict[str, Any]) -> None:
    def refuse(cycle: ClearingCycle) -> None:
        raise RuntimeError("no")

    cycle = ledger.cycle_close(actor=actor, cycle_id=cycle_over(actor, world["since"]).pk)
    before = Transfer.objects.count()
    events.subscribe(events.CYCLE_SETTLED, refuse)
    try:
        with pytest.raises(RuntimeError):
            ledger.cycle_settle(actor=actor, cycle_id=cycle.pk)
    finally:
        events.unsubscribe(events.CYCLE_SETTLED, refuse)
    cycle.refresh_from_db()
    assert cycle.status == CycleStatus.CLOSED
    assert Transfer.objects.count() == before


def test_settle_is_refused_for_a_participant_without_bank_details(
    actor: Any, world: dict[str, Any]
) -> None:
    stranger = participant(actor, "stranger")
    pay(actor, world["fund"], stranger, 500)
    cycle = ledger.cycle_close(actor=actor, cycle_id=cycle_over(actor, world["since"]).pk)
    before = Transfer.objects.count()
    with pytest.raises(ledger.ClearingError) as refused:
        ledger.cycle_settle(actor=actor, cycle_id=cycle.pk)
    assert refused.value.code == "no_bank_account"
    assert stranger.code in refused.value.messages[0]
    assert Transfer.objects.count() == before


def test_an_open_cycle_cannot_settle(actor: Any, world: dict[str, Any]) -> None:
    cycle = cycle_over(actor, world["since"])
    with pytest.raises(ledger.ClearingError) as refused:
        ledger.cycle_settle(actor=actor, cycle_id=cycle.pk)
    assert refused.value.code == "not_closed"


# -- the ACH file ------------------------------------------------------------------------------


def test_the_file_is_valid_ties_out_and_has_ppd_and_ccd_batches(
    actor: Any, world: dict[str, Any]
) -> None:
    cycle = settled(actor, world)
    data = selectors.cycle_file_bytes(cycle)
    file = read_ach(data)
    assert file.is_valid, file.errors
    assert validate(file) == []
    records = data.decode("ascii").split("\n")
    assert all(len(r) == 94 for r in records)
    assert len(records) % 10 == 0
    control = next(n for n, r in enumerate(records) if r.startswith("9") and r != "9" * 94)
    assert all(r == "9" * 94 for r in records[control + 1 :])
    assert data == data.upper()
    secs = {b.header.sec_code: b for b in file.batches}
    assert set(secs) == {"PPD", "CCD"}
    assert {e.amount for e in secs["PPD"].entries} == {75_000, 40_000}
    assert {e.transaction_code for e in secs["PPD"].entries} == {22}
    ccd = {e.amount: e.transaction_code for e in secs["CCD"].entries}
    assert ccd == {25_000: 32, 15_000: 37}  # savings: credit 32, debit 37
    assert secs["CCD"].header.service_class_code == 200
    assert secs["PPD"].header.service_class_code == 220
    traces = [e.trace_number for b in file.batches for e in b.entries]
    assert traces == sorted(set(traces))  # ascending through the whole file
    assert all(t and t.startswith("02100002") for t in traces)
    transfers = Transfer.objects.filter(reference=f"clearing-cycle-{cycle.pk}")
    credits = sum(t.amount_minor for t in transfers if t.credit_account.owner_kind == "bureau")
    debits = sum(t.amount_minor for t in transfers if t.debit_account.owner_kind == "bureau")
    assert file.control is not None
    assert (file.control.total_credit, file.control.total_debit) == (credits, debits)
    assert selectors.cycle_tie_out(cycle, data) == []
    assert cycle.ach_sha256 == hashlib.sha256(data).hexdigest()


def test_generating_the_file_twice_gives_the_same_bytes(actor: Any, world: dict[str, Any]) -> None:
    cycle = settled(actor, world)
    assert selectors.cycle_ach_bytes(cycle) == selectors.cycle_ach_bytes(cycle)
    assert selectors.cycle_ach_bytes(cycle) == selectors.cycle_file_bytes(cycle)


def test_tie_out_names_a_file_that_does_not_match(actor: Any, world: dict[str, Any]) -> None:
    cycle = settled(actor, world)
    other = selectors.cycle_ach_bytes(cycle).replace(b"0000075000", b"0000075001", 1)
    assert selectors.cycle_tie_out(cycle, other)


# -- bank details ------------------------------------------------------------------------------


def test_a_routing_number_with_a_bad_check_digit_is_refused(actor: Any) -> None:
    account = participant(actor, "carol")
    with pytest.raises(ledger.ClearingError) as refused:
        ledger.bank_account_save(
            actor=actor,
            account_id=account.pk,
            holder_name="Carol",
            holder_kind=HolderKind.INDIVIDUAL,
            routing_number="026009594",
            account_number="12345678",
        )
    assert refused.value.code == "routing_check_digit"
    assert not BankAccount.objects.exists()


def test_bank_details_keep_only_the_masked_number_in_history(
    actor: Any, world: dict[str, Any]
) -> None:
    stored = BankAccount.objects.get(account=world["alice"])
    assert stored.account_number_masked == "****1012"
    historical = stored.history.first()  # type: ignore[attr-defined]
    assert historical.account_number_masked == "****1012"
    assert not hasattr(historical, "account_number")


def test_the_admin_shows_bank_numbers_masked(
    client: Any, finance_officer: Any, auditor: Any, world: dict[str, Any]
) -> None:
    stored = BankAccount.objects.get(account=world["alice"])
    for user in (finance_officer, auditor):
        client.force_login(user)
        for url in (
            reverse("admin:ledger_bankaccount_changelist"),
            reverse("admin:ledger_bankaccount_change", args=[stored.pk]),
            reverse("admin:ledger_bankaccount_history", args=[stored.pk]),
        ):
            page = client.get(url)
            assert page.status_code == 200, url
            assert ALICE_NUMBER not in page.content.decode()
            assert "****1012" in page.content.decode()


def test_the_admin_form_refuses_a_bad_routing_number(
    client: Any, finance_officer: Any, actor: Any
) -> None:
    account = participant(actor, "dave")
    client.force_login(finance_officer)
    reauthenticate(client)  # changing bank details asks for it
    page = client.post(
        reverse("admin:ledger_bankaccount_add"),
        {
            "account": account.pk,
            "holder_name": "Dave",
            "holder_kind": HolderKind.INDIVIDUAL,
            "routing_number": "026009594",
            "account_number": "12345678",
            "account_type": BankAccountType.CHECKING,
        },
    )
    assert page.status_code == 200
    assert "not a valid routing number" in page.content.decode()
    assert not BankAccount.objects.exists()
    page = client.post(
        reverse("admin:ledger_bankaccount_add"),
        {
            "account": account.pk,
            "holder_name": "Dave",
            "holder_kind": HolderKind.INDIVIDUAL,
            "routing_number": "026009593",
            "account_number": "12345678",
            "account_type": BankAccountType.CHECKING,
        },
    )
    assert page.status_code == 302
    assert BankAccount.objects.get(account=account).account_number == "12345678"


# -- download, command, task -------------------------------------------------------------------


def test_finance_downloads_the_file(
    client: Any, finance_officer: Any, actor: Any, world: dict[str, Any]
) -> None:
    cycle = settled(actor, world)
    client.force_login(finance_officer)
    page = client.get(reverse("admin:ledger_clearingcycle_change", args=[cycle.pk]))
    url = reverse("admin:ledger_clearingcycle_download", args=[cycle.pk])
    assert url in page.content.decode()
    response = client.get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == selectors.cycle_file_bytes(cycle)


@pytest.mark.parametrize("who", ["auditor", "reviewer"])
def test_auditors_and_reviewers_may_not_download(
    client: Any, who: str, request: Any, actor: Any, world: dict[str, Any]
) -> None:
    cycle = settled(actor, world)
    client.force_login(request.getfixturevalue(who))
    response = client.get(reverse("admin:ledger_clearingcycle_download", args=[cycle.pk]))
    assert response.status_code == 403


def test_anonymous_download_goes_to_login(client: Any, actor: Any, world: dict[str, Any]) -> None:
    cycle = settled(actor, world)
    response = client.get(reverse("admin:ledger_clearingcycle_download", args=[cycle.pk]))
    assert response.status_code == 302
    assert "login" in response["Location"]


def test_export_ach_writes_the_stored_bytes(
    actor: Any, world: dict[str, Any], tmp_path: Path
) -> None:
    cycle = settled(actor, world)
    target = tmp_path / "out.ach"
    call_command("export_ach", str(cycle.pk), str(target))
    assert target.read_bytes() == selectors.cycle_file_bytes(cycle)


def test_export_ach_refuses_a_cycle_not_settled(
    actor: Any, world: dict[str, Any], tmp_path: Path
) -> None:
    cycle = cycle_over(actor, world["since"])
    with pytest.raises(CommandError, match="only a settled cycle"):
        call_command("export_ach", str(cycle.pk), str(tmp_path / "x.ach"))
    with pytest.raises(CommandError, match="No clearing cycle"):
        call_command("export_ach", "999999", str(tmp_path / "x.ach"))


def test_the_task_records_progress_and_is_idempotent(
    actor: Any, finance_officer: Any, world: dict[str, Any]
) -> None:
    cycle = cycle_over(actor, world["since"])
    ledger.cycle_close(actor=actor, cycle_id=cycle.pk)
    ledger.cycle_settle(actor=actor, cycle_id=cycle.pk)
    sha = generate_cycle_file(cycle.pk, finance_officer.pk)
    cycle.refresh_from_db()
    assert sha == cycle.ach_sha256
    assert (cycle.progress_done, cycle.progress_total, cycle.progress_note) == (4, 4, "done")
    assert cycle.history.first().history_user == finance_officer  # type: ignore[attr-defined]
    assert generate_cycle_file(cycle.pk) == sha
    assert cycle.history.count() == 4  # type: ignore[attr-defined]  # opened, closed, settled, file


def test_the_admin_action_queues_the_task_on_commit(
    client: Any,
    finance_officer: Any,
    actor: Any,
    world: dict[str, Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    cycle = cycle_over(actor, world["since"])
    ledger.cycle_close(actor=actor, cycle_id=cycle.pk)
    ledger.cycle_settle(actor=actor, cycle_id=cycle.pk)
    client.force_login(finance_officer)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(
            reverse("admin:ledger_clearingcycle_changelist"),
            {"action": "generate_files", "_selected_action": [cycle.pk]},
        )
    assert response.status_code == 302
    assert len(callbacks) == 1
    cycle.refresh_from_db()
    assert cycle.ach_sha256
    assert cycle.progress_note == "done"
