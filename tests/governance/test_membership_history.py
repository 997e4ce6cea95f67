"""Group membership with history: every change through the relation is recorded with who made
it, and the authority report rebuilds a group grant's members as of the date asked about."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from guardian.shortcuts import assign_perm
from simple_history.models import HistoricalRecords

from core.audit import SYSTEM_USERNAME
from governance.models import GroupMembershipChange, MembershipAction
from governance.selectors import authority_as_of, members_as_of
from tests.governance.conftest import staff


@pytest.fixture
def travel(monkeypatch: pytest.MonkeyPatch) -> Callable[[datetime], Any]:
    """`with travel(moment):` makes `timezone.now()` (history rows, membership changes)
    answer `moment`."""
    real_now = timezone.now

    @contextmanager
    def _travel(moment: datetime) -> Iterator[None]:
        monkeypatch.setattr(timezone, "now", lambda: moment)
        try:
            yield
        finally:
            monkeypatch.setattr(timezone, "now", real_now)

    return _travel


def _panel_members(moment: datetime) -> set[str]:
    return {
        row.person
        for row in authority_as_of(moment=moment)
        if row.via.startswith("group “Parks panel”")
    }


def test_report_lists_the_group_members_of_the_date_asked_about(bare_program, travel):
    now = timezone.now()
    panel = Group.objects.create(name="Parks panel")
    leaver, stayer, newcomer = staff("leaver"), staff("stayer"), staff("newcomer")
    with travel(now - timedelta(days=10)):
        assign_perm("governance.decide_program", panel, bare_program)
        leaver.groups.add(panel)
        panel.user_set.add(stayer)
    with travel(now - timedelta(days=1)):
        leaver.groups.remove(panel)
    newcomer.groups.add(panel)

    day_before_yesterday = _panel_members(now - timedelta(days=2))
    assert day_before_yesterday == {leaver.get_full_name(), stayer.get_full_name()}
    today = _panel_members(timezone.now())
    assert today == {stayer.get_full_name(), newcomer.get_full_name()}
    assert leaver.get_full_name() not in today
    last_week = _panel_members(now - timedelta(days=7))
    assert newcomer.get_full_name() not in last_week
    assert _panel_members(now - timedelta(days=11)) == set()


def test_every_change_is_recorded_once_with_the_acting_user(bare_program):
    panel, other = Group.objects.create(name="Parks panel"), Group.objects.create(name="Other")
    admin = staff("admin-person")
    member = staff("member")
    HistoricalRecords.context.request = SimpleNamespace(user=admin)
    try:
        member.groups.add(panel, other)
        member.groups.add(panel)  # already a member: nothing new
    finally:
        del HistoricalRecords.context.request
    panel.user_set.remove(admin)  # never a member: nothing to record
    member.groups.clear()
    rows = list(
        GroupMembershipChange.objects.filter(user=member).values_list(
            "group__name", "action", "actor__username"
        )
    )
    assert sorted(rows) == sorted(
        [
            ("Parks panel", MembershipAction.ADDED, "admin-person"),
            ("Other", MembershipAction.ADDED, "admin-person"),
            ("Parks panel", MembershipAction.REMOVED, SYSTEM_USERNAME),
            ("Other", MembershipAction.REMOVED, SYSTEM_USERNAME),
        ]
    )
    assert not GroupMembershipChange.objects.filter(user=admin).exists()
    assert members_as_of([panel.pk, other.pk], timezone.now()) == []


def test_membership_rows_cannot_be_changed_or_deleted(bare_program):
    panel = Group.objects.create(name="Parks panel")
    staff("member", groups=(panel,))
    row = GroupMembershipChange.objects.get()
    with pytest.raises(ValueError, match="append-only"):
        row.save()
    with pytest.raises(ValueError, match="append-only"):
        row.delete()


def test_members_known_only_from_the_starting_snapshot_are_marked(bare_program, travel):
    panel = Group.objects.create(name="Parks panel")
    with travel(timezone.now() - timedelta(days=30)):
        assign_perm("governance.decide_program", panel, bare_program)
    veteran = staff("veteran")
    began = timezone.now() - timedelta(days=1)
    # What the data migration writes for a membership that predates the recording.
    Group.user_set.through.objects.create(group=panel, user=veteran)
    GroupMembershipChange.objects.create(
        group=panel, user=veteran, action=MembershipAction.PRESENT, at=began
    )
    today = [
        r for r in authority_as_of(moment=timezone.now()) if r.person == veteran.get_full_name()
    ]
    assert [r.via for r in today] == ["group “Parks panel”"]
    before = [
        r
        for r in authority_as_of(moment=began - timedelta(days=3))
        if r.person == veteran.get_full_name()
    ]
    assert len(before) == 1
    assert "a member when membership recording began" in before[0].via


def test_report_queries_do_not_grow_with_groups_and_members(bare_program):
    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            authority_as_of(moment=timezone.now())
        return len(queries)

    def add_group(n: int) -> None:
        group = Group.objects.create(name=f"Panel {n}")
        assign_perm("governance.decide_program", group, bare_program)
        for i in range(3):
            staff(f"member-{n}-{i}", groups=(group,))

    add_group(0)
    few = count()
    for n in range(1, 6):
        add_group(n)
    assert count() == few


def test_report_page_shows_the_members_of_the_date(client, bare_program, auditor, travel):
    now = timezone.now()
    panel = Group.objects.create(name="Parks panel")
    leaver = staff("leaver")
    with travel(now - timedelta(days=10)):
        assign_perm("governance.decide_program", panel, bare_program)
        leaver.groups.add(panel)
    with travel(now - timedelta(days=1)):
        leaver.groups.remove(panel)
    client.force_login(auditor)
    moment = timezone.localtime(now - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    past = client.get("/workflow/oversight/authority/", {"moment": moment}).content.decode()
    assert leaver.get_full_name() in past
    assert (
        leaver.get_full_name() not in client.get("/workflow/oversight/authority/").content.decode()
    )
