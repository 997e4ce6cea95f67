"""The voting page of a participatory round: one approval ballot per voter per round,
changeable until the round freezes, each version kept in history."""

from __future__ import annotations

import pytest
from django.urls import reverse

from allocations import selectors, services
from allocations.models import AllocationBallot, RoundState
from tests.allocations.conftest import make_claims, open_voting_round, state_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def projects(actor, round_fund):  # type: ignore[no-untyped-def]
    return make_claims(actor, round_fund, [400_000, 300_000, 300_000], prefix="PB-")


@pytest.fixture
def voting_round(officer, round_fund, projects):  # type: ignore[no-untyped-def]
    return open_voting_round(officer, round_fund)


def vote_url(round_) -> str:  # type: ignore[no-untyped-def]
    return reverse("allocations:vote", args=[round_.pk])


def test_a_civilian_casts_then_changes_one_ballot_recorded_in_history(
    client, civilian, voting_round, projects
):
    a, b, c = (p.pk for p in projects)
    client.force_login(civilian)
    page = client.get(vote_url(voting_round)).content.decode()
    assert "PB-00001 — $4,000.00" in page
    assert "You have not voted in this round yet." in page

    response = client.post(vote_url(voting_round), {"projects": [str(a), str(c)]})
    assert response.status_code == 302
    ballot = AllocationBallot.objects.get(round=voting_round)
    assert ballot.approvals == [a, c]
    # A pseudonym, never the account's name or email.
    assert ballot.voter_ref == selectors.voter_ref_for(civilian)
    assert civilian.username not in ballot.voter_ref
    assert len(ballot.voter_ref) == 64

    page = client.get(vote_url(voting_round)).content.decode()
    assert "Your ballot approves 2 projects." in page
    assert "Your ballot is recorded." in page

    client.post(vote_url(voting_round), {"projects": [str(b)]})
    client.post(vote_url(voting_round), {"projects": [str(b)]})  # a double click
    assert AllocationBallot.objects.filter(round=voting_round).count() == 1
    assert AllocationBallot.objects.get(round=voting_round).approvals == [b]
    versions = list(ballot.history.order_by("history_date", "history_id"))
    assert [(v.history_change_reason, v.approvals) for v in versions] == [
        ("ballot cast", [a, c]),
        ("ballot changed", [b]),
    ]
    assert {v.history_user for v in versions} == {civilian}


