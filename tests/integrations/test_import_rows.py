"""Data migration imports: every bad row reported by line, column and reason with nothing
written; good files written whole, once, under the importing user's name."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied

from integrations.models import DataImport, DataImportOutcome
from ledger.models import Account, BankAccount, Transfer
from service_requests.models import RequestEvent, ServiceRequest, ServiceType
from tests.integrations.dataio_helpers import (
    BAD_ROUTING,
    BALANCE_HEADER,
    PARTICIPANT_HEADER,
    REQUEST_HEADER,
    SERVICE_TYPE_HEADER,
    csv_bytes,
    participant_row,
    request_row,
    run,
    where,
)

pytestmark = pytest.mark.django_db


def _state() -> tuple[int, ...]:
    """Counts of every table an import may write."""
    return (
        ServiceType.objects.count(),
        ServiceRequest.objects.count(),
        ServiceRequest.history.count(),
        RequestEvent.objects.count(),
        get_user_model().objects.count(),
        Account.objects.count(),
        BankAccount.objects.count(),
        Transfer.objects.count(),
    )


def test_mixed_good_and_bad_service_types_report_each_bad_row_and_write_nothing(
    finance_officer, housing, rent_fund
):
    data = csv_bytes(
        SERVICE_TYPE_HEADER,
        ["repairs", "Home repairs", "housing", "", "", "20"],
        ["bad-program", "X", "nowhere", "", "", ""],
        ["bad-days", "Y", "housing", "", "", "soon"],
        ["no-name", "", "housing", "", "", ""],
        ["rent-2", "Rent", "housing", "no-such-fund", "-5", ""],
        ["grants", "Grants", "housing", "rent-relief", "100000", "10"],
    )
    before = _state()
    for dry_run in (True, False):
        record = run(finance_officer, "service_types", data, dry_run=dry_run)
        assert record.outcome == DataImportOutcome.REFUSED
        assert where(record) == [
            (3, "program"),
            (4, "target_days"),
            (5, "name"),
            (6, "fund"),
            (6, "max_amount_minor"),
        ]
        reasons = [p["reason"] for p in record.problems]
        assert reasons[0] == "No program has the code nowhere."
        assert reasons[1] == "soon is not a whole number."
        assert reasons[2] == "A value is required."
        assert _state() == before
    assert DataImport.objects.filter(actor=finance_officer).count() == 2


def test_mixed_good_and_bad_requests_report_each_bad_row_and_write_nothing(
    finance_officer, inspection, rent_help
):
    data = csv_bytes(
        REQUEST_HEADER,
        request_row("HMS-2019-000001"),
        request_row("HMS-19-1"),
        request_row("HMS-2019-000003", service="no-such-service"),
        request_row("HMS-2019-000004", status="pending_approval"),
        request_row("HMS-2019-000005", submitted_at="2999-01-01T00:00:00Z"),
        request_row("HMS-2019-000006", amount_minor="500"),
        request_row("HMS-2019-000007", service="rent-help", amount_minor="900000"),
        request_row("HMS-2019-000008", requester_email="not an email"),
        request_row("HMS-2019-000001", status="rejected"),
    )
    before = _state()
    record = run(finance_officer, "requests", data, dry_run=True)
    assert record.outcome == DataImportOutcome.REFUSED
    assert where(record) == [
        (3, "tracking_number"),
        (4, "service_type"),
        (5, "status"),
        (6, "submitted_at"),
        (7, "amount_minor"),
        (8, "amount_minor"),
        (9, "requester_email"),
        (10, "tracking_number"),
    ]
    assert record.problems[3]["reason"] == "2999-01-01T00:00:00Z is in the future."
    assert "waits on an approval case" in record.problems[2]["reason"]
    assert "was already given on line 2" in record.problems[7]["reason"]
    assert _state() == before
    assert run(finance_officer, "requests", data).outcome == DataImportOutcome.REFUSED
    assert _state() == before


def test_a_dry_run_of_a_good_file_counts_what_it_would_write_and_writes_nothing(
    finance_officer, housing
):
    data = csv_bytes(SERVICE_TYPE_HEADER, ["repairs", "Home repairs", "housing", "", "", "20"])
    before = _state()
    record = run(finance_officer, "service_types", data, dry_run=True)
    assert record.outcome == DataImportOutcome.CHECKED
    assert record.counts == {"created": 1}
    assert record.problems == []
    assert _state() == before


def test_requests_import_once_with_their_time_status_and_the_importer_in_history(
    finance_officer, inspection, civilian
):
    civilian.email = "Alice@Example.test"  # matched without regard to case
    civilian.save()
    data = csv_bytes(
        REQUEST_HEADER,
        request_row("HMS-2019-000001"),
        request_row(
            "HMS-2019-000002",
            status="in_review",
            requester_email=civilian.email.upper(),
            submitted_at="2019-05-01 09:30",
        ),
    )
    record = run(finance_officer, "requests", data)
    assert record.outcome == DataImportOutcome.IMPORTED, record.problems
    assert record.counts == {"created": 2}
    first = ServiceRequest.objects.get(tracking_number="HMS-2019-000001")
    assert first.status == "fulfilled"
    assert first.submitted_at.isoformat() == "2019-03-04T10:15:00+00:00"
    assert first.requester.email == "maria@old-cases.example"
    assert not first.requester.has_usable_password()
    assert first.requester.groups.filter(name="civilian").exists()
    second = ServiceRequest.objects.get(tracking_number="HMS-2019-000002")
    assert second.requester == civilian
    history = first.history.get()
    assert history.history_user == finance_officer
    assert history.history_change_reason == "imported from requests.csv"
    assert history.submitted_at == first.submitted_at
    assert not RequestEvent.objects.exists()  # no emails for old cases

    before = _state()
    again = run(finance_officer, "requests", data)
    assert again.outcome == DataImportOutcome.IMPORTED
    assert again.counts == {"unchanged": 2}
    assert _state() == before

    changed = csv_bytes(REQUEST_HEADER, request_row("HMS-2019-000001", status="rejected"))
    refused = run(finance_officer, "requests", changed)
    assert where(refused) == [(2, "status")]
    assert "never changes a request" in refused.problems[0]["reason"]


def test_imported_tracking_numbers_of_this_year_are_never_given_to_new_requests(
    finance_officer, inspection, civilian, require_postgres
):
    from django.utils import timezone

    from tests.builders import submitted

    year = timezone.localdate().year
    number = f"HMS-{year}-{ServiceRequest.objects.count() + 500:06d}"
    data = csv_bytes(
        REQUEST_HEADER, request_row(number, submitted_at=f"{year}-01-01T00:00:00+00:00")
    )
    assert run(finance_officer, "requests", data).outcome == DataImportOutcome.IMPORTED
    new = submitted(civilian, inspection)
    assert int(new.tracking_number.rsplit("-", 1)[1]) > int(number.rsplit("-", 1)[1])


def test_request_timelines_import_once(finance_officer, inspection, reviewer):
    run(finance_officer, "requests", csv_bytes(REQUEST_HEADER, request_row("HMS-2019-000001")))
    header = ("tracking_number", "occurred_at", "kind", "message", "public", "actor_email")
    data = csv_bytes(
        header,
        ["HMS-2019-000001", "2019-03-04T10:15:00+00:00", "submitted", "Received.", "yes", ""],
        ["HMS-2019-000001", "2019-03-20T08:00:00+00:00", "fulfilled", "Fixed.", "", reviewer.email],
    )
    bad = csv_bytes(
        header,
        ["HMS-2019-000009", "2019-03-04T10:15:00+00:00", "submitted", "", "", ""],
        ["HMS-2019-000001", "yesterday", "teleported", "", "maybe", "ghost@nowhere.example"],
    )
    refused = run(finance_officer, "request_events", bad)
    assert where(refused) == [
        (2, "tracking_number"),
        (3, "occurred_at"),
        (3, "kind"),
        (3, "public"),
        (3, "actor_email"),
    ]
    record = run(finance_officer, "request_events", data)
    assert record.counts == {"created": 2}, record.problems
    events = list(RequestEvent.objects.order_by("created_at"))
    assert [e.kind for e in events] == ["submitted", "fulfilled"]
    assert events[1].actor == reviewer
    assert events[1].created_at.isoformat() == "2019-03-20T08:00:00+00:00"
    assert {e.notify for e in events} == {"none"}
    assert run(finance_officer, "request_events", data).counts == {"unchanged": 2}
    assert RequestEvent.objects.count() == 2


def test_participants_bank_details_are_checked_by_the_ledger_rules(finance_officer):
    data = csv_bytes(
        PARTICIPANT_HEADER,
        participant_row("VENDOR-ACME", "acme"),
        participant_row("VENDOR-BAD", "bad", routing_number=BAD_ROUTING),
        participant_row("VENDOR-MASK", "mask", account_number="****6789"),
        participant_row("VENDOR-LONG", "long", account_number="12345678901234567890"),
        participant_row("BUREAU-X", "x", owner_kind="bureau"),
        participant_row("VENDOR-HALF", "half", holder_name="", holder_kind=""),
    )
    before = _state()
    record = run(finance_officer, "participants", data)
    assert where(record) == [
        (3, "routing_number"),
        (4, "account_number"),
        (5, "account_number"),
        (6, "owner_kind"),
        (7, "holder_name"),
        (7, "holder_kind"),
    ]
    assert record.problems[0]["reason"] == (
        f"{BAD_ROUTING} is not a valid routing number: it needs 9 digits and a right check digit."
    )
    text = str(record.problems)
    assert "12345678901234567890" not in text
    assert _state() == before


def test_participants_import_once_and_a_masked_number_keeps_the_one_on_file(finance_officer):
    data = csv_bytes(PARTICIPANT_HEADER, participant_row("VENDOR-ACME", "acme"))
    record = run(finance_officer, "participants", data)
    assert record.counts == {"created": 1}, record.problems
    bank = BankAccount.objects.select_related("account").get()
    assert bank.account.code == "VENDOR-ACME"
    assert bank.account.type == "liability"
    assert bank.account_number == "000123456789"
    assert bank.account_number_masked == "****6789"
    assert bank.history.get().history_user == finance_officer
    assert bank.account.history.get().history_user == finance_officer

    before = _state()
    assert run(finance_officer, "participants", data).counts == {"unchanged": 1}
    masked = csv_bytes(
        PARTICIPANT_HEADER, participant_row("VENDOR-ACME", "acme", account_number="****6789")
    )
    assert run(finance_officer, "participants", masked).counts == {"unchanged": 1}
    moved = csv_bytes(
        PARTICIPANT_HEADER,
        participant_row("VENDOR-ACME", "acme", account_number="****6789", holder_name="Acme Inc"),
    )
    assert run(finance_officer, "participants", moved).counts == {"updated": 1}
    bank.refresh_from_db()
    assert (bank.holder_name, bank.account_number) == ("Acme Inc", "000123456789")
    assert _state() == before


def test_opening_balances_are_balanced_transfers_visible_in_the_balances(finance_officer):
    run(
        finance_officer,
        "participants",
        csv_bytes(
            PARTICIPANT_HEADER,
            participant_row("VENDOR-ACME", "acme"),
            participant_row("VENDOR-BETA", "beta"),
        ),
    )
    data = csv_bytes(
        BALANCE_HEADER,
        ["acme-2024", "VENDOR-ACME", "125000", "credit", "Owed at go-live"],
        ["beta-2024", "VENDOR-BETA", "4000", "debit", ""],
    )
    record = run(finance_officer, "opening_balances", data)
    assert record.counts == {"created": 2}, record.problems
    acme = Account.objects.get(code="VENDOR-ACME")
    beta = Account.objects.get(code="VENDOR-BETA")
    equity = Account.objects.get(code="OPENING-BALANCE-USD")
    assert acme.posted_balance_minor == 125_000
    assert beta.posted_balance_minor == -4_000
    assert equity.type == "equity"
    assert equity.posted_balance_minor == -121_000
    assert acme.posted_balance_minor + beta.posted_balance_minor + equity.posted_balance_minor == 0
    transfer = Transfer.objects.get(idempotency_key="opening-balance:acme-2024")
    assert (transfer.debit_account, transfer.credit_account) == (equity, acme)
    assert transfer.created_by == finance_officer

    before = _state()
    assert run(finance_officer, "opening_balances", data).counts == {"unchanged": 2}
    assert _state() == before
    other = csv_bytes(BALANCE_HEADER, ["acme-2024", "VENDOR-ACME", "1", "credit", ""])
    refused = run(finance_officer, "opening_balances", other)
    assert where(refused) == [(2, "key")]
    assert "already used for a different opening balance" in refused.problems[0]["reason"]
    assert _state() == before


def test_a_refusal_while_writing_rolls_back_every_row(finance_officer, actor):
    from tests.builders import ledger_account

    run(finance_officer, "participants", csv_bytes(PARTICIPANT_HEADER, participant_row("V-1", "1")))
    ledger_account(actor, "LIMITED", limited=True)
    data = csv_bytes(
        BALANCE_HEADER,
        ["v1", "V-1", "100", "credit", ""],
        ["limited", "LIMITED", "100", "debit", ""],
        ["nowhere", "NOWHERE", "100", "credit", ""],
    )
    before = _state()
    record = run(finance_officer, "opening_balances", data)
    assert where(record) == [(4, "account_code")]
    good = csv_bytes(
        BALANCE_HEADER,
        ["v1", "V-1", "100", "credit", ""],
        ["limited", "LIMITED", "100", "debit", ""],
    )
    for dry_run in (True, False):
        record = run(finance_officer, "opening_balances", good, dry_run=dry_run)
        assert record.outcome == DataImportOutcome.REFUSED
        assert where(record) == [(3, "amount_minor")]
        assert "available" in record.problems[0]["reason"]
    assert _state() == before


def test_only_finance_officers_and_administrators_may_import(
    finance_officer, reviewer, auditor, civilian, housing
):
    data = csv_bytes(SERVICE_TYPE_HEADER, ["repairs", "Home repairs", "housing", "", "", ""])
    for person in (reviewer, auditor, civilian):
        with pytest.raises(PermissionDenied):
            run(person, "service_types", data)
    assert not DataImport.objects.exists()
    admin = get_user_model().objects.create_superuser("root", "root@example.test", "pw-12345678")
    assert run(admin, "service_types", data).outcome == DataImportOutcome.IMPORTED
    assert run(finance_officer, "service_types", data).counts == {"unchanged": 1}


def test_the_checks_read_the_database_a_fixed_number_of_times(
    finance_officer, inspection, django_assert_max_num_queries
):
    def rows(n: int) -> bytes:
        return csv_bytes(
            REQUEST_HEADER,
            *[request_row(f"HMS-2019-{i:06d}", status="bogus") for i in range(1, n + 1)],
        )

    with django_assert_max_num_queries(12):
        small = run(finance_officer, "requests", rows(3))
    with django_assert_max_num_queries(12):
        large = run(finance_officer, "requests", rows(300))
    assert len(small.problems) == 3
    assert len(large.problems) == 300


@pytest.mark.django_db(transaction=True)
def test_two_imports_of_one_file_at_the_same_moment_write_it_once(
    require_postgres, finance_officer, housing
):
    import threading

    from django.db import connection

    data = csv_bytes(
        SERVICE_TYPE_HEADER,
        *[[f"type-{i}", f"Type {i}", "housing", "", "", ""] for i in range(20)],
    )
    barrier = threading.Barrier(2)
    counts: list[dict[str, int]] = []

    def import_once() -> None:
        try:
            barrier.wait()
            counts.append(run(finance_officer, "service_types", data).counts)
        finally:
            connection.close()

    threads = [threading.Thread(target=import_once) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(counts, key=str) == [{"created": 20}, {"unchanged": 20}]
    assert ServiceType.objects.count() == 20
