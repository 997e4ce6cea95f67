"""Extra questions per service type: text, number, date, one choice and several, required or
not; the answers are stored with the request and shown to the civilian and to staff."""

from __future__ import annotations

import pytest

from service_requests import services
from service_requests.models import QuestionKind, ServiceQuestion, ServiceRequest
from tests.builders import filing_form

NEW = "/requests/new/"


@pytest.fixture
def asked(inspection):  # type: ignore[no-untyped-def]
    """The inspection asks four questions (the last one optional)."""
    rows = [
        ("household", "How many people live in the home?", QuestionKind.NUMBER, "", True),
        ("visit-from", "From which day can we visit?", QuestionKind.DATE, "", True),
        (
            "rooms",
            "Which rooms are affected?",
            QuestionKind.MULTIPLE,
            "Kitchen\nStairs\nBath",
            True,
        ),
        ("owner", "Do you own the home?", QuestionKind.CHOICE, "Yes\nNo", False),
    ]
    for position, (code, label, kind, choices, required) in enumerate(rows):
        ServiceQuestion.objects.create(
            service_type=inspection,
            code=code,
            label=label,
            label_es=f"ES {label}",
            kind=kind,
            choices=choices,
            choices_es="Cocina\nEscaleras\nBaño" if code == "rooms" else "",
            required=required,
            position=position,
        )
    return inspection


def _form(service_type, **overrides):  # type: ignore[no-untyped-def]
    answers = {"q_household": "3", "q_visit-from": "2026-12-01", "q_rooms": ["2", "3"]}
    return filing_form(service_type, **{**answers, **overrides})


def test_the_form_asks_the_chosen_services_questions(client, civilian, asked, rent_help):
    client.force_login(civilian)
    page = client.get(NEW, {"service": "inspection"}).content.decode()
    assert "How many people live in the home?" in page
    assert 'type="date"' in page
    assert 'type="checkbox" name="q_rooms" value="2"' in page
    assert "Do you own the home?" in page
    other = client.get(NEW, {"service": "rent-help"}).content.decode()
    assert "How many people live in the home?" not in other


def test_answers_are_stored_with_the_request_and_shown(client, civilian, asked, reviewer):
    client.force_login(civilian)
    response = client.post(NEW, _form(asked, q_owner="1"))
    assert response.status_code == 302
    request = ServiceRequest.objects.get()
    assert request.answers == [
        {"code": "household", "question": "How many people live in the home?", "answer": "3"},
        {"code": "visit-from", "question": "From which day can we visit?", "answer": "2026-12-01"},
        {"code": "rooms", "question": "Which rooms are affected?", "answer": ["Stairs", "Bath"]},
        {"code": "owner", "question": "Do you own the home?", "answer": "Yes"},
    ]
    page = client.get(f"/requests/{request.tracking_number}/").content.decode()
    assert "Which rooms are affected?" in page
    assert "Stairs, Bath" in page
    # In Spanish, the questions and choices read in Spanish where the service says how.
    client.cookies["django_language"] = "es"
    page = client.get(f"/requests/{request.tracking_number}/").content.decode()
    assert "ES Which rooms are affected?" in page
    assert "Escaleras, Baño" in page
    # Staff see them on the request's admin page.
    client.force_login(reviewer)
    client.cookies["django_language"] = "en"
    admin = client.get(f"/admin/service_requests/servicerequest/{request.pk}/change/")
    assert "Which rooms are affected?" in admin.content.decode()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"q_household": None}, "This field is required."),
        ({"q_household": "many"}, "Enter a number."),
        ({"q_household": "NaN"}, "Enter a number."),
        ({"q_visit-from": "tomorrow"}, "Enter a valid date."),
        ({"q_rooms": ["9"]}, "Select a valid choice."),
        ({"q_owner": "3"}, "Select a valid choice."),
    ],
)
def test_every_answer_is_checked_and_nothing_is_stored(client, civilian, asked, overrides, message):
    client.force_login(civilian)
    response = client.post(NEW, _form(asked, **overrides))
    assert response.status_code == 400
    page = response.content.decode()
    assert message in page
    assert 'value="Alice Example"' in page  # the rest of the form survives
    assert not ServiceRequest.objects.exists()


def test_the_service_refuses_a_missing_required_answer(civilian, asked):
    with pytest.raises(services.RequestError, match="Answer the question"):
        services.request_submit(
            actor=civilian,
            service_type=asked,
            description="The stairs to the basement are loose.",
            contact_name="Alice",
            contact_email=civilian.email,
            answers=[{"code": "household", "question": "x", "answer": "3"}],
        )
    assert not ServiceRequest.objects.exists()


def test_a_hostile_text_answer_is_escaped(client, civilian, inspection):
    ServiceQuestion.objects.create(
        service_type=inspection, code="notes", label="Anything else?", kind=QuestionKind.TEXT
    )
    client.force_login(civilian)
    response = client.post(NEW, _form(inspection, **{"q_notes": "<script>alert(1)</script>"}))
    assert response.status_code == 302
    request = ServiceRequest.objects.get()
    page = client.get(f"/requests/{request.tracking_number}/").content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
