"""The participant's page and the public results: GET and POST, refusals beside their field,
nothing personal on the public page, drafts and strangers kept out."""

from __future__ import annotations

from typing import Any

import pytest

from exchange import services as exchange
from exchange.models import ExchangeItem, ExchangeRanking

from .conftest import join, make_round, rank, solved

pytestmark = pytest.mark.django_db


def _post(client: Any, round_: Any, **data: Any) -> Any:
    return client.post(f"/exchange/{round_.pk}/", data)


def test_anonymous_visitors_are_sent_to_sign_in(client: Any, open_round: Any) -> None:
    response = client.get(f"/exchange/{open_round.pk}/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_a_draft_round_is_not_found(client: Any, officer: Any, housing: Any, civilian: Any) -> None:
    from datetime import timedelta

    from django.utils import timezone

    draft = exchange.round_create(
        actor=officer,
        program=housing,
        title="Draft",
        opens_at=timezone.now(),
        closes_at=timezone.now() + timedelta(days=1),
    )
    client.force_login(civilian)
    assert client.get(f"/exchange/{draft.pk}/").status_code == 404
    assert client.get(f"/exchange/{draft.pk}/results/").status_code == 404


def test_a_participant_lists_an_item_then_ranks(
    client: Any, open_round: Any, civilian: Any, other_civilian: Any
) -> None:
    other = exchange.item_list(
        actor=other_civilian, round_id=open_round.pk, holder=other_civilian, title="Flat 9"
    )
    client.force_login(civilian)
    page = client.get(f"/exchange/{open_round.pk}/")
    assert page.status_code == 200
    assert "List your item" in page.content.decode()
    response = _post(client, open_round, action="list", title="", description="")
    assert response.status_code == 400
    assert 'id="id_title-error"' in response.content.decode()
    assert 'aria-describedby="id_title-hint id_title-error"' in response.content.decode()
    response = _post(client, open_round, action="list", title="Flat 2", description="Sunny")
    assert response.status_code == 302
    own = ExchangeItem.objects.get(holder=civilian)
    page = client.get(f"/exchange/{open_round.pk}/").content.decode()
    assert f'<label class="usa-label" for="id_rank_{other.pk}">Flat 9' in page
    assert "<legend" in page
    assert "Not acceptable" in page
    response = _post(client, open_round, action="rank", **{f"rank_{other.pk}": "1"})
    assert response.status_code == 302
    assert list(ExchangeRanking.objects.filter(item=own).values_list("ranked_id", flat=True)) == [
        other.pk
    ]


def test_two_items_in_the_same_place_are_refused_beside_the_second(
    client: Any, open_round: Any
) -> None:
    items = join(open_round, ["ann", "ben", "cat"])
    client.force_login(items[0].holder)
    response = _post(
        client,
        open_round,
        action="rank",
        **{f"rank_{items[1].pk}": "1", f"rank_{items[2].pk}": "1"},
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert f'id="id_rank_{items[2].pk}-error"' in body
    assert "the same place as" in body
    assert not ExchangeRanking.objects.exists()


def test_ranking_after_the_window_answers_409_and_changes_nothing(
    client: Any, officer: Any, open_round: Any
) -> None:
    items = join(open_round, ["ann", "ben"])
    rank(items, {0: [1]})
    exchange.round_close_window(actor=officer, round_id=open_round.pk)
    client.force_login(items[1].holder)
    response = _post(client, open_round, action="rank", **{f"rank_{items[0].pk}": "1"})
    assert response.status_code == 409
    assert "is closed" in response.content.decode()
    assert ExchangeRanking.objects.count() == 1


def test_withdrawing_from_the_page(client: Any, open_round: Any) -> None:
    items = join(open_round, ["ann", "ben"])
    client.force_login(items[0].holder)
    assert _post(client, open_round, action="withdraw").status_code == 302
    assert ExchangeItem.objects.get(pk=items[0].pk).withdrawn_at is not None
    response = _post(client, open_round, action="withdraw")
    assert response.status_code == 409


def test_an_unknown_action_is_a_bad_request(client: Any, open_round: Any, civilian: Any) -> None:
    client.force_login(civilian)
    assert _post(client, open_round, action="steal").status_code == 400


def test_the_outcome_and_the_public_results(
    client: Any, officer: Any, housing: Any, civilian: Any
) -> None:
    round_ = make_round(officer, housing, title="Market stalls")
    items = join(round_, ["ann", "ben", "cat"])
    rank(items, {0: [1], 1: [2], 2: [0]})
    solved(round_, officer)
    client.force_login(items[0].holder)
    page = client.get(f"/exchange/{round_.pk}/").content.decode()
    assert "You receive “Home BEN” from its holder" in page
    client.logout()
    results = client.get(f"/exchange/{round_.pk}/results/")
    assert results.status_code == 200
    body = results.content.decode()
    assert round_.snapshots.get().sha256 in body
    for item in items:
        assert item.title not in body
        assert item.holder.email not in body
        assert item.description not in body
    snapshot = client.get(f"/exchange/{round_.pk}/snapshot.json")
    assert snapshot.status_code == 200
    assert b'"format":"hms-exchange-round/1"' in snapshot.content


def test_the_page_is_in_spanish(client: Any, open_round: Any, civilian: Any) -> None:
    client.force_login(civilian)
    client.cookies["django_language"] = "es"
    page = client.get(f"/exchange/{open_round.pk}/")
    assert "Publique su artículo" in page.content.decode()


def test_another_participants_description_is_shown_as_text(client: Any, open_round: Any) -> None:
    items = join(open_round, ["ann"])
    description = "<script>alert(1)</script>"
    from tests.conftest import _person

    other = _person("zed", "civilian")
    exchange.item_list(
        actor=other,
        round_id=open_round.pk,
        holder=other,
        title="Flat 7",
        description=description,
    )
    client.force_login(items[0].holder)
    body = client.get(f"/exchange/{open_round.pk}/").content.decode()
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def test_a_photo_is_kept_and_shown_only_to_the_rounds_participants(
    client: Any, open_round: Any, civilian: Any, settings: Any, tmp_path: Any
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.conftest import _person

    settings.MEDIA_ROOT = tmp_path
    client.force_login(civilian)
    refused = _post(
        client,
        open_round,
        action="list",
        title="Flat 2",
        photo=SimpleUploadedFile("flat.png", b"%PDF-1.4 not an image", "image/png"),
    )
    assert refused.status_code == 400
    assert "Choose a JPEG or PNG photo" in refused.content.decode()
    assert not ExchangeItem.objects.exists()
    listed = _post(
        client,
        open_round,
        action="list",
        title="Flat 2",
        photo=SimpleUploadedFile("my-name-and-address.png", PNG, "image/png"),
    )
    assert listed.status_code == 302
    item = ExchangeItem.objects.get(holder=civilian)
    assert "my-name" not in item.photo.name
    url = f"/exchange/{open_round.pk}/items/{item.pk}/photo"
    neighbour = join(open_round, ["ann"])[0].holder
    client.force_login(neighbour)
    shown = client.get(url)
    assert shown.status_code == 200
    assert shown["Content-Type"] == "image/png"
    assert b"".join(shown.streaming_content) == PNG
    page = client.get(f"/exchange/{open_round.pk}/").content.decode()
    assert f'src="{url}" alt="Photo of Flat 2"' in page
    client.force_login(_person("stranger", "civilian"))
    assert client.get(url).status_code == 404
    client.logout()
    assert client.get(url).status_code == 302
