"""The one event mechanism: facts announced by the app that owns a change, handled by the apps
that subscribed in their `AppConfig.ready()`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from core import events


@pytest.fixture
def listener(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The only subscriber of `round.committed` for the test (the apps' own are set aside)."""
    heard: list[dict[str, Any]] = []

    def handler(**data: Any) -> None:
        heard.append(data)

    monkeypatch.setitem(events._handlers, events.ROUND_COMMITTED, [])
    events.subscribe(events.ROUND_COMMITTED, handler)
    return heard


def test_a_subscriber_hears_each_announcement_with_its_data(
    listener: list[dict[str, Any]],
) -> None:
    events.announce(events.ROUND_COMMITTED, round="r1")
    events.announce(events.ROUND_COMMITTED, round="r2")
    assert listener == [{"round": "r1"}, {"round": "r2"}]
    assert events.subscribed(events.ROUND_COMMITTED)


def test_subscribing_twice_calls_the_handler_once(listener: list[dict[str, Any]]) -> None:
    handler = events._handlers[events.ROUND_COMMITTED][-1]
    events.subscribe(events.ROUND_COMMITTED, handler)
    events.announce(events.ROUND_COMMITTED, round="r")
    assert listener == [{"round": "r"}]


def test_an_unknown_fact_is_refused_at_once() -> None:
    with pytest.raises(ValueError, match=r"Unknown fact 'round\.comitted'"):
        events.announce("round.comitted", round=None)
    with pytest.raises(ValueError, match="Unknown fact"):
        events.subscribe("no.such.fact", print)


def test_a_handler_that_raises_refuses_the_announcement(listener: list[dict[str, Any]]) -> None:
    def refuse(**data: Any) -> None:
        raise RuntimeError("refused")

    events.subscribe(events.ROUND_COMMITTED, refuse)
    try:
        with pytest.raises(RuntimeError, match="refused"):
            events.announce(events.ROUND_COMMITTED, round="r")
    finally:
        events.unsubscribe(events.ROUND_COMMITTED, refuse)
    assert listener == [{"round": "r"}]  # the earlier subscriber ran first


def test_a_fact_for_one_handler_reaches_the_handler_of_its_key() -> None:
    def handler(**data: Any) -> str:
        return f"handled {data['case']}"

    events.subscribe_one(events.CASE_OUTCOME, "probe-kind", handler)
    try:
        assert events.announce_to_one(events.CASE_OUTCOME, "probe-kind", case=7) == "handled 7"
        events.subscribe_one(events.CASE_OUTCOME, "probe-kind", handler)  # the same: no error
        with pytest.raises(RuntimeError, match="already registered"):
            events.subscribe_one(events.CASE_OUTCOME, "probe-kind", print)
    finally:
        events._single.pop((events.CASE_OUTCOME, "probe-kind"), None)
    with pytest.raises(
        RuntimeError, match=r"No handler of 'case\.outcome' registered for 'nobody'"
    ):
        events.announce_to_one(events.CASE_OUTCOME, "nobody", case=7)


def test_a_batch_opens_every_listeners_batch_context_once() -> None:
    opened: list[str] = []

    @contextmanager
    def collect() -> Iterator[None]:
        opened.append("open")
        yield
        opened.append("close")

    events.on_batch(collect)
    events.on_batch(collect)
    try:
        with events.batch():
            assert opened == ["open"]
    finally:
        events._batch_contexts.remove(collect)
    assert opened == ["open", "close"]
