"""Data migration exports: what is exported imports back unchanged (CSV and XLSX), no cell
can start a formula, bank account numbers stay masked, and only finance may export."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.urls import reverse
from openpyxl import load_workbook

from integrations import dataio
from integrations.models import DataImportOutcome
from tests.integrations.dataio_helpers import (
    BALANCE_HEADER,
    PARTICIPANT_HEADER,
    REQUEST_HEADER,
    SERVICE_TYPE_HEADER,
    csv_bytes,
    participant_row,
    request_row,
    run,
)

pytestmark = pytest.mark.django_db

EVENT_HEADER = ("tracking_number", "occurred_at", "kind", "message", "public", "actor_email")


@pytest.fixture
def migrated(finance_officer, housing, rent_fund):  # type: ignore[no-untyped-def]
    """One file of each kind, imported."""
    files = {
        "service_types": csv_bytes(
            SERVICE_TYPE_HEADER,
            ["repairs", '=HYPERLINK("http://evil")', "housing", "", "", "20"],
            ["grants", "Grants", "housing", "rent-relief", "100000", "10"],
        ),
        "requests": csv_bytes(
            REQUEST_HEADER,
            request_row("HMS-2019-000001", service="repairs"),
            request_row(
                "HMS-2019-000002",
                service="grants",
                status="rejected",
                amount_minor="50000",
                description="-1+1 @SUM(A1) needs help",
            ),
        ),
        "request_events": csv_bytes(
            EVENT_HEADER,
            ["HMS-2019-000001", "2019-03-04T10:15:00+00:00", "submitted", "Received.", "true", ""],
        ),
        "participants": csv_bytes(PARTICIPANT_HEADER, participant_row("VENDOR-ACME", "acme")),
        "opening_balances": csv_bytes(
            BALANCE_HEADER, ["acme-2024", "VENDOR-ACME", "125000", "credit", "Owed at go-live"]
        ),
    }
    for kind, data in files.items():
        record = run(finance_officer, kind, data)
        assert record.outcome == DataImportOutcome.IMPORTED, (kind, record.problems)
    return files


def _csv_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_every_export_imports_back_unchanged(finance_officer, migrated, fmt):
    for kind in dataio.KINDS:
        data = dataio.data_export(actor=finance_officer, kind=kind, fmt=fmt)
        record = run(finance_officer, kind, data, name=f"{kind}.{fmt}")
        assert record.outcome == DataImportOutcome.IMPORTED, (kind, record.problems)
        assert set(record.counts) == {"unchanged"}, (kind, record.counts)


def test_the_export_holds_what_was_imported(finance_officer, migrated):
    exported = _csv_rows(dataio.data_export(actor=finance_officer, kind="requests", fmt="csv"))
    header = exported[0]
    second = dict(zip(header, exported[2], strict=True))
    assert second["tracking_number"] == "HMS-2019-000002"
    assert second["submitted_at"] == "2019-03-04T10:15:00+00:00"
    assert second["amount_minor"] == "50000"
    assert second["status"] == "rejected"
    balances = _csv_rows(
        dataio.data_export(actor=finance_officer, kind="opening_balances", fmt="csv")
    )
    assert balances == [
        ["key", "account_code", "amount_minor", "side", "currency", "memo"],
        ["acme-2024", "VENDOR-ACME", "125000", "credit", "USD", "Owed at go-live"],
    ]


def test_exports_neutralise_formulas(finance_officer, migrated):
    types = _csv_rows(dataio.data_export(actor=finance_officer, kind="service_types", fmt="csv"))
    names = {row[0]: row[1] for row in types[1:]}
    assert names["repairs"] == '\'=HYPERLINK("http://evil")'
    requests = _csv_rows(dataio.data_export(actor=finance_officer, kind="requests", fmt="csv"))
    assert requests[2][5] == "'-1+1 @SUM(A1) needs help"
    workbook = load_workbook(
        io.BytesIO(dataio.data_export(actor=finance_officer, kind="service_types", fmt="xlsx"))
    )
    cells = [c for row in workbook.active.iter_rows() for c in row]
    assert all(c.data_type != "f" for c in cells)
    assert '\'=HYPERLINK("http://evil")' in [c.value for c in cells]


def test_exports_never_show_a_bank_account_number_in_full(finance_officer, migrated, tmp_path):
    data = dataio.data_export(actor=finance_officer, kind="participants", fmt="csv")
    assert b"000123456789" not in data
    # An XLSX file is compressed: its cells are read, not its bytes.
    workbook = load_workbook(
        io.BytesIO(dataio.data_export(actor=finance_officer, kind="participants", fmt="xlsx"))
    )
    header, first = (list(row) for row in workbook.active.iter_rows(max_row=2, values_only=True))
    values = [str(c.value) for row in workbook.active.iter_rows() for c in row]
    assert not any("123456789" in value for value in values)
    assert dict(zip(header, first, strict=True))["account_number"] == "****6789"
    path = tmp_path / "participants.csv"
    call_command("export_data", "participants", str(path), stdout=io.StringIO())
    rows = _csv_rows(path.read_bytes())
    assert dict(zip(rows[0], rows[1], strict=True))["account_number"] == "****6789"


def test_only_finance_officers_and_administrators_may_export(
    client, finance_officer, reviewer, auditor, migrated
):
    for person in (reviewer, auditor):
        with pytest.raises(PermissionDenied):
            dataio.data_export(actor=person, kind="service_types", fmt="csv")
    url = reverse("admin:integrations_dataimport_export_requests_csv")
    client.force_login(reviewer)
    assert client.get(url).status_code == 403
    client.force_login(finance_officer)
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="requests-')
    assert b"HMS-2019-000002" in response.content
    changelist = client.get(reverse("admin:integrations_dataimport_changelist"))
    assert changelist.status_code == 200
    assert url in changelist.content.decode()
