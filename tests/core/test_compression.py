"""HTML responses are gzip-compressed for clients that accept it, except pages that show a
one-time secret (BREACH): marked views, the second-factor pages, and a page rendering a
one-time-secret message."""

from __future__ import annotations

import gzip

import pytest
from django.contrib import messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory

from core.compression import (
    PortalGZipMiddleware,
    one_time_secret_message,
    uncompressed,
)

BODY = "<p>" + "a page of text " * 200 + "</p>"


def _request(path: str = "/admin/") -> HttpRequest:
    request = RequestFactory().get(path, headers={"accept-encoding": "gzip"})
    request.session = {}  # type: ignore[attr-defined]
    request._messages = FallbackStorage(request)  # type: ignore[attr-defined]
    return request


def _serve(request: HttpRequest, view) -> HttpResponse:  # type: ignore[no-untyped-def]
    return PortalGZipMiddleware(view)(request)  # type: ignore[return-value]


def test_an_html_page_is_compressed_for_a_client_that_accepts_gzip():
    response = _serve(_request(), lambda request: HttpResponse(BODY))
    assert response["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in response["Vary"]
    assert gzip.decompress(response.content).decode() == BODY


def test_a_client_that_does_not_accept_gzip_gets_the_page_as_is():
    request = RequestFactory().get("/admin/")
    response = _serve(request, lambda request: HttpResponse(BODY))
    assert not response.has_header("Content-Encoding")
    assert response.content.decode() == BODY


def test_json_and_other_answers_than_html_pages_are_left_as_they_are():
    response = _serve(
        _request("/api/v1/requests/"),
        lambda request: HttpResponse(BODY, content_type="application/json"),
    )
    assert not response.has_header("Content-Encoding")
    assert response.content.decode() == BODY


def test_a_view_marked_uncompressed_is_never_compressed():
    response = _serve(_request(), uncompressed(lambda request: HttpResponse(BODY)))
    assert not response.has_header("Content-Encoding")
    assert response.content.decode() == BODY


@pytest.mark.parametrize("path", ["/accounts/2fa/totp/activate", "/accounts/2fa/recovery-codes/"])
def test_the_second_factor_pages_are_never_compressed(path):
    response = _serve(_request(path), lambda request: HttpResponse(BODY))
    assert not response.has_header("Content-Encoding")


def test_a_page_rendering_a_one_time_secret_message_is_not_compressed():
    earlier = _request()
    one_time_secret_message(earlier, "New client secret: s3cret")
    request = _request()
    request._messages = earlier._messages  # type: ignore[attr-defined]

    def page(request: HttpRequest) -> HttpResponse:
        shown = " ".join(str(m) for m in request._messages)  # type: ignore[attr-defined]
        return HttpResponse(BODY + shown)

    response = _serve(request, page)
    assert not response.has_header("Content-Encoding")
    assert "s3cret" in response.content.decode()


def test_a_page_with_other_messages_is_compressed():
    request = _request()
    messages.success(request, "Saved.")

    def page(request: HttpRequest) -> HttpResponse:
        return HttpResponse(BODY + " ".join(str(m) for m in request._messages))  # type: ignore[attr-defined]

    response = _serve(request, page)
    assert response["Content-Encoding"] == "gzip"
