"""The operator's allow-list (CASCADIAN_HTTP_ALLOWLIST): what private targets may be reached.

An entry is a host name, an IP address or a CIDR, with an optional port:

    grafana.internal          the scheme's default port only (80 for http, 443 for https)
    grafana.internal:3000     that port only
    grafana.internal:*        every port
    10.0.0.0/8:8080           addresses in the network, on that port
    [fd00::1]:8080            an IPv6 address with a port (brackets as in a URL)

A port-less entry opens the default port, not every port: allowing an internal web
server should not also open its database, SSH or admin ports.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ANY_PORT = "*"
DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class AllowEntry:
    host: str | None  # a host name, lower-case; None for an address or network entry
    network: Network | None
    port: int | str | None  # None: the scheme's default port; "*": any port

    def permits_port(self, scheme: str, port: int) -> bool:
        if self.port == ANY_PORT:
            return True
        return port == (DEFAULT_PORTS.get(scheme) if self.port is None else self.port)

    def covers(self, ip: IPAddress) -> bool:
        if self.network is None:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return ip.version == self.network.version and ip in self.network


def _split_port(entry: str) -> tuple[str, int | str | None]:
    if entry.startswith("["):  # [v6]:port or [v6/len]:port
        inside, bracket, rest = entry[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError("an IPv6 entry in brackets is [address]:port")
        return inside, _port(rest[1:]) if rest else None
    if entry.count(":") == 1:  # host:port, a.b.c.d:port or cidr:port; bare IPv6 has more
        host, _, port = entry.partition(":")
        return host, _port(port)
    return entry, None


def _port(text: str) -> int | str:
    if text == ANY_PORT:
        return ANY_PORT
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ValueError(f"port {text[:20]!r} must be 1-65535 or *")
    return int(text)


def parse_entry(raw: str) -> AllowEntry:
    """One entry, or ValueError saying what is wrong with it."""
    entry = raw.strip().lower()
    target, port = _split_port(entry)
    if not target:
        raise ValueError("an entry needs a host, an address or a CIDR before its port")
    try:
        return AllowEntry(None, ipaddress.ip_network(target, strict=False), port)
    except ValueError:
        pass
    if "/" in target or ":" in target:
        raise ValueError(f"{target[:80]!r} is neither a host name nor an address or CIDR")
    return AllowEntry(target.rstrip("."), None, port)


def parse_allowlist(entries: Iterable[str]) -> list[AllowEntry]:
    """Every non-blank entry; ValueError naming the first bad one."""
    parsed = []
    for raw in entries:
        if not raw.strip():
            continue
        try:
            parsed.append(parse_entry(raw))
        except ValueError as exc:
            raise ValueError(f"allow-list entry {raw.strip()[:80]!r}: {exc}") from None
    return parsed