def test_each_voter_has_their_own_ballot(
    client, civilian, other_civilian, reviewer, voting_round, projects
):
    for person, chosen in ((civilian, 0), (other_civilian, 1), (reviewer, 2)):
        client.force_login(person)
        client.post(vote_url(voting_round), {"projects": [str(projects[chosen].pk)]})
    assert AllocationBallot.objects.filter(round=voting_round).count() == 3


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "Choose at least one project."),
        ({"projects": ["999999"]}, "One of the projects you chose is no longer in this round."),
        ({"projects": ["x"]}, "One of the projects you chose is no longer in this round."),
    ],
)
def test_a_bad_ballot_is_refused_with_a_message_and_nothing_is_stored(
    client, civilian, voting_round, data, message
):
    client.force_login(civilian)
    response = client.post(vote_url(voting_round), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not AllocationBallot.objects.exists()


def test_the_service_refuses_a_project_of_another_round(
    civilian, officer, actor, round_fund, voting_round, projects
):
    other = make_claims(actor, round_fund, [100_000], prefix="ZZ-")[0]
    with pytest.raises(services.RoundError, match="no longer in this round"):
        services.ballot_cast_own(actor=civilian, round_id=voting_round.pk, claim_ids=[other.pk])
    assert not AllocationBallot.objects.exists()


def test_a_project_excluded_from_the_round_cannot_be_voted_for(
    client, civilian, officer, voting_round, projects
):
    a, b, _c = (p.pk for p in projects)
    services.claim_set_terms(
        actor=officer, claim_id=b, eligible=False, exclusion_reason="Outside the district."
    )
    client.force_login(civilian)
    assert f'value="{b}"' not in client.get(vote_url(voting_round)).content.decode()
    with pytest.raises(services.RoundError, match="no longer in this round"):
        services.ballot_cast_own(actor=civilian, round_id=voting_round.pk, claim_ids=[a, b])
    assert not AllocationBallot.objects.exists()
    services.ballot_cast_own(actor=civilian, round_id=voting_round.pk, claim_ids=[a])
    assert AllocationBallot.objects.get().approvals == [a]


def test_after_freezing_the_ballot_is_shown_and_can_no_longer_change(
    client, civilian, officer, voting_round, projects
):
    a, b, _c = (p.pk for p in projects)
    client.force_login(civilian)
    client.post(vote_url(voting_round), {"projects": [str(a)]})
    services.round_freeze(actor=officer, round_id=voting_round.pk)
    assert state_of(voting_round) == RoundState.FROZEN
    page = client.get(vote_url(voting_round)).content.decode()
    assert "Voting in this round has closed" in page
    assert "PB-00001 — $4,000.00" in page
    assert 'type="checkbox"' not in page
    response = client.post(vote_url(voting_round), {"projects": [str(b)]})
    assert response.status_code == 409
    assert "has closed: the ballots were frozen" in response.content.decode()
    assert AllocationBallot.objects.get().approvals == [a]
    with pytest.raises(services.RoundError, match="has closed"):
        services.ballot_cast_own(actor=civilian, round_id=voting_round.pk, claim_ids=[b])


def test_who_may_vote_and_in_which_rounds(client, civilian, officer, round_fund, voting_round):
    # Anonymous: sent to sign in.
    response = client.get(vote_url(voting_round))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]
    client.force_login(civilian)
    # A round divided by a rule without ballots, or a draft, has no voting page.
    plain = services.round_create(
        actor=officer, fund=round_fund, name="Plain", budget_minor=1, rule="max_min"
    )
    plain = services.round_open(actor=officer, round_id=plain.pk)
    assert state_of(plain) == RoundState.OPEN
    assert client.get(vote_url(plain)).status_code == 404
    draft = services.round_create(
        actor=officer, fund=round_fund, name="Later", budget_minor=1, rule="equal_shares"
    )
    assert client.get(vote_url(draft)).status_code == 404


def test_the_rounds_page_lists_rounds_open_for_votes(client, voting_round):
    page = client.get(reverse("allocations:rounds")).content.decode()
    assert "Open for votes" in page
    assert vote_url(voting_round) in page


def test_the_voting_page_runs_a_fixed_number_of_queries(
    client, civilian, actor, round_fund, voting_round, django_assert_max_num_queries
):
    make_claims(actor, round_fund, [10_000] * 30, prefix="MORE-")
    services.round_gather(actor=voting_round.created_by, round_id=voting_round.pk)
    client.force_login(civilian)
    with django_assert_max_num_queries(12):
        response = client.get(vote_url(voting_round))
    assert response.content.decode().count('type="checkbox"') == 33


def test_the_voting_page_speaks_spanish(client, civilian, voting_round):
    client.force_login(civilian)
    client.cookies["django_language"] = "es"
    page = client.get(vote_url(voting_round)).content.decode()
    assert 'lang="es"' in page
    assert "Votar: Neighbourhood projects" in page
    assert "Emitir mi voto" in page
    response = client.post(vote_url(voting_round), {})
    assert "Elija al menos un proyecto." in response.content.decode()


def test_an_auditor_reads_each_version_of_a_ballot_in_the_admin(
    client, civilian, auditor, voting_round, projects
):
    client.force_login(civilian)
    client.post(vote_url(voting_round), {"projects": [str(projects[0].pk)]})
    client.post(vote_url(voting_round), {"projects": [str(projects[1].pk)]})
    ballot = AllocationBallot.objects.get()
    client.force_login(auditor)
    page = client.get(reverse("admin:allocations_allocationballot_history", args=[ballot.pk]))
    assert page.status_code == 200
    text = page.content.decode()
    assert "ballot cast" in text
    assert "ballot changed" in text
