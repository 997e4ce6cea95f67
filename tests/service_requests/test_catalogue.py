"""The service catalogue at /requests/new/: a card per open service, in the reader's language,
and a search that is a plain GET form (no JavaScript needed)."""

from __future__ import annotations

NEW = "/requests/new/"


def test_the_catalogue_lists_open_services_for_anyone(client, rent_help, inspection):
    inspection.description = "Someone checks the stairs, wiring and heating of your home."
    inspection.save()
    page = client.get(NEW).content.decode()
    assert 'id="service-catalogue"' in page
    assert "Emergency rent help" in page
    assert "Someone checks the stairs, wiring and heating of your home." in page
    assert "2 services are open for requests." in page
    assert f'{NEW}?service=rent-help"' in page
    assert "Financial help" in page


def test_search_narrows_the_cards_without_javascript(client, rent_help, inspection):
    page = client.get(NEW, {"q": "rent"}).content.decode()
    assert "1 service matches “rent”." in page
    assert "Emergency rent help" in page
    assert "Home safety inspection" not in page

    page = client.get(NEW, {"q": "  SAFETY  home "}).content.decode()
    assert "Home safety inspection" in page
    assert "Emergency rent help" not in page


def test_a_search_with_no_match_says_what_to_do(client, rent_help):
    page = client.get(NEW, {"q": "unicorns"}).content.decode()
    assert "0 services match “unicorns”." in page
    assert "No service matches those words." in page
    assert "Show all services" in page


def test_inactive_services_are_not_listed(client, rent_help, inspection):
    inspection.active = False
    inspection.save()
    page = client.get(NEW).content.decode()
    assert "Home safety inspection" not in page


def test_hostile_search_text_is_escaped_and_long_text_refused(client, rent_help):
    page = client.get(NEW, {"q": "<script>alert(1)</script>"}).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;" in page
    too_long = client.get(NEW, {"q": "x" * 5000})
    assert too_long.status_code == 400
    assert "at most 100 characters" in too_long.content.decode()


def test_spanish_names_and_descriptions_are_shown_in_spanish(client, inspection):
    inspection.name_es = "Inspección de seguridad del hogar"
    inspection.description_es = "Revisamos las escaleras, la electricidad y la calefacción."
    inspection.save()
    client.cookies["django_language"] = "es"
    page = client.get(NEW).content.decode()
    assert "Inspección de seguridad del hogar" in page
    assert "Revisamos las escaleras" in page
    # The search finds it by its Spanish words too.
    assert "Inspección" in client.get(NEW, {"q": "calefacción"}).content.decode()


def test_choosing_a_card_opens_the_form_with_or_without_an_account(client, civilian, rent_help):
    response = client.get(NEW, {"service": "rent-help"})
    assert response.status_code == 200
    assert f'<option value="{rent_help.pk}" selected>' in response.content.decode()
    client.force_login(civilian)
    page = client.get(NEW, {"service": "rent-help"}).content.decode()
    assert 'id="request-form"' in page
    assert f'<option value="{rent_help.pk}" selected>' in page
