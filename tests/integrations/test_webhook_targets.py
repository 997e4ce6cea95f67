"""Webhook targets: only public addresses, checked when a subscription is made or changed and
again by the worker before it connects.

These tests run with the target rules on, as production does (the conftest's fixture of the
same name lets the other webhook tests reach their receiver on 127.0.0.1). Host names are
answered by a fake resolver (the machine has no outside network); IP literals and `localhost`
go to the real one, which answers them without the network.
"""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from integrations import services, targets, tasks
from integrations.models import Delivery, DeliveryStatus, Subscription
from integrations.services.subscriptions import ERR_TARGET, ERR_URL
from tests.builders import submitted
from tests.integrations.conftest import Receiver, bearer

pytestmark = pytest.mark.django_db

URL = "/api/v1/webhooks/subscriptions/"
PUBLIC_V4 = "93.184.215.14"
PUBLIC_V6 = "2606:2800:21f:cb07:6820:80da:af6b:8b2c"


@pytest.fixture(autouse=True)
def private_webhook_targets(settings: Any) -> None:
    """The target rules on (overrides the conftest's fixture, which turns them off)."""
    settings.HMS_WEBHOOK_ALLOW_PRIVATE_TARGETS = False


class FakeResolver:
    """`socket.getaddrinfo` for the names in `answers` (an empty list: no such name); every
    other host goes to the real resolver. `asked` lists the faked lookups, in order."""

    def __init__(self, real: Callable[..., Any]) -> None:
        self.real = real
        self.answers: dict[str, list[str]] = {}
        self.asked: list[str] = []

    def __call__(self, host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in self.answers:
            return self.real(host, port, *args, **kwargs)
        self.asked.append(host)
        if not self.answers[host]:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (a, int(port), 0, 0))
            if ":" in a
            else (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (a, int(port)))
            for a in self.answers[host]
        ]


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> FakeResolver:
    fake = FakeResolver(socket.getaddrinfo)
    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return fake


