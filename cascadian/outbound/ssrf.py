"""SSRF guard: refuse URLs whose host resolves to an address a strategy must not reach.

`check_url` resolves the host and refuses loopback, private, link-local, CGNAT,
multicast, unspecified, reserved and cloud-metadata addresses (IPv4-mapped and
other IPv6 forms embedding an IPv4 address are judged by that IPv4 address),
unless the host or the address, on that port, is on the operator's allow-list
(see allowlist.py: a port-less entry opens the default port only).

DNS rebinding (the name resolving to another address between check and connect)
is mitigated by `pinned_request`: it connects to the checked address and sends the
original name as Host header and TLS SNI, so the certificate is still verified
against the name. Known limits: only the first checked address is tried, and an
HTTP proxy configured on the client does its own connecting.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from cascadian.errors import OutboundError
from cascadian.outbound.allowlist import DEFAULT_PORTS, AllowEntry, parse_allowlist

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# (host, port) -> the addresses it resolves to, as strings.
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]

ALLOWLIST_SETTING = "CASCADIAN_HTTP_ALLOWLIST"
ALLOWED_SCHEMES = ("http", "https")
METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata"})
METADATA_ADDRESSES = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)
CGNAT = ipaddress.ip_network("100.64.0.0/10")
NAT64 = ipaddress.ip_network("64:ff9b::/96")


class UnsafeURL(OutboundError):
    """The URL points somewhere a strategy may not reach (scheme, host or address)."""


async def system_resolver(host: str, port: int) -> list[str]:
    """Resolve `host` with the event loop's getaddrinfo (runs in a thread)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    # IPv6 link-local results may carry a scope ("fe80::1%eth0"); the scope is irrelevant here.
    return list(dict.fromkeys(str(info[4][0]).split("%")[0] for info in infos))


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address a 6to4, Teredo or NAT64 address leads to, if any."""
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def blocked_reason(ip: IPAddress) -> str | None:
    """Why `ip` may not be reached ("a loopback address", ...), or None if it may."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:  # ::ffff:a.b.c.d is a.b.c.d on a dual-stack socket
            reason = blocked_reason(ip.ipv4_mapped)
            return f"{reason} (IPv4-mapped)" if reason else None
        inner = _embedded_ipv4(ip)
        inner_reason = blocked_reason(inner) if inner is not None else None
        if inner_reason:
            return f"{inner_reason} (embedded as {inner})"
    checks = (
        (ip in METADATA_ADDRESSES, "a cloud metadata address"),
        (ip.is_loopback, "a loopback address"),
        (ip.is_unspecified, "an unspecified address"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_multicast, "a multicast address"),
        (ip in CGNAT, "a shared (CGNAT) address"),
        (ip.is_reserved, "a reserved address"),
        (ip.is_private, "a private address"),
        (not ip.is_global, "not a globally routable address"),
    )
    return next((reason for hit, reason in checks if hit), None)


def _entries(allowlist: Iterable[str]) -> list[AllowEntry]:
    try:
        return parse_allowlist(allowlist)
    except ValueError as exc:  # the settings check this at start-up; here for direct callers
        raise OutboundError(f"{ALLOWLIST_SETTING}: {exc}") from None


def _host_allowed(host: str, scheme: str, port: int, entries: Sequence[AllowEntry]) -> bool:
    return any(e.host == host and e.permits_port(scheme, port) for e in entries)


def _address_allowed(ip: IPAddress, scheme: str, port: int, entries: Sequence[AllowEntry]) -> bool:
    return any(e.covers(ip) and e.permits_port(scheme, port) for e in entries)


@dataclass(frozen=True)
class SafeTarget:
    """A URL that passed the check, with the addresses it was checked against."""

    url: httpx.URL
    host: str
    addresses: tuple[IPAddress, ...]
    # False when the URL names an IP address itself: nothing was resolved, nothing to pin.
    resolved: bool = True

    @property
    def label(self) -> str:
        """The URL without credentials or query string, for messages."""
        return f"{self.url.scheme}://{self.url.netloc.decode('ascii')}{self.url.path}"


