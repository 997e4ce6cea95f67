"""Every role and persona against every decision action on one open case.

The case: 500.00 in the Parks program, one step decided by the program's deciders, submitted
by `maker` and recommended by `recommender` (both of whom also hold the decide permission, so
only separation of duties stops them). Delegates each hold a delegation from a different
supervisor: active, expired (its permission still granted, as if the beat task had not run),
revoked, over its ceiling, not yet started, outside its scope, and one from the maker.
Separation of duties as data: the auditor holds the decide permission and a delegation, the
administrator is a superuser, and an auditor's delegate holds a delegation from them (rows
written past the services, which refuse them): none of them may decide.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from guardian.shortcuts import assign_perm

from core import roles
from governance import services as governance
from governance.models import CaseStatus, Decision, Delegation
from tests.conftest import _person
from tests.governance.conftest import (
    OUTCOMES,
    delegate_to,
    forced_delegation,
    make_policy,
    open_case,
    staff,
)

pytestmark = pytest.mark.django_db

OWN = None  # allowed
NO_AUTHORITY = "do not hold the authority"
SEPARATION = "Separation of duties"
EXPECTED: dict[str, dict[str, str | None]] = {
    #                     approve / return / reject               recall
    "supervisor": {"decide": OWN, "recall": "Only the person who submitted"},
    "maker": {"decide": "You submitted this", "recall": OWN},
    "recommender": {"decide": "You recommended this", "recall": "Only the person who submitted"},
    "reviewer": {"decide": NO_AUTHORITY, "recall": "Only the person who submitted"},
    "outsider_supervisor": {"decide": NO_AUTHORITY, "recall": "Only the person who submitted"},
    "civilian": {"decide": NO_AUTHORITY, "recall": "Only the person who submitted"},
    "auditor": {"decide": SEPARATION, "recall": "Only the person who submitted"},
    "administrator": {"decide": SEPARATION, "recall": "Only the person who submitted"},
    "delegate_of_auditor": {"decide": SEPARATION, "recall": "Only the person who submitted"},
    "delegate": {"decide": OWN, "recall": "Only the person who submitted"},
    "expired_delegate": {"decide": "ended on", "recall": "Only the person who submitted"},
    "revoked_delegate": {"decide": "was revoked", "recall": "Only the person who submitted"},
    "over_ceiling_delegate": {
        "decide": "above the ceiling",
        "recall": "Only the person who submitted",
    },
    "future_delegate": {"decide": "starts on", "recall": "Only the person who submitted"},
    "out_of_scope_delegate": {
        "decide": "does not cover",
        "recall": "Only the person who submitted",
    },
    "delegate_of_maker": {
        "decide": "a delegate of theirs cannot decide",
        "recall": "Only the person who submitted",
    },
}
ACTIONS = ["approve", "return", "reject", "recall"]


@pytest.fixture
def world(bare_program: Any) -> dict[str, Any]:
    program = bare_program
    make_policy(program, governance.StepSpec(name="Supervisor"))
    other = staff("other-program-boss")
    people: dict[str, Any] = {
        "supervisor": staff("supervisor", program=program),
        "maker": staff("maker", program=program),
        "recommender": staff("recommender", program=program),
        "reviewer": staff("reviewer"),
        "civilian": _person("carla", roles.CIVILIAN),
        "auditor": _person("audra", roles.AUDITOR, staff=True),
    }
    assign_perm("governance.review_program", people["reviewer"], program)
    from tests.factories import ProgramFactory

    elsewhere = ProgramFactory(code="elsewhere")
    assign_perm("governance.decide_program", other, elsewhere)
    people["outsider_supervisor"] = other
    now = timezone.now()
    delegations = {
        "delegate": {},
        "expired_delegate": {},
        "revoked_delegate": {},
        "over_ceiling_delegate": {"ceiling_minor": 10_000},
        "future_delegate": {
            "starts_at": now + timedelta(days=1),
            "ends_at": now + timedelta(days=3),
        },
        "out_of_scope_delegate": {"scope_key": "something-else"},
    }
    for name, extra in delegations.items():
        delegator = staff(f"boss-of-{name}", program=program)
        people[name] = staff(name)
        delegation = delegate_to(delegator, people[name], program, **extra)
        if name == "expired_delegate":
            # The window closed but the beat task has not removed the permission yet.
            Delegation.objects.filter(pk=delegation.pk).update(
                starts_at=now - timedelta(days=3), ends_at=now - timedelta(minutes=1)
            )
        if name == "revoked_delegate":
            governance.delegation_revoke(actor=delegator, delegation_id=delegation.pk)
    people["delegate_of_maker"] = staff("delegate-of-maker")
    delegate_to(people["maker"], people["delegate_of_maker"], program)
    # Authority that separation of duties voids, written past the services that refuse it.
    assign_perm("governance.decide_program", people["auditor"], program)
    forced_delegation(staff("boss-of-auditor", program=program), people["auditor"], program)
    people["administrator"] = staff("root", program=program)
    people["administrator"].is_superuser = True
    people["administrator"].save()
    people["delegate_of_auditor"] = staff("delegate-of-auditor")
    forced_delegation(people["auditor"], people["delegate_of_auditor"], program)
    people["case"] = open_case(
        program, people["maker"], amount_minor=50_000, recommender=people["recommender"]
    )
    return people


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("persona", list(EXPECTED))
def test_permission_matrix(world: dict[str, Any], persona: str, action: str) -> None:
    case = world["case"]
    person = world[persona]
    expected = EXPECTED[persona]["recall" if action == "recall" else "decide"]

    def act() -> Any:
        if action == "recall":
            return governance.case_recall(actor=person, case_id=case.pk)
        return governance.case_decide(
            actor=person, case_id=case.pk, outcome=action, reason="For the matrix"
        )

    if expected is OWN:
        decision = act()
        case.refresh_from_db()
        final = {
            "approve": CaseStatus.APPROVED,
            "return": CaseStatus.RETURNED,
            "reject": CaseStatus.REJECTED,
            "recall": CaseStatus.RECALLED,
        }[action]
        assert case.status == final
        assert [(case.pk, action, person.username)] == OUTCOMES
        if persona == "delegate":
            assert decision.on_behalf_of.username == "boss-of-delegate"
            assert decision.decided_by_label.endswith(
                "on behalf of " + (decision.on_behalf_of.get_full_name())
            )
    else:
        with pytest.raises(governance.GovernanceError, match=expected):
            act()
        case.refresh_from_db()
        assert case.status == CaseStatus.OPEN
        assert not Decision.objects.filter(case=case).exists()
        assert OUTCOMES == []


def test_the_matrix_also_holds_on_the_case_page(client: Any, world: dict[str, Any]) -> None:
    """The screen refuses what the service refuses (the same check), without writing."""
    case = world["case"]
    for persona, expected in EXPECTED.items():
        person = world[persona]
        if expected["decide"] is OWN:
            continue
        client.force_login(person)
        response = client.post(
            f"/workflow/cases/{case.pk}/", {"outcome": "approve", "reason": "ok"}
        )
        assert response.status_code in (400, 404), persona
    assert not Decision.objects.exists()


# The security log's admin page: who reads it (auditors, administrators); nobody adds, changes
# or deletes a row. Staff come signed in with a second factor.
SECURITY_LOG: dict[str, dict[str, int]] = {
    #                 list  one   add   change(POST)  delete
    "anonymous": {"list": 302, "one": 302, "add": 302, "change": 302, "delete": 302},
    "civilian": {"list": 302, "one": 302, "add": 302, "change": 302, "delete": 302},
    "reviewer": {"list": 403, "one": 403, "add": 403, "change": 403, "delete": 403},
    "supervisor": {"list": 403, "one": 403, "add": 403, "change": 403, "delete": 403},
    "finance_officer": {"list": 403, "one": 403, "add": 403, "change": 403, "delete": 403},
    "auditor": {"list": 200, "one": 200, "add": 403, "change": 403, "delete": 403},
    "administrator": {"list": 200, "one": 200, "add": 403, "change": 403, "delete": 403},
}


@pytest.mark.parametrize("persona", list(SECURITY_LOG))
def test_the_matrix_of_the_security_log(client: Any, persona: str) -> None:
    from django.urls import reverse

    from core.models import SecurityEvent, SecurityEventKind
    from core.services.security import security_event_record
    from tests.factories import UserFactory

    people = {
        "civilian": lambda: _person("carla", roles.CIVILIAN),
        "reviewer": lambda: _person("rory", roles.REVIEWER, staff=True),
        "supervisor": lambda: _person("sue", roles.SUPERVISOR, staff=True),
        "finance_officer": lambda: _person("fay", roles.FINANCE_OFFICER, staff=True),
        "auditor": lambda: _person("audra", roles.AUDITOR, staff=True),
        "administrator": lambda: UserFactory(username="root", is_staff=True, is_superuser=True),
    }
    if persona in people:
        client.force_login(people[persona]())
    event = security_event_record(actor=None, kind=SecurityEventKind.SIGN_IN_FAILED, login="x")
    urls = {
        "list": reverse("admin:core_securityevent_changelist"),
        "one": reverse("admin:core_securityevent_change", args=[event.pk]),
        "add": reverse("admin:core_securityevent_add"),
        "change": reverse("admin:core_securityevent_change", args=[event.pk]),
        "delete": reverse("admin:core_securityevent_delete", args=[event.pk]),
    }
    for action, expected in SECURITY_LOG[persona].items():
        if action == "change":
            response = client.post(urls[action], {"kind": "signed_in"})
        else:
            response = client.get(urls[action])
        assert response.status_code == expected, (persona, action)
    assert SecurityEvent.objects.get(pk=event.pk).kind == SecurityEventKind.SIGN_IN_FAILED
