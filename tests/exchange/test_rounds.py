"""Exchange rounds through the services: listing, ranking, freezing, solving, and every bad
input the issue names refused with a field-keyed message, nothing changed, the round still
solvable."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone, translation

from exchange import selectors
from exchange import services as exchange
from exchange import snapshot as frozen
from exchange.models import (
    CycleStatus,
    ExchangeAssignment,
    ExchangeCycle,
    ExchangeItem,
    ExchangeRanking,
    ExchangeSnapshot,
)
from exchange.services.errors import ERR_EMPTY, ERR_NOBODY_RANKED

from .conftest import join, make_round, rank, solved, state_of

pytestmark = pytest.mark.django_db


def _refused(call: Any, field: str, contains: str) -> None:
    with pytest.raises(exchange.ExchangeError) as caught:
        call()
    assert list(caught.value.message_dict) == [field]
    assert contains in caught.value.message_dict[field][0]


def _rankings() -> list[tuple[int, int, int]]:
    return list(ExchangeRanking.objects.values_list("item_id", "ranked_id", "position"))


def test_a_three_way_swap_is_found_and_explained(officer: Any, open_round: Any, four: Any) -> None:
    round_ = solved(open_round, officer)
    assert state_of(round_) == "solved"
    (cycle,) = ExchangeCycle.objects.filter(round=round_)
    assert cycle.size == 3
    assert cycle.status == CycleStatus.PROPOSED
    got = dict(
        ExchangeAssignment.objects.filter(round=round_).values_list("item_id", "receives_id")
    )
    a, b, c, d = (i.pk for i in four)
    assert got == {a: b, b: c, c: a, d: None}
    _assignment, text = selectors.outcome_of(four[0])
    assert text.startswith("You receive “Home BEN” from its holder; the holder of “Home BEN”")
    assert "receives your “Home ANN”" in text
    assert "The cycle had 3 members." in text
    _, kept = selectors.outcome_of(four[3])
    assert kept.startswith("You keep “Home DAN”.")
    assert "Items you ranked higher (“Home ANN”, “Home CAT”) went to people who ranked" in kept


def test_explanations_are_in_spanish_too(officer: Any, open_round: Any, four: Any) -> None:
    solved(open_round, officer)
    with translation.override("es"):
        _, text = selectors.outcome_of(four[0])
        _, kept = selectors.outcome_of(four[3])
    assert text.startswith("Recibe “Home BEN” de quien lo tiene")
    assert "El ciclo tuvo 3 miembros." in text
    assert kept.startswith("Conserva “Home DAN”.")


def test_the_snapshot_is_by_item_number_and_recomputes(
    officer: Any, open_round: Any, four: Any
) -> None:
    round_ = exchange.round_freeze(actor=officer, round_id=open_round.pk)
    stored = ExchangeSnapshot.objects.get(round=round_)
    data = stored.data.encode()
    assert frozen.sha256(data) == round_.input_sha256 == stored.sha256
    loaded = frozen.load(data)
    assert loaded.items == sorted(i.pk for i in four)
    assert loaded.prefs == [[1], [2], [0], [0, 2]]
    assert "ann" not in stored.data
    assert "Home" not in stored.data


def test_best_swaps_respects_the_cap_and_says_so(officer: Any, housing: Any) -> None:
    round_ = make_round(officer, housing, rule="best_swaps", max_cycle=2, seed=7)
    items = join(round_, ["eve", "fay", "gus", "hal"])
    # A 3-cycle among e, f, g (everyone's first choice) and a swap between g and h.
    rank(items, {0: [1], 1: [2], 2: [0, 3], 3: [2]})
    solved(round_, officer)
    (cycle,) = ExchangeCycle.objects.filter(round=round_)
    assert cycle.size == 2
    _, text = selectors.outcome_of(items[0])
    assert "Cycles were limited to 2 members" in text
    assert "top trading cycles, without its longer cycles, would move 0" in text


def test_a_solve_the_solver_cannot_prove_is_refused_and_the_round_stays_frozen(
    officer: Any, housing: Any, monkeypatch: Any
) -> None:
    from allocations.rules import exchange as rules

    round_ = make_round(officer, housing, rule="best_swaps", max_cycle=3, seed=1)
    items = join(round_, ["ivy", "jon", "kim", "lou"])
    rank(items, {0: [1, 2, 3], 1: [2, 3, 0], 2: [3, 0, 1], 3: [0, 1, 2]})
    exchange.round_freeze(actor=officer, round_id=round_.pk)
    monkeypatch.setattr(rules, "SOLVE_LIMIT", 0.0)  # no time to prove anything
    _refused(
        lambda: exchange.round_solve(actor=officer, round_id=round_.pk),
        "max_cycle",
        "could not be proven within the solver's limit",
    )
    assert state_of(round_) == "frozen"
    assert not ExchangeCycle.objects.filter(round=round_).exists()
    monkeypatch.setattr(rules, "SOLVE_LIMIT", 600.0)
    exchange.round_solve(actor=officer, round_id=round_.pk)
    assert ExchangeCycle.objects.filter(round=round_).exists()


# --- bad input ---------------------------------------------------------------------------------


def test_ranking_ones_own_item_is_refused(officer: Any, open_round: Any, four: Any) -> None:
    before = _rankings()
    a = four[0]
    _refused(
        lambda: exchange.rankings_set(actor=a.holder, item_id=a.pk, ranked_ids=[four[1].pk, a.pk]),
        f"rank_{a.pk}",
        "your own item",
    )
    assert _rankings() == before
    assert state_of(solved(open_round, officer)) == "solved"


def test_ranking_the_same_item_twice_is_refused(officer: Any, open_round: Any, four: Any) -> None:
    before = _rankings()
    a, b = four[0], four[1]
    _refused(
        lambda: exchange.rankings_set(actor=a.holder, item_id=a.pk, ranked_ids=[b.pk, b.pk]),
        f"rank_{b.pk}",
        "more than once",
    )
    assert _rankings() == before
    assert state_of(solved(open_round, officer)) == "solved"


def test_ranking_after_the_window_is_refused(officer: Any, open_round: Any, four: Any) -> None:
    exchange.round_close_window(actor=officer, round_id=open_round.pk)
    before = _rankings()
    a = four[0]
    _refused(
        lambda: exchange.rankings_set(actor=a.holder, item_id=a.pk, ranked_ids=[four[2].pk]),
        "ranking",
        "Ranking for “Spring home swap” is closed",
    )
    assert _rankings() == before
    assert state_of(solved(open_round, officer)) == "solved"


def test_ranking_before_the_window_opens_is_refused(officer: Any, housing: Any) -> None:
    round_ = make_round(
        officer,
        housing,
        opens_at=timezone.now() + timedelta(days=1),
        closes_at=timezone.now() + timedelta(days=2),
    )
    items = join(round_, ["ivy", "jon"])
    _refused(
        lambda: exchange.rankings_set(
            actor=items[0].holder, item_id=items[0].pk, ranked_ids=[items[1].pk]
        ),
        "ranking",
        "is closed",
    )
    assert not ExchangeRanking.objects.exists()


def test_an_empty_round_cannot_be_frozen(officer: Any, open_round: Any) -> None:
    _refused(
        lambda: exchange.round_freeze(actor=officer, round_id=open_round.pk),
        "items",
        ERR_EMPTY.format(count=0),
    )
    assert state_of(open_round) == "open"
    assert not ExchangeSnapshot.objects.exists()
    items = join(open_round, ["kim", "lou"])
    rank(items, {0: [1], 1: [0]})
    assert state_of(solved(open_round, officer)) == "solved"


def test_a_round_where_nobody_ranked_cannot_be_frozen(officer: Any, open_round: Any) -> None:
    items = join(open_round, ["max", "ned", "oli"])
    _refused(
        lambda: exchange.round_freeze(actor=officer, round_id=open_round.pk),
        "rankings",
        ERR_NOBODY_RANKED,
    )
    assert state_of(open_round) == "open"
    assert not ExchangeSnapshot.objects.exists()
    rank(items, {0: [1], 1: [0]})
    assert state_of(solved(open_round, officer)) == "solved"


def test_ranking_an_item_withdrawn_after_the_snapshot_is_refused(
    officer: Any, open_round: Any, four: Any
) -> None:
    """A withdrawal after the freeze takes the snapshot again without the item; ranking it
    is refused by name, and the round solves without it."""
    round_ = exchange.round_freeze(actor=officer, round_id=open_round.pk)
    first = round_.input_sha256
    d = four[3]
    exchange.item_withdraw(actor=d.holder, item_id=d.pk)
    second = ExchangeSnapshot.objects.filter(round=round_).latest("pk")
    assert second.sha256 != first
    assert second.participants == 3
    assert frozen.load(second.data.encode()).round["previous"] == first
    before = _rankings()
    a = four[0]
    _refused(
        lambda: exchange.rankings_set(actor=a.holder, item_id=a.pk, ranked_ids=[d.pk]),
        "ranking",
        "closed",
    )
    _refused(lambda: exchange.item_withdraw(actor=d.holder, item_id=d.pk), "item", "already")
    assert _rankings() == before
    solved_round = exchange.round_solve(actor=officer, round_id=round_.pk)
    assert state_of(solved_round) == "solved"
    assert not ExchangeAssignment.objects.filter(item=d).exists()


def test_ranking_a_withdrawn_item_inside_the_window_is_refused(open_round: Any, four: Any) -> None:
    d = four[3]
    exchange.item_withdraw(actor=d.holder, item_id=d.pk)
    a = four[0]
    before = _rankings()
    _refused(
        lambda: exchange.rankings_set(actor=a.holder, item_id=a.pk, ranked_ids=[d.pk]),
        f"rank_{d.pk}",
        "was withdrawn",
    )
    assert _rankings() == before


def test_only_the_holder_ranks_and_a_second_listing_is_refused(open_round: Any, four: Any) -> None:
    a, b = four[0], four[1]
    _refused(
        lambda: exchange.rankings_set(actor=b.holder, item_id=a.pk, ranked_ids=[b.pk]),
        "ranking",
        "Only the holder",
    )
    _refused(
        lambda: exchange.item_list(
            actor=a.holder, round_id=open_round.pk, holder=a.holder, title="Another"
        ),
        "item",
        "already hold",
    )
    assert ExchangeItem.objects.count() == 4


def test_ranking_again_replaces_and_records_history(open_round: Any, four: Any) -> None:
    a = four[0]
    exchange.rankings_set(actor=a.holder, item_id=a.pk, ranked_ids=[four[2].pk, four[1].pk])
    assert list(ExchangeRanking.objects.filter(item=a).values_list("ranked_id", flat=True)) == [
        four[2].pk,
        four[1].pk,
    ]
    history = ExchangeRanking.history.filter(item_id=a.pk)
    assert {h.history_user for h in history} == {a.holder}
    count = history.count()
    exchange.rankings_set(actor=a.holder, item_id=a.pk, ranked_ids=[four[2].pk, four[1].pk])
    assert ExchangeRanking.history.filter(item_id=a.pk).count() == count


def test_only_officers_run_rounds(open_round: Any, four: Any) -> None:
    _refused(
        lambda: exchange.round_freeze(actor=four[0].holder, round_id=open_round.pk),
        "round",
        "Only exchange officers",
    )
    assert state_of(open_round) == "open"


def test_a_participant_cannot_set_money(open_round: Any) -> None:
    from tests.conftest import _person

    person = _person("pat", "civilian")
    _refused(
        lambda: exchange.item_list(
            actor=person, round_id=open_round.pk, holder=person, title="Flat", amount_minor=500
        ),
        "amount_minor",
        "Only exchange officers",
    )
    assert not ExchangeItem.objects.exists()
