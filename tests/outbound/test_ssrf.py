"""The SSRF guard: which URLs a strategy may fetch, and how the checked address is pinned."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

import pytest

from cascadian.errors import NodeError, OutboundError
from cascadian.outbound.ssrf import (
    Resolver,
    UnsafeURL,
    blocked_reason,
    check_url,
    pinned_request,
)

PUBLIC = "93.184.216.34"


def resolver(table: dict[str, Sequence[str]], calls: list[str] | None = None) -> Resolver:
    """A DNS stand-in: answers from `table`, fails like getaddrinfo for unknown names."""

    async def resolve(host: str, port: int) -> Sequence[str]:
        if calls is not None:
            calls.append(f"{host}:{port}")
        if host not in table:
            raise OSError(f"[Errno -2] Name or service not known: {host}")
        return table[host]

    return resolve


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1/", "loopback"),
        ("http://10.1.2.3:8080/admin", "private"),
        ("http://192.168.0.1/", "private"),
        ("http://172.16.5.4/", "private"),
        ("http://169.254.169.254/latest/meta-data/", "cloud metadata"),
        ("http://[::1]/", "loopback"),
        ("http://[fd00:ec2::254]/", "cloud metadata"),
        ("http://[fe80::1]/", "link-local"),
        ("http://[fc00::5]/", "private"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://100.64.0.9/", "CGNAT"),
        ("http://224.0.0.1/", "multicast"),
        ("http://240.0.0.1/", "reserved"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("http://[::ffff:10.0.0.1]/", "private"),
        ("http://[::ffff:169.254.169.254]/", "cloud metadata"),
        ("http://[64:ff9b::a00:1]/", "private"),  # NAT64 to 10.0.0.1
        ("http://[2002:7f00:1::]/", "loopback"),  # 6to4 via 127.0.0.1
    ],
)
async def test_refuses_addresses_a_strategy_must_not_reach(url: str, reason: str) -> None:
    calls: list[str] = []
    with pytest.raises(UnsafeURL, match=reason):
        await check_url(url, resolver=resolver({}, calls))
    assert calls == [], "an IP literal is judged without DNS"


async def test_refusal_says_which_host_address_why_and_how_to_allow() -> None:
    dns = resolver({"db.corp.example": ["10.0.0.7"]})
    with pytest.raises(UnsafeURL) as info:
        await check_url("https://db.corp.example/export", resolver=dns)
    message = str(info.value)
    assert "'db.corp.example'" in message
    assert "resolves to 10.0.0.7, a private address" in message
    assert "'10.0.0.7/32'" in message
    assert "CASCADIAN_HTTP_ALLOWLIST" in message


async def test_refuses_a_name_when_any_of_its_addresses_is_private() -> None:
    dns = resolver({"mixed.example": [PUBLIC, "192.168.1.10"]})
    with pytest.raises(UnsafeURL, match=r"192\.168\.1\.10"):
        await check_url("http://mixed.example/", resolver=dns)


async def test_refuses_a_name_resolving_to_an_ipv4_mapped_loopback() -> None:
    dns = resolver({"sneaky.example": ["::ffff:127.0.0.1"]})
    with pytest.raises(UnsafeURL, match="loopback"):
        await check_url("http://sneaky.example/", resolver=dns)


@pytest.mark.parametrize("host", ["metadata.google.internal", "METADATA.google.internal."])
async def test_refuses_the_metadata_host_by_name_without_resolving(host: str) -> None:
    calls: list[str] = []
    with pytest.raises(UnsafeURL, match="cloud metadata endpoint"):
        await check_url(f"http://{host}/computeMetadata/v1/", resolver=resolver({}, calls))
    assert calls == []


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/x", "gopher://a/"])
async def test_only_http_and_https_are_allowed(url: str) -> None:
    with pytest.raises(UnsafeURL, match="only http and https"):
        await check_url(url, resolver=resolver({}))


async def test_a_public_name_passes_with_its_checked_addresses() -> None:
    calls: list[str] = []
    dns = resolver({"api.example.com": [PUBLIC, PUBLIC, "2606:2800:220:1::1"]}, calls)
    target = await check_url("https://api.example.com/v1?q=1", resolver=dns)
    assert target.host == "api.example.com"
    assert [str(a) for a in target.addresses] == [PUBLIC, "2606:2800:220:1::1"]
    assert target.resolved
    assert target.label == "https://api.example.com/v1"
    assert calls == ["api.example.com:443"]


async def test_an_unresolvable_name_is_an_outbound_error_not_an_ssrf_refusal() -> None:
    with pytest.raises(OutboundError, match=r"Could not resolve host 'nowhere\.invalid'") as info:
        await check_url("http://nowhere.invalid/", resolver=resolver({}))
    assert not isinstance(info.value, UnsafeURL)


async def test_a_refusal_is_an_outbound_error_and_not_the_engines_node_error() -> None:
    with pytest.raises(UnsafeURL) as info:
        await check_url("http://127.0.0.1/", resolver=resolver({}))
    assert isinstance(info.value, OutboundError)
    assert not isinstance(info.value, NodeError)


async def test_allowlisted_host_name_may_resolve_to_a_private_address() -> None:
    dns = resolver({"grafana.internal": ["10.0.0.7"]})
    target = await check_url("http://grafana.internal/", ["Grafana.Internal"], resolver=dns)
    assert [str(a) for a in target.addresses] == ["10.0.0.7"]


async def test_allowlisted_cidr_permits_addresses_inside_it_only() -> None:
    allow = ["10.0.0.0/24"]
    assert (await check_url("http://10.0.0.9/", allow)).resolved is False
    with pytest.raises(UnsafeURL, match=r"10\.0\.1\.9"):
        await check_url("http://10.0.1.9/", allow)
    with pytest.raises(UnsafeURL, match="loopback"):
        await check_url("http://127.0.0.1/", allow)
    dns = resolver({"mapped.example": ["::ffff:10.0.0.9"]})
    assert (await check_url("http://mapped.example/", allow, resolver=dns)).resolved


def test_public_addresses_have_no_blocked_reason() -> None:
    for address in (PUBLIC, "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"):
        assert blocked_reason(ipaddress.ip_address(address)) is None


async def test_pinned_request_connects_to_the_checked_address_with_original_host_and_sni() -> None:
    dns = resolver({"api.example.com": [PUBLIC]})
    target = await check_url("https://api.example.com:8443/v1/data?x=1", resolver=dns)
    request = pinned_request(target, "GET", headers={"X-Key": "k"}, timeout=5)
    assert str(request.url) == f"https://{PUBLIC}:8443/v1/data?x=1"
    assert request.headers["host"] == "api.example.com:8443"
    assert request.headers["x-key"] == "k"
    assert request.extensions["sni_hostname"] == "api.example.com"
    assert request.extensions["timeout"]["read"] == 5


async def test_pinned_request_leaves_an_ip_literal_url_alone() -> None:
    target = await check_url(f"http://{PUBLIC}/x")
    request = pinned_request(target, "POST", json={"a": 1})
    assert str(request.url) == f"http://{PUBLIC}/x"
    assert "sni_hostname" not in request.extensions
    assert request.content == b'{"a":1}'
