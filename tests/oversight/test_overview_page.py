"""`/oversight/`: who may open it, its tiles and tables, and filters checked."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.builders import submitted
from tests.factories import UserFactory

from .conftest import ny, place

URL = "/oversight/"


@pytest.fixture
def filed(inspection: Any, civilian: Any) -> None:
    place(submitted(civilian, inspection), ny(3, 3, 10))


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("supervisor", 200),
        ("finance_officer", 200),
        ("auditor", 200),
        ("administrator", 200),
        ("reviewer", 403),
        ("civilian", 403),
    ],
)
def test_who_may_open_the_overview(
    request: Any, client: Client, persona: str, expected: int, filed: None
) -> None:
    if persona == "administrator":
        user = UserFactory(username="ada", is_staff=True, is_superuser=True)
    else:
        user = request.getfixturevalue(persona)
    client.force_login(user)
    assert client.get(URL).status_code == expected


def test_anonymous_visitors_are_sent_to_sign_in(client: Client, db: Any) -> None:
    answer = client.get(URL)
    assert answer.status_code == 302
    assert "/accounts/login/" in answer["Location"]


def test_the_figures_show_as_tiles_and_tables(
    client: Client, auditor: Any, rent_fund: Any, filed: None
) -> None:
    client.force_login(auditor)
    page = client.get(URL, {"since": "2026-03-01", "until": "2026-03-31"}).content.decode()
    assert '<p class="font-heading-xl margin-0">1</p><p>received</p>' in page
    assert "rent-relief" in page
    assert "$10,000.00" in page
    assert "No satisfaction answers" in page


def test_a_bad_filter_is_named_and_nothing_is_computed(client: Client, auditor: Any) -> None:
    client.force_login(auditor)
    answer = client.get(URL, {"since": "2026-02-31"})
    assert answer.status_code == 400
    page = answer.content.decode()
    assert "Give a date as YYYY-MM-DD." in page
    assert 'id="tiles"' not in page


def test_a_supervisor_may_not_ask_for_another_program(
    client: Client, supervisor: Any, business: Any
) -> None:
    client.force_login(supervisor)
    answer = client.get(URL, {"program": "business"})
    assert answer.status_code == 400
    assert "You may not see the figures of the program" in answer.content.decode()
