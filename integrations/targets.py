"""Which URLs a webhook may be sent to: public addresses only, checked after DNS.

A webhook target is chosen by an API client, so without a check the worker would connect
wherever the client points it (the database, Redis, a cloud metadata service) and the delivery
results would say which internal ports answer. The rules:

- the scheme is https (http only where the caller allows it: development and tests);
- the URL carries no user name or password;
- the host is a name or a canonical IP literal; numeric spellings the socket layer would also
  accept (`2130706433`, `0x7f.1`, `127.1`, `0177.0.0.1`) are refused whatever they mean;
- every address the host resolves to (`socket.getaddrinfo`, IPv4 and IPv6) is global unicast:
  no loopback, link-local, private, shared (100.64.0.0/10), multicast, unspecified, reserved,
  documentation or benchmarking address, also when written inside an IPv6 address
  (IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible, 6to4, NAT64).

`resolve_target` answers the checked addresses; the sender connects to one of those, never
resolving the name again, so a DNS answer that changes between the check and the connection
cannot swap in an internal address. Pure: no database, no settings (the caller passes them).
"""

from __future__ import annotations

import ipaddress
import socket
import urllib.parse
from dataclasses import dataclass, replace

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Checked in this order; the first that holds names the refusal. `is_global` catches the rest.
_SHARED = ipaddress.ip_network("100.64.0.0/10")
_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")
_BENCHMARKING = ipaddress.ip_network("198.18.0.0/15")
_DOCUMENTATION = tuple(
    ipaddress.ip_network(n)
    for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32", "3fff::/20")
)
_PRIVATE = tuple(
    ipaddress.ip_network(n)
    for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7", "fec0::/10")
)
_PROTOCOL_ASSIGNMENTS = ipaddress.ip_network("192.0.0.0/24")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")

KIND_PHRASES = {
    "unspecified": "an unspecified address",
    "loopback": "a loopback address",
    "link-local": "a link-local address",
    "private": "a private address",
    "shared": "in the shared address space 100.64.0.0/10",
    "multicast": "a multicast address",
    "documentation": "a documentation address",
    "benchmarking": "a benchmarking address",
    "reserved": "a reserved address",
}


class TargetRefused(ValueError):
    """A URL that is not an allowed webhook target. `reason` completes "The target must be a
    public HTTPS address: …"; `kind` says what was refused ("scheme", "credentials", "spelling",
    or for an address a key of `KIND_PHRASES`) and `address` names the refused address."""

    def __init__(self, reason: str, *, address: str = "", kind: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.address = address
        self.kind = kind


@dataclass(frozen=True)
class Target:
    """A checked target: where to connect and what to say there."""

    https: bool
    host: str  # the name (or literal) for the Host header, SNI and the certificate check
    port: int
    path: str  # with the query, if any
    addresses: tuple[str, ...]  # every address the host resolved to, each one checked


def address_kind(address: IPAddress) -> str | None:
    """Why `address` is not a public unicast address (a key of `KIND_PHRASES`), or None if it
    is one. An IPv4 address embedded in an IPv6 one is judged as itself."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        return address_kind(embedded)
    if address.is_unspecified or address in _THIS_NETWORK:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if address in _SHARED:
        return "shared"
    if address in _BENCHMARKING:
        return "benchmarking"
    if any(address in network for network in _DOCUMENTATION):
        return "documentation"
    if any(address in network for network in _PRIVATE):
        return "private"
    if address.is_reserved or not address.is_global or address in _PROTOCOL_ASSIGNMENTS:
        return "reserved"
    return None


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64 or (address in _IPV4_COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _describe(host: str, address: IPAddress) -> str:
    """The literal as the URL wrote it, with the IPv4 address inside it if it hides one."""
    embedded = _embedded_ipv4(address)
    return f"{host} ({embedded})" if embedded is not None and str(embedded) not in host else host


def check_form(url: str, *, allow_http: bool) -> Target:
    """The checks that need no DNS: scheme, credentials, a host, a canonical IP spelling.
    Returns the target without addresses; raises `TargetRefused`."""
    split = urllib.parse.urlsplit(url.strip())
    schemes = ("https", "http") if allow_http else ("https",)
    if split.scheme.lower() not in schemes:
        allowed = " or ".join(schemes)
        raise TargetRefused(
            f"the scheme must be {allowed}, not {split.scheme or 'none'}", kind="scheme"
        )
    if "@" in split.netloc:
        raise TargetRefused("the URL must not carry a user name or password", kind="credentials")
    host = (split.hostname or "").rstrip(".")
    if not host:
        raise TargetRefused("the URL has no host")
    try:
        port = split.port or (443 if split.scheme.lower() == "https" else 80)
    except ValueError:
        raise TargetRefused("the URL's port is not a number from 1 to 65535") from None
    _refuse_odd_numbers(host)
    path = (split.path or "/") + (f"?{split.query}" if split.query else "")
    return Target(split.scheme.lower() == "https", host, port, path, ())


def _refuse_odd_numbers(host: str) -> None:
    """Refuse a host the C library reads as an IPv4 address though it is not written as one
    (decimal, octal, hex or short forms)."""
    try:
        ipaddress.ip_address(host)
        return  # a canonical literal
    except ValueError:
        pass
    try:
        packed = socket.inet_aton(host)
    except (OSError, UnicodeError, ValueError):
        return  # a name
    meant = ipaddress.IPv4Address(packed)
    raise TargetRefused(
        f"{host} is a non-standard spelling of the IP address {meant}; write it as {meant}",
        kind="spelling",
    )


def resolve_target(url: str, *, allow_http: bool, allow_private: bool) -> Target:
    """Check `url` (see the module's rules) and resolve its host once; return the target with
    every address it resolved to. Raises `TargetRefused` for a refused URL or address, and
    `OSError` (`socket.gaierror`) when the name does not resolve: a lookup may work later."""
    return resolve(check_form(url, allow_http=allow_http), allow_private=allow_private)


def resolve(target: Target, *, allow_private: bool) -> Target:
    """Resolve the host of a `check_form` target once and check every address it resolves to
    (as `resolve_target`, for a caller that has checked the form already)."""
    infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    addresses = tuple(dict.fromkeys(str(sockaddr[0]) for *_, sockaddr in infos))
    if not addresses:
        raise socket.gaierror(socket.EAI_NONAME, f"no address for {target.host}")
    if not allow_private:
        for text in addresses:
            _check_address(target.host, text)
    return replace(target, addresses=addresses)


def _check_address(host: str, text: str) -> None:
    address = ipaddress.ip_address(text.split("%", 1)[0])
    kind = address_kind(address)
    if kind is None:
        return
    phrase = KIND_PHRASES[kind]
    if _is_literal(host):
        reason = f"{_describe(host, address)} is {phrase}"
    else:  # the address itself is not told: an internal name's address stays internal
        reason = f"{host} resolves to {phrase}"
    raise TargetRefused(reason, address=str(address), kind=kind)


def _is_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
