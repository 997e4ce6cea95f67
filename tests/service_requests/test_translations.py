"""English and Spanish: every message of the public pages and emails has a real Spanish
translation, the compiled catalogue is the .po's, and pages and emails follow the language."""

from __future__ import annotations

import gettext
import re
import shutil
from pathlib import Path

import pytest
from django.core import mail
from django.utils import translation

from service_requests import messages as standard
from service_requests import services
from service_requests.models import ServiceRequest
from tests.builders import submitted

from .gettext_catalogue import (
    SPANISH_MO,
    SPANISH_PO,
    Entry,
    extract_in_python,
    extract_with_makemessages,
    parse_po,
)

PLACEHOLDER = re.compile(r"%\(\w+\)s|\{\w*\}")


def _catalogue() -> dict[tuple[str | None, str], Entry]:
    return {e.key: e for e in parse_po(SPANISH_PO) if e.msgid and not e.obsolete}


def _problems(used: list[Entry]) -> list[str]:
    catalogue = _catalogue()
    problems = []
    for entry in used:
        found = catalogue.get(entry.key)
        if found is None:
            problems.append(f"missing: {entry.msgid!r}")
        elif found.fuzzy:
            problems.append(f"fuzzy: {entry.msgid!r}")
        elif not found.translated:
            problems.append(f"untranslated: {entry.msgid!r}")
        elif (entry.msgid_plural is None) != (found.msgid_plural is None):
            problems.append(f"plural forms differ: {entry.msgid!r}")
    return sorted(set(problems))


def test_every_public_message_has_a_spanish_translation() -> None:
    used = extract_in_python()
    assert len(used) > 200  # the extraction itself works
    assert _problems(used) == []


def test_makemessages_finds_no_message_missing_from_the_spanish_catalogue(
    tmp_path: Path,
) -> None:
    """The reference extraction (GNU xgettext through Django's makemessages) agrees."""
    if shutil.which("xgettext") is None:
        pytest.skip("GNU gettext is not installed (apt-get install gettext)")
    used = [e for e in extract_with_makemessages(tmp_path) if e.msgid]
    assert len(used) > 200
    assert _problems(used) == []
    assert {e.key for e in used} == {e.key for e in extract_in_python()}


def test_the_check_fails_on_a_missing_or_fuzzy_message(tmp_path: Path) -> None:
    assert _problems([Entry(msgid="A sentence nobody translated.")]) == [
        "missing: 'A sentence nobody translated.'"
    ]
    broken = tmp_path / "django.po"
    broken.write_text(
        SPANISH_PO.read_text(encoding="utf-8").replace(
            'msgid "Track a request"\n', '#, fuzzy\nmsgid "Track a request"\n', 1
        ),
        encoding="utf-8",
    )
    fuzzy = {e.msgid for e in parse_po(broken) if e.fuzzy}
    assert fuzzy == {"Track a request"}


def test_no_message_in_the_catalogue_is_fuzzy_or_empty() -> None:
    bad = [e.msgid for e in _catalogue().values() if e.fuzzy or not e.translated]
    assert bad == []


def test_translations_keep_every_placeholder() -> None:
    for entry in _catalogue().values():
        wanted = sorted(PLACEHOLDER.findall(entry.msgid))
        forms = list(entry.msgstr_plural.values()) if entry.msgid_plural else [entry.msgstr]
        for form in forms:
            # A singular form may say "1" where the English names the count.
            got = sorted(PLACEHOLDER.findall(form))
            assert set(got) <= set(wanted + PLACEHOLDER.findall(entry.msgid_plural or "")), (
                entry.msgid
            )
            if not entry.msgid_plural:
                assert got == wanted, entry.msgid


def test_the_compiled_catalogue_is_the_po_file() -> None:
    """The committed .mo (so running needs no gettext) holds exactly the .po's translations."""
    with SPANISH_MO.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)._catalog  # type: ignore[attr-defined]
    expected: dict[object, str] = {}
    for entry in _catalogue().values():
        msgid = entry.msgid if entry.msgctxt is None else f"{entry.msgctxt}\x04{entry.msgid}"
        if entry.msgid_plural is not None:
            for index, form in entry.msgstr_plural.items():
                expected[(msgid, index)] = form
        else:
            expected[msgid] = entry.msgstr
    compiled = {k: v for k, v in compiled.items() if k != ""}
    assert compiled == expected, "run scripts/makemessages.sh (or msgfmt) to recompile"


