"""Opening the next clearing cycle from the admin: finance only, one open cycle at a time."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from ledger import services as ledger
from ledger.models import ClearingCycle, CycleStatus

pytestmark = pytest.mark.django_db

URL = "/admin/ledger/clearingcycle/open-next/"
CHANGELIST = "/admin/ledger/clearingcycle/"


def test_finance_opens_the_next_cycle_and_is_told_when_one_is_still_open(
    client: Any, finance_officer: Any
) -> None:
    client.force_login(finance_officer)
    listing = client.get(CHANGELIST).content.decode()
    assert URL in listing
    confirm = client.get(URL)
    assert confirm.status_code == 200
    assert "Open the cycle" in confirm.content.decode()
    assert not ClearingCycle.objects.exists()  # a GET changes nothing

    opened = client.post(URL, follow=True)
    (cycle,) = ClearingCycle.objects.all()
    assert cycle.status == CycleStatus.OPEN
    assert cycle.created_by == finance_officer
    assert cycle.window_start < cycle.window_end
    assert f"Cycle {cycle.pk} opened" in opened.content.decode()
    assert cycle.history.first().history_user == finance_officer

    again = client.post(URL, follow=True).content.decode()
    assert f"Cycle {cycle.pk} (USD) is still open" in again
    assert ClearingCycle.objects.count() == 1


@pytest.mark.parametrize("who", ["reviewer", "auditor"])
def test_others_may_not_open_a_cycle(client: Any, request: Any, who: str) -> None:
    client.force_login(request.getfixturevalue(who))
    assert client.post(URL).status_code in (302, 403)
    assert not ClearingCycle.objects.exists()


def test_anonymous_is_sent_to_the_login(client: Any) -> None:
    response = client.post(URL)
    assert response.status_code == 302
    assert "login" in response["Location"]
    assert not ClearingCycle.objects.exists()


def test_the_next_cycle_starts_where_the_last_one_ended(actor: Any) -> None:
    first = ledger.cycle_open_next(actor=actor)
    with pytest.raises(ledger.ClearingError) as refused:
        ledger.cycle_open_next(actor=actor)
    assert refused.value.code == "cycle_open"
    ended = first.window_start + timedelta(microseconds=1)
    # (The test only) as if its window had ended and it had closed.
    ClearingCycle.objects.filter(pk=first.pk).update(
        status=CycleStatus.CLOSED, window_end=ended, closed_at=timezone.now()
    )
    second = ledger.cycle_open_next(actor=actor)
    assert second.window_start == ended
    assert second.window_end > timezone.now()
