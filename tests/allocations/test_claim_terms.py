"""Finance officers set a claim's terms in its round from the admin, while the round is open."""

from __future__ import annotations

import pytest
from django.urls import reverse

from allocations import services
from allocations.models import Claim
from tests.allocations.conftest import computed_round

pytestmark = pytest.mark.django_db


def change_url(claim: Claim) -> str:
    return reverse("admin:allocations_claim_change", args=[claim.pk])


def terms(**overrides: str) -> dict[str, str]:
    data = {
        "weight": "1",
        "priority": "0",
        "floor": "",
        "cap": "",
        "exclusion_reason": "",
    }
    data.update(overrides)
    return data


@pytest.fixture
def open_round(officer, round_fund, waiting_claims):  # type: ignore[no-untyped-def]
    round_ = services.round_create(
        actor=officer, fund=round_fund, name="Spring", budget_minor=900_000, rule="max_min"
    )
    return services.round_open(actor=officer, round_id=round_.pk)


def test_an_officer_sets_the_terms_of_a_claim_in_an_open_round(
    client, officer, open_round, waiting_claims
):
    claim = waiting_claims[0]  # asks 6,000.00
    client.force_login(officer)
    page = client.get(change_url(claim)).content.decode()
    assert 'name="floor"' in page
    assert 'name="cap"' in page
    response = client.post(
        change_url(claim),
        terms(weight="3", priority="1", floor="1,000.00", cap="4500", eligible="on"),
    )
    assert response.status_code == 302
    claim = Claim.objects.get(pk=claim.pk)
    assert (claim.weight, claim.priority, claim.floor_minor, claim.cap_minor) == (
        3,
        1,
        100_000,
        450_000,
    )
    assert claim.eligible
    latest = claim.history.first()
    assert latest.history_user == officer
    assert latest.history_change_reason == "terms set"


def test_an_officer_excludes_a_claim_with_a_published_reason(
    client, officer, open_round, waiting_claims
):
    claim = waiting_claims[1]
    client.force_login(officer)
    response = client.post(change_url(claim), terms(exclusion_reason="Helped this year already"))
    assert response.status_code == 302
    claim = Claim.objects.get(pk=claim.pk)
    assert not claim.eligible
    assert claim.exclusion_reason == "Helped this year already"


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (
            terms(floor="7000", eligible="on"),
            "floor",
            "The guaranteed minimum must be between 0 and the $6,000.00 asked.",
        ),
        (
            terms(floor="2000", cap="1500", eligible="on"),
            "cap",
            "at least the guaranteed minimum ($2,000.00) and at most the $6,000.00 asked.",
        ),
        (
            terms(cap="6000.01", eligible="on"),
            "cap",
            "at most the $6,000.00 asked.",
        ),
        (terms(weight="0", eligible="on"), "weight", "The weight is a whole number of at least 1."),
        (terms(), "exclusion_reason", "Give the reason the claim is not eligible"),
        (
            terms(eligible="on", exclusion_reason="No reason needed"),
            "exclusion_reason",
            "Leave the reason empty for an eligible claim.",
        ),
        (terms(floor="12.345", eligible="on"), "floor", "Enter an amount such as 40000"),
    ],
)
def test_bad_terms_are_shown_beside_their_field_and_nothing_is_saved(
    client, officer, open_round, waiting_claims, data, field, message
):
    claim = waiting_claims[0]
    before = list(Claim.objects.filter(pk=claim.pk).values())
    client.force_login(officer)
    response = client.post(change_url(claim), data)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert message in " ".join(errors.get(field, [])), errors
    assert list(Claim.objects.filter(pk=claim.pk).values()) == before


def test_terms_of_a_frozen_round_are_read_only_and_a_post_is_refused(
    client, officer, round_fund, waiting_claims
):
    computed_round(officer, round_fund)
    claim = waiting_claims[0]
    client.force_login(officer)
    page = client.get(change_url(claim))
    assert page.status_code == 200
    assert 'name="floor"' not in page.content.decode()
    response = client.post(change_url(claim), terms(weight="5", eligible="on"))
    assert response.status_code == 403
    assert Claim.objects.get(pk=claim.pk).weight == 1
    with pytest.raises(services.RoundError, match="is frozen in round"):
        services.claim_set_terms(actor=officer, claim_id=claim.pk, weight=5)


def test_the_service_refuses_a_cap_above_the_amount_asked(officer, open_round, waiting_claims):
    with pytest.raises(services.RoundError) as refused:
        services.claim_set_terms(actor=officer, claim_id=waiting_claims[2].pk, cap_minor=200_001)
    assert refused.value.message_dict == {
        "cap_minor": [
            "The cap must be more than 0, at least the guaranteed minimum ($0.00) and at most "
            "the $2,000.00 asked."
        ]
    }
    assert Claim.objects.get(pk=waiting_claims[2].pk).cap_minor is None


def test_who_may_set_terms(client, auditor, reviewer, open_round, waiting_claims):
    claim = waiting_claims[0]
    # An auditor reads the claim but gets no form, and a POST is refused.
    client.force_login(auditor)
    page = client.get(change_url(claim))
    assert page.status_code == 200
    assert 'name="weight"' not in page.content.decode()
    assert client.post(change_url(claim), terms(weight="4", eligible="on")).status_code == 403
    # A reviewer has no business with claims at all.
    client.force_login(reviewer)
    assert client.get(change_url(claim)).status_code == 403
    # Anonymous: sent to sign in.
    client.logout()
    assert client.get(change_url(claim)).status_code == 302
    assert Claim.objects.get(pk=claim.pk).weight == 1


def test_the_round_page_links_to_its_claims_and_the_list_filters_by_round(
    client, officer, open_round, waiting_claims, django_assert_max_num_queries
):
    client.force_login(officer)
    page = client.get(reverse("admin:allocations_allocationround_change", args=[open_round.pk]))
    link = reverse("admin:allocations_claim_changelist") + f"?round__id__exact={open_round.pk}"
    assert link in page.content.decode()
    with django_assert_max_num_queries(20):
        listing = client.get(link)
    assert listing.status_code == 200
    assert {c.pk for c in listing.context["cl"].result_list} == {c.pk for c in waiting_claims}
