"""Every response carries the Content-Security-Policy and the Permissions-Policy: public pages,
the admin (with its documented widening only there), the API, Open311 and error pages."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from hms_portal.headers import permissions_policy_header

pytestmark = pytest.mark.django_db

STRICT = {
    "default-src 'self'",
    "img-src 'self' data:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
}


def _directives(header: str) -> dict[str, str]:
    parts = (part.strip() for part in header.split(";") if part.strip())
    return {part.split(" ", 1)[0]: part for part in parts}


def _assert_strict(response) -> dict[str, str]:  # type: ignore[no-untyped-def]
    header = response["Content-Security-Policy"]
    directives = _directives(header)
    assert set(directives.values()) >= STRICT, header
    assert "'unsafe-inline'" not in directives["script-src"], header
    assert "'unsafe-eval'" not in directives["script-src"], header
    assert response["Permissions-Policy"] == (
        "camera=(), microphone=(), geolocation=(), payment=(), usb=(), "
        "publickey-credentials-get=(self), publickey-credentials-create=(self)"
    )
    return directives


@pytest.mark.parametrize(
    "path", ["/", "/track/", "/requests/new/", "/accounts/login/", "/no-such-page/"]
)
def test_public_pages_and_errors_carry_the_strict_policy(client: Client, path: str) -> None:
    response = client.get(path)
    directives = _assert_strict(response)
    assert directives["style-src"] == "style-src 'self'"
    assert directives["script-src"].startswith("script-src 'self'")


def test_the_api_and_open311_carry_the_policies(client: Client) -> None:
    for path in ["/api/v1/requests/", "/open311/v2/services.json", "/open311/v2/discovery.xml"]:
        _assert_strict(client.get(path))


def test_the_admin_alone_is_widened_for_unfold(admin_client: Client) -> None:
    client = admin_client
    for path in [
        reverse("admin:index"),
        reverse("admin:service_requests_servicerequest_changelist"),
    ]:
        response = client.get(path)
        assert response.status_code == 200, path
        directives = _directives(response["Content-Security-Policy"])
        assert "'unsafe-eval'" in directives["script-src"]
        assert directives["style-src"] == "style-src 'self' 'unsafe-inline'"
        assert "frame-ancestors 'none'" in directives.values()
        assert "Permissions-Policy" in response


def test_the_admin_login_page_is_widened_too(client: Client) -> None:
    response = client.get(reverse("admin:login"))
    assert "'unsafe-eval'" in response["Content-Security-Policy"]


def test_an_inline_script_nonce_appears_in_the_header_only_when_used(rf) -> None:  # type: ignore[no-untyped-def]
    from django.http import HttpResponse

    from hms_portal.headers import PortalCSPMiddleware

    def view(request):  # type: ignore[no-untyped-def]
        return HttpResponse(f'<script nonce="{request.csp_nonce}"></script>')

    request = rf.get("/somewhere/")
    response = PortalCSPMiddleware(view)(request)
    nonce = response.content.decode().split('"')[1]
    assert f"'nonce-{nonce}'" in response["Content-Security-Policy"]
    plain = PortalCSPMiddleware(lambda request: HttpResponse("x"))(rf.get("/"))
    assert "nonce-" not in plain["Content-Security-Policy"]


def test_a_view_s_own_policy_header_is_kept(rf) -> None:  # type: ignore[no-untyped-def]
    """The attachment download answers with its own sandboxing policy: never replaced."""
    from django.http import HttpResponse

    from hms_portal.headers import PermissionsPolicyMiddleware, PortalCSPMiddleware

    def view(request):  # type: ignore[no-untyped-def]
        response = HttpResponse("file")
        response["Content-Security-Policy"] = "default-src 'none'; sandbox"
        return response

    response = PermissionsPolicyMiddleware(PortalCSPMiddleware(view))(rf.get("/x"))
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert "Permissions-Policy" in response


def test_permissions_policy_header_spelling() -> None:
    assert permissions_policy_header({"camera": [], "fullscreen": ["self", '"https://x"']}) == (
        'camera=(), fullscreen=(self "https://x")'
    )
