"""The participant's money page: only their own accounts, live balances, fixed queries."""

from __future__ import annotations

from governance import services as governance
from governance.models import Outcome
from service_requests import services
from tests.builders import pending_approval
from tests.conftest import SESSION_QUERIES


def test_anonymous_visitor_is_sent_to_sign_in(client):
    response = client.get("/portfolio/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_civilian_sees_what_is_reserved_and_then_paid_to_them_only(
    client, civilian, other_civilian, reviewer, supervisor, rent_help, django_assert_max_num_queries
):
    request, case = pending_approval(civilian, reviewer, rent_help, amount_minor=123_400)
    governance.case_decide(actor=supervisor, case_id=case.pk, outcome=Outcome.APPROVE, reason="ok")
    client.force_login(civilian)
    with django_assert_max_num_queries(8 + SESSION_QUERIES):
        page = client.get("/portfolio/").content.decode()
    assert "$1,234.00" in page
    assert request.tracking_number in page
    with django_assert_max_num_queries(7 + SESSION_QUERIES):  # polled every few seconds
        part = client.get("/portfolio/", {"part": "balances"}).content.decode()
    assert "<html" not in part
    assert 'hx-trigger="every 5s"' in part

    services.request_fulfil(actor=reviewer, request_id=request.pk)
    part = client.get("/portfolio/", {"part": "balances"}).content.decode()
    assert "$1,234.00" in part  # now under "paid to you"
    assert "Money reserved for you" not in part

    client.force_login(other_civilian)
    other = client.get("/portfolio/").content.decode()
    assert "$1,234.00" not in other
    assert "No money has been granted to you yet" in other