async def _resolve(host: str, port: int, resolver: Resolver) -> tuple[IPAddress, ...]:
    try:
        resolved = await resolver(host, port)
        addresses = tuple(dict.fromkeys(ipaddress.ip_address(a) for a in resolved))
    except (OSError, ValueError) as exc:
        raise OutboundError(f"Could not resolve host {host!r}: {exc}") from None
    if not addresses:
        raise OutboundError(f"Could not resolve host {host!r}: no addresses found.")
    return addresses


def _refuse(host: str, detail: str, allow_hint: str) -> UnsafeURL:
    return UnsafeURL(
        f"Refusing to connect to {host!r}: {detail}. Requests to private or internal "
        f"addresses are blocked; to allow this one, add {allow_hint} to {ALLOWLIST_SETTING}."
    )


async def check_url(
    url: str | httpx.URL, allowlist: Iterable[str] = (), resolver: Resolver | None = None
) -> SafeTarget:
    """Return the checked target of `url`, or raise UnsafeURL (OutboundError if
    unresolvable)."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise UnsafeURL(f"Invalid URL {str(url)[:200]!r}: {exc}") from None
    if parsed.scheme not in ALLOWED_SCHEMES:
        raise UnsafeURL(
            f"URL scheme {parsed.scheme!r} is not allowed; only http and https URLs can be fetched."
        )
    host = parsed.raw_host.decode("ascii").lower().rstrip(".")
    if not host:
        raise UnsafeURL(f"URL {str(url)[:200]!r} has no host.")
    entries = _entries(allowlist)
    port = parsed.port or DEFAULT_PORTS[parsed.scheme]
    host_allowed = _host_allowed(host, parsed.scheme, port, entries)
    # The hint names the port when it is not the default, as an entry must.
    on_port = "" if port == DEFAULT_PORTS[parsed.scheme] else f":{port}"
    if host in METADATA_HOSTS and not host_allowed:
        raise _refuse(host, "it is a cloud metadata endpoint", repr(f"{host}{on_port}"))

    try:
        addresses: tuple[IPAddress, ...] = (ipaddress.ip_address(host),)
        resolved = False
    except ValueError:
        addresses = await _resolve(host, port, resolver or system_resolver)
        resolved = True

    if not host_allowed:
        for ip in addresses:
            reason = blocked_reason(ip)
            if reason is None or _address_allowed(ip, parsed.scheme, port, entries):
                continue
            cidr = f"{ip}/{ip.max_prefixlen}" if ip.version == 4 else f"[{ip}/{ip.max_prefixlen}]"
            cidr += on_port
            if resolved:
                hint = f"{f'{host}{on_port}'!r} or {cidr!r}"
                raise _refuse(host, f"it resolves to {ip}, {reason}", hint)
            raise _refuse(host, f"it is {reason}", repr(cidr))
    return SafeTarget(url=parsed, host=host, addresses=addresses, resolved=resolved)


def pinned_request(
    target: SafeTarget,
    method: str,
    *,
    headers: dict[str, str] | None = None,
    json: Any = None,
    content: bytes | None = None,
    timeout: float | None = None,
) -> httpx.Request:
    """Build a request that connects to the checked address, not a fresh DNS answer.

    The Host header and TLS SNI keep the original name, so virtual hosting and
    certificate verification work as usual. `Connection: close` stops a pooled
    client from reusing this IP-keyed connection for a different host name.
    """
    extensions: dict[str, Any] = {}
    if timeout is not None:
        extensions["timeout"] = httpx.Timeout(timeout).as_dict()
    all_headers = httpx.Headers(headers)
    url = target.url
    if target.resolved:
        url = url.copy_with(host=str(target.addresses[0]))
        all_headers["Host"] = target.url.netloc.decode("ascii")
        all_headers["Connection"] = "close"
        if target.url.scheme == "https":
            extensions["sni_hostname"] = target.host
    return httpx.Request(
        method, url, headers=all_headers, json=json, content=content, extensions=extensions
    )