def test_every_standard_timeline_sentence_reads_in_spanish() -> None:
    params = {"service": "Ayuda", "amount": "$1,250.00", "asked": "$2,000.00"}
    for msgid in standard.SYSTEM_MESSAGES:
        names = re.findall(r"%\((\w+)\)s", msgid)
        stored = standard.english(msgid, **{n: params[n] for n in names})
        with translation.override("es"):
            spanish = standard.translate_stored(stored)
        assert spanish != stored, msgid
        for name in names:
            assert params[name] in spanish
    # What a person wrote is shown as written.
    assert standard.translate_stored("Please send the lease.") == "Please send the lease."


@pytest.mark.django_db
def test_pages_follow_the_language_chosen_with_the_switcher(client, inspection):
    page = client.get("/").content.decode()
    assert '<html lang="en"' in page
    assert 'action="/i18n/setlang/"' in page
    assert 'value="es"' in page
    assert ">Español</button>" in page

    response = client.post("/i18n/setlang/", {"language": "es", "next": "/track/"})
    assert response.status_code == 302
    assert response["Location"] == "/track/"
    assert response.cookies["django_language"].value == "es"

    page = client.get("/track/").content.decode()
    assert '<html lang="es"' in page
    assert "Seguir una solicitud" in page
    assert "Número de seguimiento" in page
    assert ">English</button>" in page
    catalogue = client.get("/requests/new/").content.decode()
    assert "Elija un servicio" in catalogue


@pytest.mark.django_db
def test_spanish_speakers_get_their_emails_in_spanish(
    client, civilian, inspection, reviewer, django_capture_on_commit_callbacks
):
    client.force_login(civilian)
    client.cookies["django_language"] = "es"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/requests/new/",
            {
                "service_type": str(inspection.pk),
                "description": "Las escaleras del sótano están sueltas.",
                "contact_name": "Alicia Ejemplo",
                "contact_email": "alicia@example.test",
                "submission_token": "6f1c1d5e-8f0e-4c1e-9a47-2f1f0b0c1a11",
            },
        )
    assert response.status_code == 302
    filed = ServiceRequest.objects.get()
    assert filed.language == "es"
    (email,) = mail.outbox
    assert email.subject == f"{filed.tracking_number}: Recibida"
    assert "Hola, Alicia Ejemplo:" in email.body
    assert f"Recibimos su solicitud de {inspection.name}." in email.body
    assert "Qué pasa ahora:" in email.body
    html, mimetype = email.alternatives[0]
    assert mimetype == "text/html"
    assert '<html lang="es">' in html
    assert "Siga su solicitud" in html

    # The reviewer works in English; the civilian's next email is still in Spanish.
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.request_start_review(actor=reviewer, request_id=filed.pk)
        services.request_ask_info(
            actor=reviewer, request_id=filed.pk, message="Which days can we visit?"
        )
    started, question = mail.outbox  # review started, then the question
    assert started.to == question.to == ["alicia@example.test"]
    assert "El revisor pregunta:" in question.body
    assert "Which days can we visit?" in question.body


@pytest.mark.django_db
def test_an_english_speaker_gets_english_emails(civilian, inspection, settings):
    with translation.override("es"):
        request = submitted(civilian, inspection)
    assert request.language == "en"  # the language is what the page passed, not the thread's


def test_every_sentence_the_flows_write_is_translated(
    civilian, reviewer, supervisor, rent_help, inspection
):
    """Drift guard: each public timeline text the services write is a standard sentence (so
    Spanish readers get it in Spanish) unless a person wrote it."""
    from governance import services as governance
    from service_requests.models import RequestEvent
    from tests.builders import pending_approval

    for service_type, amount in ((rent_help, 50_000), (inspection, None)):
        request, case = pending_approval(civilian, reviewer, service_type, amount_minor=amount)
        governance.case_decide(actor=supervisor, case_id=case.pk, outcome="approve", reason="Ok.")
        services.request_fulfil(actor=reviewer, request_id=request.pk)
    withdrawn = submitted(civilian, inspection)
    services.request_withdraw(actor=civilian, request_id=withdrawn.pk)

    events = RequestEvent.objects.filter(public=True).exclude(kind__in=standard.PERSONAL_KINDS)
    assert events.count() >= 12
    for event in events.select_related("request__service_type"):
        with translation.override("es"):
            assert standard.public_text(event) != event.message, event.message
