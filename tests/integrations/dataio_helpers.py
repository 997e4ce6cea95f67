"""Building import files for the data migration tests."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from integrations.dataio.cases import Requests
from integrations.services.imports import data_import

GOOD_ROUTING = "021000021"  # a real ABA routing number: its check digit is right
BAD_ROUTING = "021000022"


def csv_bytes(header: Sequence[str], *rows: Sequence[Any]) -> bytes:
    text = io.StringIO(newline="")
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    return text.getvalue().encode()


def run(actor: Any, kind: str, data: bytes, *, dry_run: bool = False, name: str = "") -> Any:
    return data_import(
        actor=actor, kind=kind, file_name=name or f"{kind}.csv", data=data, dry_run=dry_run
    )


def where(record: Any) -> list[tuple[int, str]]:
    """Each problem's (line, column)."""
    return [(p["line"], p["column"]) for p in record.problems]


SERVICE_TYPE_HEADER = ("code", "name", "program", "fund", "max_amount_minor", "target_days")
REQUEST_HEADER = (*Requests.required, "amount_minor")
PARTICIPANT_HEADER = (
    "account_code",
    "name",
    "owner_kind",
    "owner_ref",
    "holder_name",
    "holder_kind",
    "routing_number",
    "account_number",
    "account_type",
)
BALANCE_HEADER = ("key", "account_code", "amount_minor", "side", "memo")


def request_row(number: str, service: str = "inspection", **overrides: Any) -> list[Any]:
    values = {
        "tracking_number": number,
        "service_type": service,
        "requester_email": "maria@old-cases.example",
        "contact_name": "María Pérez",
        "contact_email": "maria@old-cases.example",
        "description": "Mould in the bathroom since the winter.",
        "status": "fulfilled",
        "submitted_at": "2019-03-04T10:15:00+00:00",
        "amount_minor": "",
    }
    values.update(overrides)
    return [values[c] for c in REQUEST_HEADER]


def participant_row(code: str, ref: str, **overrides: Any) -> list[Any]:
    values = {
        "account_code": code,
        "name": f"Vendor {ref}",
        "owner_kind": "vendor",
        "owner_ref": ref,
        "holder_name": f"Vendor {ref} LLC",
        "holder_kind": "organisation",
        "routing_number": GOOD_ROUTING,
        "account_number": "000123456789",
        "account_type": "checking",
    }
    values.update(overrides)
    return [values[c] for c in PARTICIPANT_HEADER]
