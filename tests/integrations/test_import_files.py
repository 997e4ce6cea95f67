"""Data migration imports of files that are not what they should be: a clear message, a
record of the refusal, nothing written and never a 500; the command and the admin page."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse
from openpyxl import Workbook

from integrations.models import DataImport, DataImportOutcome
from service_requests.models import ServiceType
from tests.integrations.dataio_helpers import SERVICE_TYPE_HEADER, csv_bytes, run

pytestmark = pytest.mark.django_db

GOOD = csv_bytes(SERVICE_TYPE_HEADER, ["repairs", "Home repairs", "housing", "", "", "20"])


def _xlsx(rows: list[list[object]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        (
            "types.csv",
            "code,name,program\nrepairs,Réparations,housing\n".encode("latin-1"),
            "The CSV file is not UTF-8 text (byte 28); save it as CSV UTF-8.",
        ),
        (
            "types.csv",
            b"code,name\nrepairs,Home repairs\n",
            "Columns missing from the first row: program.",
        ),
        (
            "types.csv",
            b"code,name,program,colour\nrepairs,Home repairs,housing,red\n",
            "Unknown columns: colour.",
        ),
        ("types.csv", b"", "The file is empty."),
        ("types.csv", b"code,code,program\n", "Column code appears twice in the first row."),
        ("types.xlsx", b"code,name,program\n", "types.xlsx is not an XLSX workbook"),
        ("types.txt", GOOD, "Name the file .csv or .xlsx: types.txt is neither."),
    ],
)
def test_a_bad_file_gets_a_clear_message_and_writes_nothing(
    finance_officer, housing, name, data, message
):
    record = run(finance_officer, "service_types", data, name=name)
    assert record.outcome == DataImportOutcome.REFUSED
    assert record.message.startswith(message)
    assert not ServiceType.objects.exists()


def test_a_zip_that_is_not_a_workbook_is_refused(finance_officer, housing):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "not a workbook")
    record = run(finance_officer, "service_types", buffer.getvalue(), name="types.xlsx")
    assert (
        record.message
        == "types.xlsx is not an XLSX workbook (save it as Excel Workbook .xlsx, or as CSV)."
    )


def test_a_huge_file_is_refused_before_it_is_parsed(finance_officer, housing, settings):
    settings.HMS_DATAIO_MAX_BYTES = 100
    record = run(finance_officer, "service_types", GOOD + b"x" * 200)
    assert record.message.startswith("The file is 2")
    settings.HMS_DATAIO_MAX_BYTES = 10_000
    settings.HMS_DATAIO_MAX_ROWS = 2
    rows = [["t1", "T", "housing", "", "", ""]] * 3
    record = run(finance_officer, "service_types", csv_bytes(SERVICE_TYPE_HEADER, *rows))
    assert record.message == "The file has more than 2 rows; split it into smaller files."


def test_an_xlsx_file_imports_like_a_csv_file(finance_officer, housing):
    data = _xlsx(
        [list(SERVICE_TYPE_HEADER), ["repairs", "Home repairs", "housing", None, 250000, 20]]
    )
    record = run(finance_officer, "service_types", data, name="types.xlsx")
    assert record.outcome == DataImportOutcome.IMPORTED, (record.message, record.problems)
    repairs = ServiceType.objects.get(code="repairs")
    assert (repairs.max_amount_minor, repairs.target_days) == (250_000, 20)


def test_the_command_reports_every_problem_and_fails_on_a_refusal(tmp_path, housing):
    path = tmp_path / "types.csv"
    path.write_bytes(
        csv_bytes(
            SERVICE_TYPE_HEADER,
            ["repairs", "Home repairs", "housing", "", "", ""],
            ["bad", "Bad", "nowhere", "", "", "x"],
        )
    )
    out = io.StringIO()
    with pytest.raises(CommandError, match="Nothing was written"):
        call_command("import_data", "service_types", str(path), "--dry-run", stdout=out)
    assert "line 3, column program: No program has the code nowhere." in out.getvalue()
    assert "line 3, column target_days: x is not a whole number." in out.getvalue()
    path.write_bytes(GOOD)
    call_command("import_data", "service_types", str(path), stdout=out)
    assert ServiceType.objects.get().code == "repairs"
    assert DataImport.objects.latest("id").actor.username == "system"
    assert ServiceType.history.get().history_user.username == "system"


def test_the_admin_imports_for_a_finance_officer_and_refuses_a_reviewer(
    client, finance_officer, reviewer, housing
):
    url = reverse("admin:integrations_dataimport_add")
    client.force_login(reviewer)
    assert client.get(url).status_code == 403
    upload = SimpleUploadedFile("types.csv", GOOD, content_type="text/csv")
    assert client.post(url, {"kind": "service_types", "file": upload}).status_code == 403
    assert not DataImport.objects.exists()

    client.force_login(finance_officer)
    assert client.get(url).status_code == 200
    upload = SimpleUploadedFile("types.csv", GOOD, content_type="text/csv")
    response = client.post(url, {"kind": "passwords", "file": upload})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not DataImport.objects.exists()
    upload = SimpleUploadedFile("types.csv", b"\xff\xfe garbage", content_type="text/csv")
    response = client.post(url, {"kind": "service_types", "file": upload, "dry_run": "on"})
    record = DataImport.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:integrations_dataimport_change", args=[record.pk])
    assert record.outcome == DataImportOutcome.REFUSED
    page = client.get(response["Location"]).content.decode()
    assert "not UTF-8 text" in page

    upload = SimpleUploadedFile("types.csv", GOOD, content_type="text/csv")
    client.post(url, {"kind": "service_types", "file": upload})
    assert DataImport.objects.latest("id").outcome == DataImportOutcome.IMPORTED
    assert ServiceType.history.get().history_user == finance_officer
