"""`manage.py outcomes_report`: the JSON interface's keys and types, the text report, and bad
arguments refused with a clear message and exit code 2."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.builders import submitted

from .conftest import ny, place

KEYS = [
    "received",
    "closed",
    "backlog_open",
    "first_response_hours",
    "decision_hours",
    "resolution_days",
    "within_target_ratio",
    "csat",
    "funds",
    "workload",
]


def report(*args: str) -> str:
    out = StringIO()
    call_command("outcomes_report", *args, stdout=out)
    return out.getvalue()


def test_json_has_exactly_the_interfaces_keys(
    rent_help: Any, inspection: Any, civilian: Any
) -> None:
    place(submitted(civilian, inspection), ny(3, 3, 10))
    answer = json.loads(report("--json", "--since", "2026-03-01", "--until", "2026-03-31"))
    assert list(answer) == KEYS
    assert answer["received"] == 1
    assert answer["backlog_open"] == 1
    assert isinstance(answer["closed"], int)
    assert set(answer["first_response_hours"]) == {"p50", "p90"}
    assert set(answer["csat"]) == {"responses", "mean", "response_rate"}
    assert set(answer["workload"]) == {"open_by_reviewer", "jain", "gini"}
    assert answer["funds"] == [
        {
            "code": "rent-relief",
            "budget_minor": 1_000_000,
            "obligated_minor": 0,
            "spent_minor": 0,
            "available_minor": 1_000_000,
        }
    ]
    assert answer["within_target_ratio"] is None


def test_until_includes_its_last_day_and_program_narrows(
    inspection: Any, permit_help: Any, civilian: Any
) -> None:
    place(submitted(civilian, inspection), ny(3, 31, 23))
    place(submitted(civilian, permit_help), ny(3, 31, 10))
    assert json.loads(report("--json", "--until", "2026-03-31"))["received"] == 2
    assert json.loads(report("--json", "--until", "2026-03-30"))["received"] == 0
    housing_only = report("--json", "--until", "2026-03-31", "--program", "housing")
    assert json.loads(housing_only)["received"] == 1


def test_text_report_is_readable_and_says_when_there_is_no_data(db: Any) -> None:
    text = report("--since", "2026-03-01", "--until", "2026-03-31")
    assert "Received: 0" in text
    assert "First response: no data" in text
    assert "no funds" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "2026-13-01"], "since: Give a date as YYYY-MM-DD."),
        (["--until", "yesterday"], "until: Give a date as YYYY-MM-DD."),
        (["--since", "2026-03-02", "--until", "2026-03-01"], "until: The period must end"),
        (["--program", "nowhere"], "program: No program has the code 'nowhere'."),
    ],
)
def test_bad_arguments_exit_with_code_2(db: Any, args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message) as refused:
        report("--json", *args)
    assert refused.value.returncode == 2