@pytest.fixture
def no_connections(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Records every outgoing connection the sender tries, and refuses it."""
    tried: list[Any] = []

    def refuse(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        tried.append(address)
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(socket, "create_connection", refuse)
    return tried


def _post(api: Any, target_url: str, key: str = "k-1") -> Any:
    return api.post(
        URL,
        {"event_types": ["request.submitted"], "target_url": target_url},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
    )


def _refusal(response: Any) -> str:
    assert response.status_code == 422, response.content
    error = response.json()["error"]
    assert error["code"] == "target_refused"
    (message,) = error["fields"]["target_url"]
    assert message == error["message"]
    return str(message)


# --- When subscribing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target_url", "reason"),
    [
        pytest.param(
            "https://127.0.0.1:6390/", "127.0.0.1 is a loopback address", id="loopback-v4"
        ),
        pytest.param(
            "https://127.8.9.10/h", "127.8.9.10 is a loopback address", id="loopback-v4-range"
        ),
        pytest.param("https://[::1]:5432/", "::1 is a loopback address", id="loopback-v6"),
        pytest.param(
            "https://localhost:5432/", "localhost resolves to a loopback address", id="localhost"
        ),
        pytest.param(
            "https://169.254.169.254/latest/meta-data/",
            "169.254.169.254 is a link-local address",
            id="metadata",
        ),
        pytest.param("https://[fe80::1]/h", "fe80::1 is a link-local address", id="link-local-v6"),
        pytest.param("https://10.0.0.5/h", "10.0.0.5 is a private address", id="private-10"),
        pytest.param(
            "https://172.31.255.1/h", "172.31.255.1 is a private address", id="private-172"
        ),
        pytest.param(
            "https://192.168.1.10/h", "192.168.1.10 is a private address", id="private-192"
        ),
        pytest.param("https://[fd00::1]/h", "fd00::1 is a private address", id="unique-local-v6"),
        pytest.param(
            "https://100.64.0.1/h",
            "100.64.0.1 is in the shared address space 100.64.0.0/10",
            id="shared",
        ),
        pytest.param(
            "https://224.0.0.251/h", "224.0.0.251 is a multicast address", id="multicast-v4"
        ),
        pytest.param("https://[ff02::1]/h", "ff02::1 is a multicast address", id="multicast-v6"),
        pytest.param(
            "https://0.0.0.0:8000/", "0.0.0.0 is an unspecified address", id="unspecified-v4"
        ),
        pytest.param("https://[::]/h", ":: is an unspecified address", id="unspecified-v6"),
        pytest.param(
            "https://[::ffff:127.0.0.1]/h",
            "::ffff:127.0.0.1 is a loopback address",
            id="ipv4-mapped",
        ),
        pytest.param(
            "https://[2002:a00:1::]/h", "2002:a00:1:: (10.0.0.1) is a private address", id="6to4"
        ),
        pytest.param(
            "https://192.0.2.10/h", "192.0.2.10 is a documentation address", id="documentation"
        ),
        pytest.param(
            "https://198.18.0.1/h", "198.18.0.1 is a benchmarking address", id="benchmarking"
        ),
        pytest.param("https://240.0.0.1/h", "240.0.0.1 is a reserved address", id="reserved"),
    ],
)
def test_a_target_on_a_non_public_address_is_refused(
    make_client: Any, reviewer: Any, target_url: str, reason: str
) -> None:
    api = bearer(make_client(reviewer))
    response = _post(api, target_url)
    assert _refusal(response) == ERR_TARGET.format(reason=reason)
    assert not Subscription.objects.exists()


def test_a_decimal_ip_spelling_is_refused(make_client: Any, reviewer: Any) -> None:
    api = bearer(make_client(reviewer))
    response = _post(api, "https://2130706433/")
    assert response.status_code == 400, response.content
    assert "target_url" in response.json()["error"]["fields"]
    assert not Subscription.objects.exists()


@pytest.mark.parametrize(
    "target_url",
    [
        "https://2130706433/",
        "https://0x7f.1/",
        "https://0x7f000001/",
        "https://127.1/",
        "https://0177.0.0.1/",
        "https://017700000001/",
    ],
)
def test_the_service_refuses_numeric_spellings_of_an_address(
    make_client: Any, reviewer: Any, target_url: str
) -> None:
    host = target_url.split("/")[2]
    with pytest.raises(services.IntegrationError) as refused:
        services.subscription_create(
            actor=reviewer,
            client=make_client(reviewer).api_client,
            event_types=["request.submitted"],
            target_url=target_url,
        )
    assert refused.value.messages == [
        ERR_TARGET.format(
            reason=f"{host} is a non-standard spelling of the IP address 127.0.0.1; "
            "write it as 127.0.0.1"
        )
    ]
    assert not Subscription.objects.exists()


def test_a_url_with_credentials_is_refused(make_client: Any, reviewer: Any, dns: Any) -> None:
    dns.answers["example.com"] = [PUBLIC_V4]
    api = bearer(make_client(reviewer))
    response = _post(api, "https://user:pw@example.com/hooks")
    assert _refusal(response) == ERR_TARGET.format(
        reason="the URL must not carry a user name or password"
    )
    assert not Subscription.objects.exists()


def test_plain_http_is_refused_where_http_is_not_allowed(
    make_client: Any, reviewer: Any, settings: Any
) -> None:
    settings.HMS_WEBHOOK_ALLOW_HTTP = False
    api = bearer(make_client(reviewer))
    response = _post(api, f"http://{PUBLIC_V4}/hooks")
    assert response.status_code == 422
    assert response.json()["error"]["fields"] == {"target_url": [ERR_URL]}
    assert not Subscription.objects.exists()


def test_a_public_address_or_name_is_accepted(make_client: Any, reviewer: Any, dns: Any) -> None:
    dns.answers["hooks.example.com"] = [PUBLIC_V4, PUBLIC_V6]
    api = bearer(make_client(reviewer))
    literal = _post(api, f"https://{PUBLIC_V4}/hooks", key="a")
    named = _post(api, "https://hooks.example.com/hooks?team=7", key="b")
    assert (literal.status_code, named.status_code) == (201, 201)
    assert sorted(Subscription.objects.values_list("target_url", flat=True)) == [
        f"https://{PUBLIC_V4}/hooks",
        "https://hooks.example.com/hooks?team=7",
    ]
    assert dns.asked == ["hooks.example.com"]


def test_a_name_with_one_public_and_one_private_address_is_refused(
    make_client: Any, reviewer: Any, dns: Any
) -> None:
    dns.answers["mixed.example.com"] = [PUBLIC_V4, "10.0.0.5"]
    api = bearer(make_client(reviewer))
    response = _post(api, "https://mixed.example.com/hooks")
    # The address of an internal name is not told back.
    assert _refusal(response) == ERR_TARGET.format(
        reason="mixed.example.com resolves to a private address"
    )
    assert not Subscription.objects.exists()


def test_a_name_that_does_not_resolve_is_refused(make_client: Any, reviewer: Any, dns: Any) -> None:
    dns.answers["nowhere.example.com"] = []
    api = bearer(make_client(reviewer))
    response = _post(api, "https://nowhere.example.com/hooks")
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "target_unresolved"
    assert error["fields"]["target_url"] == [
        "The target's host nowhere.example.com does not resolve: check its DNS name."
    ]


def test_changing_a_target_to_a_private_address_is_refused(make_client: Any, reviewer: Any) -> None:
    api = bearer(make_client(reviewer))
    made = _post(api, f"https://{PUBLIC_V4}/hooks")
    assert made.status_code == 201
    pk = made.json()["id"]
    response = api.patch(f"{URL}{pk}/", {"target_url": "https://10.1.2.3/hooks"}, format="json")
    assert _refusal(response) == ERR_TARGET.format(reason="10.1.2.3 is a private address")
    assert Subscription.objects.get(pk=pk).target_url == f"https://{PUBLIC_V4}/hooks"


def test_restarting_a_subscription_whose_target_is_private_is_refused(
    make_client: Any, reviewer: Any
) -> None:
    client = make_client(reviewer)
    stopped = Subscription.objects.create(
        client=client.api_client,
        event_types=["request.submitted"],
        target_url="https://10.9.8.7/hooks",
        active=False,
    )
    response = bearer(client).patch(f"{URL}{stopped.pk}/", {"active": True}, format="json")
    assert _refusal(response) == ERR_TARGET.format(reason="10.9.8.7 is a private address")
    stopped.refresh_from_db()
    assert stopped.active is False


def test_private_targets_are_accepted_when_the_setting_allows_them(
    make_client: Any, reviewer: Any, settings: Any
) -> None:
    settings.HMS_WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    api = bearer(make_client(reviewer))
    assert _post(api, "http://127.0.0.1:8080/hooks").status_code == 201
    # Credentials stay refused whatever the address.
    assert _refusal(_post(api, "http://u:p@127.0.0.1:8080/hooks", key="k-2")).endswith(
        "the URL must not carry a user name or password."
    )


# --- When delivering ----------------------------------------------------------------------------


def _subscribe_by_name(make_client: Any, reviewer: Any, receiver: Receiver, name: str) -> str:
    """Subscribe at `name` on the receiver's port (plain http, allowed under tests)."""
    port = receiver.url.rsplit(":", 1)[1].split("/")[0]
    url = f"http://{name}:{port}/hooks"
    response = _post(bearer(make_client(reviewer)), url)
    assert response.status_code == 201, response.content
    return url


def test_a_name_that_later_resolves_to_loopback_fails_without_a_connection(
    make_client: Any,
    reviewer: Any,
    civilian: Any,
    inspection: Any,
    receiver: Receiver,
    dns: FakeResolver,
    django_capture_on_commit_callbacks: Any,
) -> None:
    dns.answers["hooks.example.com"] = [PUBLIC_V4]
    _subscribe_by_name(make_client, reviewer, receiver, "hooks.example.com")
    dns.answers["hooks.example.com"] = ["127.0.0.1"]  # DNS rebinding after the check
    with django_capture_on_commit_callbacks(execute=True):
        submitted(civilian, inspection)
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED  # given up at once, not retried
    assert delivery.attempts == 1
    assert delivery.last_status_code is None
    assert delivery.last_error == "target refused: resolves to 127.0.0.1 (loopback)"
    attempt = delivery.attempt_log.get()
    assert (attempt.status_code, attempt.error) == (None, delivery.last_error)
    assert receiver.received == []
    assert tasks.deliver_webhook(delivery.pk) == "skipped"
    assert receiver.received == []


def test_the_worker_connects_to_the_address_it_checked(
    make_client: Any,
    reviewer: Any,
    civilian: Any,
    inspection: Any,
    receiver: Receiver,
    dns: FakeResolver,
    no_connections: list[Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    dns.answers["hooks.example.com"] = [PUBLIC_V4]
    url = _subscribe_by_name(make_client, reviewer, receiver, "hooks.example.com")
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    answers = iter([[PUBLIC_V4]])  # the worker's one lookup; any later one would say loopback
    real = dns.real

    def rebinding(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "hooks.example.com":
            dns.answers[host] = next(answers, ["127.0.0.1"])
            dns.asked.append(host)
            return [
                (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (a, port))
                for a in dns.answers[host]
            ]
        return real(host, *args, **kwargs)

    dns.answers.clear()
    dns.asked.clear()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket, "getaddrinfo", rebinding)
        with django_capture_on_commit_callbacks(execute=True):
            submitted(civilian, inspection)
    assert no_connections == [(PUBLIC_V4, port)]  # the checked address, looked up once
    assert dns.asked == ["hooks.example.com"]
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING  # a refused connection: retried later
    assert delivery.last_error.startswith("ConnectionRefusedError")
    assert receiver.received == []


def test_the_name_stays_in_the_host_header(
    make_client: Any,
    reviewer: Any,
    civilian: Any,
    inspection: Any,
    receiver: Receiver,
    dns: FakeResolver,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.HMS_WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    dns.answers["hooks.example.com"] = ["127.0.0.1"]
    url = _subscribe_by_name(make_client, reviewer, receiver, "hooks.example.com")
    with django_capture_on_commit_callbacks(execute=True):
        submitted(civilian, inspection)
    (got,) = receiver.received
    assert got["headers"]["Host"] == url.split("/")[2]
    assert got["path"] == "/hooks"
    assert Delivery.objects.get().status == DeliveryStatus.DELIVERED
    assert dns.asked == ["hooks.example.com"]  # the worker's lookup only


def test_a_stored_http_target_is_refused_when_http_is_not_allowed(
    make_client: Any,
    reviewer: Any,
    civilian: Any,
    inspection: Any,
    settings: Any,
    no_connections: list[Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    Subscription.objects.create(
        client=make_client(reviewer).api_client,
        event_types=["request.submitted"],
        target_url=f"http://{PUBLIC_V4}/hooks",
    )
    settings.HMS_WEBHOOK_ALLOW_HTTP = False
    with django_capture_on_commit_callbacks(execute=True):
        submitted(civilian, inspection)
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.last_error == "target refused: the scheme must be https, not http"
    assert no_connections == []


def test_a_redirect_is_a_failed_attempt_and_not_followed(
    make_client: Any,
    reviewer: Any,
    civilian: Any,
    inspection: Any,
    receiver: Receiver,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.HMS_WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    assert _post(bearer(make_client(reviewer)), receiver.url).status_code == 201
    receiver.answers = [302]
    receiver.location = receiver.url.replace("/hooks", "/elsewhere")
    with django_capture_on_commit_callbacks(execute=True):
        submitted(civilian, inspection)
    assert [r["path"] for r in receiver.received] == ["/hooks"]
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING
    assert (delivery.last_status_code, delivery.last_error) == (302, "HTTP 302")
    assert delivery.attempt_log.get().status_code == 302


# --- HTTPS: the name in SNI and the certificate check ------------------------------------------


def _certificate(directory: Path, name: str) -> tuple[Path, Path]:
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def tls_receiver(tmp_path: Path) -> Iterator[tuple[int, list[str], Path]]:
    """An HTTPS receiver on 127.0.0.1 whose certificate names hooks.example.com: its port,
    the server names its clients asked for (SNI), and the certificate."""
    cert, key = _certificate(tmp_path, "hooks.example.com")
    names: list[str] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda sock, name, ctx: names.append(str(name)) and None

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], names, cert
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("name", "delivered"), [("hooks.example.com", True), ("other.example.com", False)]
)
def test_https_checks_the_certificate_for_the_name_not_the_address(
    make_client: Any,
    reviewer: Any,
    civilian: Any,
    inspection: Any,
    dns: FakeResolver,
    settings: Any,
    tls_receiver: tuple[int, list[str], Path],
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
    name: str,
    delivered: bool,
) -> None:
    port, names, cert = tls_receiver
    settings.HMS_WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    dns.answers[name] = ["127.0.0.1"]
    real = ssl.create_default_context
    monkeypatch.setattr(ssl, "create_default_context", lambda: real(cafile=str(cert)))
    response = _post(bearer(make_client(reviewer)), f"https://{name}:{port}/hooks")
    assert response.status_code == 201, response.content
    with django_capture_on_commit_callbacks(execute=True):
        submitted(civilian, inspection)
    delivery = Delivery.objects.get()
    assert names == [name]
    if delivered:
        assert (delivery.status, delivery.last_status_code) == (DeliveryStatus.DELIVERED, 204)
    else:
        assert delivery.status == DeliveryStatus.PENDING
        assert "certificate verify failed" in delivery.last_error


# --- The rules alone ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("93.184.215.14", None),
        (PUBLIC_V6, None),
        ("::ffff:93.184.215.14", None),
        ("::ffff:10.0.0.1", "private"),
        ("::ffff:169.254.169.254", "link-local"),
        ("64:ff9b::7f00:1", "loopback"),
        ("::127.0.0.1", "loopback"),
        ("0.1.2.3", "unspecified"),
        ("255.255.255.255", "reserved"),
        ("192.0.0.8", "reserved"),
        ("2001:db8::1", "documentation"),
        ("fec0::1", "private"),
        ("100.127.255.255", "shared"),
        ("100.128.0.0", None),
    ],
)
def test_address_kind(address: str, kind: str | None) -> None:
    import ipaddress

    assert targets.address_kind(ipaddress.ip_address(address)) == kind
