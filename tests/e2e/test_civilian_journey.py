"""The civilian's front door in a real browser: the whole journey in Spanish (signed in),
following a request without an account at /track/, withdrawing, rating, and filing with the
keyboard only. Filing without an account: `test_filing_without_an_account.py`."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from playwright.sync_api import Page, expect

from governance import services as governance
from service_requests import services
from service_requests.models import SatisfactionResponse, ServiceRequest
from tests.builders import pdf_bytes, status_of, submitted
from tests.conftest import PASSWORD

pytestmark = pytest.mark.e2e

Check = Callable[[Page, str], None]
PDF = pdf_bytes()


def _sign_in(page: Page, user: Any, *, button: str = "Sign In") -> None:
    page.goto("/accounts/login/")
    page.locator("#id_login").fill(user.email)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("main form button[type=submit]").first.click()
    expect(page.locator("form[action='/accounts/logout/'] button")).to_be_visible()


def test_a_spanish_speaker_files_follows_answers_and_rates_in_spanish(
    page: Page,
    check_accessible: Check,
    civilian: Any,
    reviewer: Any,
    supervisor: Any,
    inspection: Any,
) -> None:
    inspection.name_es = "Inspección de seguridad del hogar"
    inspection.save()
    page.goto("/")
    page.get_by_role("button", name="Español").click()
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Pida ayuda")

    _sign_in(page, civilian)
    # The choice is remembered (the language cookie) across pages and the sign-in.
    expect(page.locator("html")).to_have_attribute("lang", "es")
    page.get_by_role("link", name="Presentar una solicitud").first.click()
    page.get_by_label("Busque entre nuestros servicios").fill("seguridad")
    page.get_by_role("button", name="Buscar").click()
    page.get_by_role("link", name="Solicitar Inspección de seguridad del hogar").click()
    page.get_by_label("¿Qué necesita?").fill("Las escaleras del sótano están sueltas.")
    page.get_by_role("button", name="Continuar").click()
    page.locator("#id_attachments").set_input_files(
        [{"name": "contrato.pdf", "mimeType": "application/pdf", "buffer": PDF}]
    )
    page.get_by_role("button", name="Continuar").click()
    page.get_by_label("Su nombre completo").fill("Alicia Ejemplo")
    page.get_by_role("button", name="Continuar").click()
    expect(page.locator("#step-heading")).to_have_text("Revisar y enviar")
    page.get_by_role("button", name="Enviar solicitud").click()
    expect(page.get_by_role("heading", name="Recibimos su solicitud")).to_be_visible()
    tracking_number = page.locator("#tracking-number").inner_text().strip()
    filed = ServiceRequest.objects.get(tracking_number=tracking_number)
    assert filed.language == "es"
    assert [a.name for a in filed.attachments.all()] == ["contrato.pdf"]
    assert mail.outbox[-1].subject == f"{tracking_number}: Recibida"
    check_accessible(page, "confirmation (es)")

    services.request_start_review(actor=reviewer, request_id=filed.pk)
    services.request_ask_info(
        actor=reviewer, request_id=filed.pk, message="¿Qué días podemos visitar?"
    )
    assert "El revisor pregunta:" in mail.outbox[-1].body
    page.goto(f"/requests/{tracking_number}/")
    with page.expect_download() as download:
        page.locator("#attachment-list").get_by_role("link", name="contrato.pdf").click()
    assert download.value.suggested_filename == "contrato.pdf"
    assert Path(download.value.path()).read_bytes() == PDF
    # A file that is not what its name says gets a clear message, and nothing is stored.
    page.locator("#id_attachments").set_input_files(
        [{"name": "foto.png", "mimeType": "image/png", "buffer": b"MZ\x90\x00\x03"}]
    )
    page.get_by_role("button", name="Agregar documentos").click()
    expect(page.locator("#error-summary")).to_contain_text("«foto» no es un archivo")
    assert filed.attachments.count() == 1
    expect(page.locator("#request-status")).to_have_text("Se necesita información")
    expect(page.locator("#status-meaning")).to_contain_text("El revisor necesita más información")
    page.get_by_role("textbox", name="Su respuesta").fill("Cualquier mañana.")
    page.get_by_role("button", name="Enviar mi respuesta").click()
    expect(page.locator(".usa-alert--success")).to_contain_text("Gracias")
    expect(page.locator("#request-status")).to_have_text("En revisión")

    recommended = services.request_recommend(
        actor=reviewer, request_id=filed.pk, note="Meets the criteria."
    )
    assert recommended.approval_case is not None
    governance.case_decide(
        actor=supervisor, case_id=recommended.approval_case.pk, outcome="approve", reason="Bien."
    )
    services.request_fulfil(actor=reviewer, request_id=filed.pk)
    assert mail.outbox[-1].subject == f"{tracking_number}: Completada"

    page.goto(f"/requests/{tracking_number}/")
    expect(page.locator("#request-status")).to_have_text("Completada")
    expect(page.locator("#timeline")).to_contain_text("Su solicitud se completó.")
    check_accessible(page, "closed request (es)")
    page.get_by_text("Satisfecho", exact=True).click()
    page.get_by_label("¿Algo más que quiera decirnos?").fill("Muy rápido.")
    page.get_by_role("button", name="Enviar mi calificación").click()
    expect(page.locator(".usa-alert--success")).to_contain_text("Gracias por contarnos")
    expect(page.locator("#rated")).to_contain_text("Nos dijo: Satisfecho.")
    answer = SatisfactionResponse.objects.get()
    assert (answer.score, answer.language) == (4, "es")


def test_a_request_is_followed_without_an_account(
    page: Page, check_accessible: Check, civilian: Any, inspection: Any
) -> None:
    filed = submitted(civilian, inspection)
    page.goto("/")
    page.get_by_role("link", name="Track a request").first.click()
    page.get_by_label("Tracking number").fill(filed.tracking_number)
    page.get_by_label("Email address").fill("wrong@example.test")
    page.get_by_role("button", name="Find my request").click()
    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("We could not find a request")
    expect(page.get_by_label("Tracking number")).to_have_value(filed.tracking_number)

    page.get_by_label("Email address").fill(filed.contact_email)
    page.get_by_role("button", name="Find my request").click()
    expect(page).to_have_url(re.compile(rf"/requests/{filed.tracking_number}/$"))
    expect(page.locator("#request-status")).to_have_text("Received")
    expect(page.locator("#next-step")).to_contain_text("A reviewer will read it")
    expect(page.locator("#target-date")).to_contain_text("we aim to resolve it by")
    expect(page.get_by_role("button", name="Withdraw request")).to_have_count(0)
    check_accessible(page, "tracked request")


def test_civilian_withdraws_a_request_before_the_decision(
    page: Page, civilian: Any, inspection: Any
) -> None:
    filed = submitted(civilian, inspection)
    _sign_in(page, civilian)
    page.goto(f"/requests/{filed.tracking_number}/")
    page.get_by_role("button", name="Withdraw request").click()
    expect(page.locator("#error-summary")).to_contain_text("Tick the box")
    assert status_of(filed) == "submitted"
    page.get_by_label("Why are you withdrawing it?").fill("Fixed by my landlord.")
    page.locator("label[for=id_confirm]").click()
    page.get_by_role("button", name="Withdraw request").click()
    expect(page.locator("#request-status")).to_have_text("Withdrawn")
    expect(page.locator("#timeline")).to_contain_text("Fixed by my landlord.")
    expect(page.get_by_role("button", name="Withdraw request")).to_have_count(0)
    assert status_of(filed) == "withdrawn"


def _tab_to(page: Page, selector: str, *, limit: int = 80) -> None:
    """Press Tab until the element matching `selector` has the focus."""
    for _ in range(limit):
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {selector}")


def test_filing_works_with_the_keyboard_only(page: Page, civilian: Any, inspection: Any) -> None:
    _sign_in(page, civilian)
    page.goto("/requests/new/")
    _tab_to(page, "#id_q")
    page.keyboard.type("inspection")
    page.keyboard.press("Enter")
    expect(page.locator("#search-results")).to_contain_text("1 service matches")
    _tab_to(page, "#service-catalogue a")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"\?service=inspection$"))
    _tab_to(page, "#id_description")
    page.keyboard.type("The stairs to the basement are loose.")
    _tab_to(page, "#continue")
    page.keyboard.press("Enter")
    expect(page.locator("#step-heading")).to_have_text("Documents")
    _tab_to(page, "#continue")
    page.keyboard.press("Enter")
    expect(page.locator("#step-heading")).to_have_text("How we reach you")
    _tab_to(page, "#id_contact_name")
    page.keyboard.press("Control+A")
    page.keyboard.type("Alice Example")
    _tab_to(page, "#continue")
    page.keyboard.press("Enter")
    expect(page.locator("#step-heading")).to_have_text("Review and submit")
    _tab_to(page, "#submit-request")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="We received your request")).to_be_visible()
    assert ServiceRequest.objects.get().description == "The stairs to the basement are loose."
