"""Every role against every exchange action, service and screen: one table.

Services: officers (the finance role) create, run and commit rounds; nobody else does.
Admin: officers and auditors see the rounds, nobody else. Pages: the participant's page needs
a sign-in, the results are public. Cycle cases: the officers who solved and sent a round may
not decide its cycles; the program's supervisor may.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.admin import helpers
from django.urls import reverse
from django.utils import timezone

from core import roles
from exchange import services as exchange
from governance import services as governance
from tests.conftest import _person

from .conftest import join, make_round, rank, solved, state_of

pytestmark = pytest.mark.django_db

ALLOWED = None
FORBIDDEN = "Only exchange officers"
PERSONAS = ["civilian", "reviewer", "supervisor", "finance_officer", "auditor"]
SERVICE_ROWS: dict[str, dict[str, str | None]] = {
    # action: persona -> refusal (None: allowed)
    action: {p: (ALLOWED if p == "finance_officer" else FORBIDDEN) for p in PERSONAS}
    for action in ["create", "open", "close", "freeze", "solve", "send", "commit", "cancel"]
}
ADMIN_ROWS = {
    "civilian": 302,  # not staff: sent to sign in
    "reviewer": 403,
    "supervisor": 403,
    "finance_officer": 200,
    "auditor": 200,
}


@pytest.fixture
def people(civilian: Any, reviewer: Any, supervisor: Any, finance_officer: Any, auditor: Any):  # type: ignore[no-untyped-def]
    return {
        "civilian": civilian,
        "reviewer": reviewer,
        "supervisor": supervisor,
        "finance_officer": finance_officer,
        "auditor": auditor,
    }


def _ready(action: str, officer: Any, housing: Any) -> Any:
    """A round in the state the action needs (None for create)."""
    if action == "create":
        return None
    if action == "open":
        return exchange.round_create(
            actor=officer,
            program=housing,
            title="Draft",
            opens_at=timezone.now(),
            closes_at=timezone.now() + timedelta(days=1),
        )
    round_ = make_round(officer, housing)
    if action in ("close", "freeze", "cancel"):
        items = join(round_, ["ann", "ben"])
        rank(items, {0: [1], 1: [0]})
        return round_
    items = join(round_, ["ann", "ben"])
    rank(items, {0: [1], 1: [0]})
    solved(round_, officer)
    if action == "solve":
        return round_  # solved already: only the permission check can differ before state
    if action == "commit":
        exchange.round_send_for_approval(actor=officer, round_id=round_.pk)
    return round_


def _call(action: str, person: Any, round_: Any, housing: Any) -> Any:
    if action == "create":
        return exchange.round_create(
            actor=person,
            program=housing,
            title="New",
            opens_at=timezone.now(),
            closes_at=timezone.now() + timedelta(days=1),
        )
    service = {
        "open": exchange.round_open,
        "close": exchange.round_close_window,
        "freeze": exchange.round_freeze,
        "solve": exchange.round_solve,
        "send": exchange.round_send_for_approval,
        "commit": exchange.round_commit,
        "cancel": exchange.round_cancel,
    }[action]
    return service(actor=person, round_id=round_.pk)


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("action", list(SERVICE_ROWS))
def test_service_matrix(
    people: dict[str, Any], officer: Any, housing: Any, action: str, persona: str
) -> None:
    round_ = _ready(action, officer, housing)
    before = state_of(round_) if round_ is not None else None
    expected = SERVICE_ROWS[action][persona]
    if expected is ALLOWED:
        if action in ("solve", "commit"):
            with pytest.raises(exchange.ExchangeError, match="cannot be"):
                _call(action, people[persona], round_, housing)  # the state, not the person
        else:
            _call(action, people[persona], round_, housing)
        return
    with pytest.raises(exchange.ExchangeError, match=expected):
        _call(action, people[persona], round_, housing)
    if round_ is not None:
        assert state_of(round_) == before


@pytest.mark.parametrize("persona", PERSONAS)
def test_admin_matrix(
    client: Any, people: dict[str, Any], officer: Any, housing: Any, persona: str
) -> None:
    round_ = make_round(officer, housing)
    client.force_login(people[persona])
    changelist = reverse("admin:exchange_exchangeround_changelist")
    assert client.get(changelist).status_code == ADMIN_ROWS[persona]
    if persona != "finance_officer":
        # An action posted anyway changes nothing.
        client.post(
            changelist,
            {"action": "freeze_rounds", helpers.ACTION_CHECKBOX_NAME: [str(round_.pk)]},
        )
        assert state_of(round_) == "open"


def test_admin_actions_drive_a_round(client: Any, officer: Any, housing: Any) -> None:
    round_ = make_round(officer, housing)
    rank(join(round_, ["ann", "ben"]), {0: [1], 1: [0]})
    client.force_login(officer)
    changelist = reverse("admin:exchange_exchangeround_changelist")
    for action, state in [("freeze_rounds", "frozen"), ("solve_rounds", "solved")]:
        client.post(changelist, {"action": action, helpers.ACTION_CHECKBOX_NAME: [str(round_.pk)]})
        assert state_of(round_) == state
    page = client.get(reverse("admin:exchange_exchangeround_change", args=[round_.pk]))
    assert page.status_code == 200
    assert f"/exchange/{round_.pk}/results/" in page.content.decode()


def test_admin_add_form_refuses_a_backwards_window(client: Any, officer: Any, housing: Any) -> None:
    client.force_login(officer)
    now = timezone.now()
    response = client.post(
        reverse("admin:exchange_exchangeround_add"),
        {
            "program": housing.pk,
            "title": "Backwards",
            "item_kind": "home",
            "rule": "ttc",
            "max_cycle": 3,
            "seed": 0,
            "currency": "USD",
            "opens_at_0": now.strftime("%Y-%m-%d"),
            "opens_at_1": "12:00:00",
            "closes_at_0": (now - timedelta(days=1)).strftime("%Y-%m-%d"),
            "closes_at_1": "12:00:00",
        },
    )
    assert response.status_code == 200
    assert "must close after it opens" in response.content.decode()


PAGE_ROWS = {
    # page: (anonymous, signed-in civilian)
    "round": (302, 200),
    "results": (200, 200),
    "snapshot": (200, 200),
}


@pytest.mark.parametrize("page", list(PAGE_ROWS))
def test_page_matrix(client: Any, officer: Any, housing: Any, civilian: Any, page: str) -> None:
    round_ = make_round(officer, housing)
    rank(join(round_, ["ann", "ben"]), {0: [1], 1: [0]})
    solved(round_, officer)
    url = {
        "round": f"/exchange/{round_.pk}/",
        "results": f"/exchange/{round_.pk}/results/",
        "snapshot": f"/exchange/{round_.pk}/snapshot.json",
    }[page]
    anonymous, signed_in = PAGE_ROWS[page]
    assert client.get(url).status_code == anonymous
    client.force_login(civilian)
    assert client.get(url).status_code == signed_in


CASE_ROWS = {"solver": "You recommended this", "sender": "You submitted this", "supervisor": None}


@pytest.mark.parametrize("who", list(CASE_ROWS))
def test_cycle_case_matrix(officer: Any, supervisor: Any, housing: Any, who: str) -> None:
    from guardian.shortcuts import assign_perm

    sender = _person("felix", roles.FINANCE_OFFICER, staff=True)
    for person in (officer, sender):
        assign_perm("governance.decide_program", person, housing)
    round_ = make_round(officer, housing)
    rank(join(round_, ["ann", "ben"]), {0: [1], 1: [0]})
    solved(round_, officer)
    exchange.round_send_for_approval(actor=sender, round_id=round_.pk)
    case = round_.cycles.get().approval_case
    assert case is not None
    person = {"solver": officer, "sender": sender, "supervisor": supervisor}[who]
    expected = CASE_ROWS[who]
    if expected is None:
        governance.case_decide(actor=person, case_id=case.pk, outcome="approve", reason="Fine")
        assert state_of(round_) == "approved"
    else:
        with pytest.raises(governance.GovernanceError, match=expected):
            governance.case_decide(actor=person, case_id=case.pk, outcome="approve", reason="x")
        assert state_of(round_) == "under_approval"
