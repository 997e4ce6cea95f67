"""Naming a fund's finance officers in the admin: administrators only, through
`fund_officers_set`, recorded in the fund's history; bad input changes nothing."""

from __future__ import annotations

import pytest
from django.urls import reverse

from allocations.models import Fund
from tests.conftest import _person

pytestmark = pytest.mark.django_db


@pytest.fixture
def administrator(db):  # type: ignore[no-untyped-def]
    user = _person("ada", None, staff=True)
    user.is_superuser = True
    user.save()
    return user


def _url(fund: Fund) -> str:
    return reverse("admin:allocations_fund_name_officers", args=[fund.pk])


def test_an_administrator_names_the_officers_and_the_history_says_who(
    client, administrator, finance_officer, rent_fund
):
    client.force_login(administrator)
    page = client.get(_url(rent_fund))
    assert page.status_code == 200
    assert "fiona" in page.content.decode()
    response = client.post(_url(rent_fund), {"officers": [finance_officer.pk]})
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:allocations_fund_change", args=[rent_fund.pk])
    assert list(rent_fund.officers.all()) == [finance_officer]
    latest = rent_fund.history.latest()
    assert latest.history_user == administrator
    assert latest.history_change_reason == "finance officers named"
    change = client.get(reverse("admin:allocations_fund_change", args=[rent_fund.pk]))
    assert _url(rent_fund) in change.content.decode()
    response = client.post(_url(rent_fund), {})
    assert response.status_code == 302
    assert not rent_fund.officers.exists()


def test_someone_outside_the_finance_group_is_refused_by_field(
    client, administrator, reviewer, finance_officer, rent_fund
):
    rent_fund.officers.set([finance_officer])
    client.force_login(administrator)
    response = client.post(_url(rent_fund), {"officers": [reviewer.pk]})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert list(rent_fund.officers.all()) == [finance_officer]


@pytest.mark.parametrize("persona", ["finance_officer", "auditor", "reviewer"])
def test_anyone_but_an_administrator_is_refused(client, request, persona, rent_fund):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(_url(rent_fund)).status_code == 403
    officer = request.getfixturevalue("finance_officer")
    assert client.post(_url(rent_fund), {"officers": [officer.pk]}).status_code == 403
    assert not rent_fund.officers.exists()


def test_an_anonymous_visitor_is_sent_to_sign_in(client, rent_fund):
    response = client.get(_url(rent_fund))
    assert response.status_code == 302
    assert "login" in response["Location"]
