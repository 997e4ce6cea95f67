"""Fixtures for the integration surface: OAuth clients acting for the personas, bearer API
clients, and a local webhook receiver (an http.server thread on 127.0.0.1)."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from oauth2_provider.models import get_application_model
from rest_framework.test import APIClient

from integrations.models import ApiClient

ALL_SCOPES = (
    "requests:read requests:write requests:pii cases:read cases:decide funds:read "
    "ledger:read ledger:write webhooks:manage"
)


@dataclass
class Client:
    """A registered OAuth client and its plaintext credentials."""

    api_client: ApiClient
    client_id: str
    secret: str

    def basic(self) -> str:
        raw = f"{self.client_id}:{self.secret}".encode()
        return "Basic " + base64.b64encode(raw).decode()


def register_client(user: Any, scopes: str, *, name: str = "client", rate: str = "") -> Client:
    application_model = get_application_model()
    secret = f"secret-{name}-0123456789abcdef"
    application = application_model.objects.create(
        name=name,
        user=user,
        client_type=application_model.CLIENT_CONFIDENTIAL,
        authorization_grant_type=application_model.GRANT_CLIENT_CREDENTIALS,
        client_secret=secret,
    )
    api_client = ApiClient.objects.create(application=application, scopes=scopes, rate=rate)
    return Client(api_client=api_client, client_id=application.client_id, secret=secret)


def fetch_token(client: Client, scope: str | None = None) -> Any:
    """The token endpoint's answer (a Django test response)."""
    data = {"grant_type": "client_credentials"}
    if scope is not None:
        data["scope"] = scope
    return APIClient().post("/o/token/", data, HTTP_AUTHORIZATION=client.basic())


def bearer(client: Client, scope: str | None = None) -> APIClient:
    """An API client calling with a fresh access token of `client`."""
    response = fetch_token(client, scope)
    assert response.status_code == 200, response.content
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access_token']}")
    return api


@pytest.fixture
def make_client(db) -> Callable[..., Client]:  # type: ignore[no-untyped-def]
    counter = iter(range(1, 1000))

    def _make(user: Any, scopes: str = ALL_SCOPES, **kwargs: Any) -> Client:
        kwargs.setdefault("name", f"client-{next(counter)}")
        return register_client(user, scopes, **kwargs)

    return _make


@pytest.fixture
def reviewer_client(make_client, reviewer) -> Client:  # type: ignore[no-untyped-def]
    """A client acting for the housing reviewer, with every scope."""
    return make_client(reviewer, name="case-system")


@pytest.fixture
def civilian_client(make_client, civilian) -> Client:  # type: ignore[no-untyped-def]
    """A 311 app acting for the civilian's account, with every scope."""
    return make_client(civilian, name="311-app")


@pytest.fixture(autouse=True)
def private_webhook_targets(settings: Any) -> None:
    """The local receivers listen on 127.0.0.1, which the target rules refuse: allowed here.
    `test_webhook_targets.py` overrides this fixture to run with the rules on."""
    settings.HMS_WEBHOOK_ALLOW_PRIVATE_TARGETS = True


@dataclass
class Receiver:
    """A local webhook receiver: records each POST, answers the queued statuses (then 200),
    a redirect pointing at `location`."""

    url: str
    received: list[dict[str, Any]] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)
    location: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r["body"]) for r in self.received]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            with state.lock:
                state.received.append({"headers": self.headers, "body": body, "path": self.path})
                code = state.answers.pop(0) if state.answers else 200
            self.send_response(code)
            self.send_header("Content-Type", "text/plain")
            if 300 <= code < 400 and state.location:
                self.send_header("Location", state.location)
            self.end_headers()
            self.wfile.write(b"ok" if code < 300 else b"boom")

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
