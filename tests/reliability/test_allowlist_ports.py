"""An allow-list entry opens what it names: a port-less entry the scheme's default port
only, `host:port` that port, `host:*` every port. Before, an entry opened every port
of its host, so allowing an internal web server also opened its database."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from pydantic import ValidationError

from cascadian.config import Settings
from cascadian.outbound.ssrf import UnsafeURL, check_url


def dns(table: dict[str, Sequence[str]]):  # type: ignore[no-untyped-def]
    async def resolve(host: str, port: int) -> Sequence[str]:
        return table[host]

    return resolve


INTERNAL = dns({"grafana.internal": ["10.0.0.7"]})


async def test_a_port_less_entry_opens_the_default_port_and_no_other() -> None:
    allow = ["grafana.internal"]
    assert await check_url("http://grafana.internal/", allow, resolver=INTERNAL)
    assert await check_url("https://grafana.internal:443/", allow, resolver=INTERNAL)
    with pytest.raises(UnsafeURL, match=r"add 'grafana\.internal:5432' or '10\.0\.0\.7/32:5432'"):
        await check_url("http://grafana.internal:5432/", allow, resolver=INTERNAL)


async def test_an_entry_with_a_port_opens_that_port_only() -> None:
    allow = ["grafana.internal:3000"]
    assert await check_url("http://grafana.internal:3000/d", allow, resolver=INTERNAL)
    for url in ("http://grafana.internal/", "http://grafana.internal:3001/"):
        with pytest.raises(UnsafeURL):
            await check_url(url, allow, resolver=INTERNAL)


async def test_a_star_opens_every_port() -> None:
    for port in (80, 3000, 5432):
        url = f"http://grafana.internal:{port}/"
        assert await check_url(url, ["grafana.internal:*"], resolver=INTERNAL)


async def test_networks_and_ipv6_addresses_take_ports_too() -> None:
    assert await check_url("http://10.1.2.3:8080/", ["10.0.0.0/8:8080"])
    with pytest.raises(UnsafeURL):
        await check_url("http://10.1.2.3:22/", ["10.0.0.0/8:8080"])
    with pytest.raises(UnsafeURL):
        await check_url("http://10.1.2.3:8080/", ["10.0.0.0/8"])
    assert await check_url("http://[fd00::1]:8080/", ["[fd00::1]:8080"])
    assert await check_url("http://[fd00::1]/", ["fd00::1"])
    with pytest.raises(UnsafeURL, match=r"'\[fd00::1/128\]:8080'"):
        await check_url("http://[fd00::1]:8080/", ["fd00::1"])


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ("grafana.internal:99999", "must be 1-65535 or *"),
        ("grafana.internal:http", "must be 1-65535 or *"),
        ("[fd00::1", "in brackets"),
        (":8080", "needs a host"),
        ("10.0.0.0/99", "neither a host name nor an address"),
    ],
)
def test_a_bad_entry_is_refused_at_start_up_naming_it(entry: str, problem: str) -> None:
    with pytest.raises(ValidationError) as info:
        Settings(CASCADIAN_HTTP_ALLOWLIST=f"ok.internal,{entry}", _env_file=None)  # type: ignore[call-arg]
    message = str(info.value)
    assert f"allow-list entry {entry!r}" in message and problem in message


def test_a_list_that_starts_with_a_bracketed_ipv6_entry_is_comma_separated() -> None:
    settings = Settings(CASCADIAN_HTTP_ALLOWLIST="[fd00::1]:8080, a.internal", _env_file=None)  # type: ignore[call-arg]
    assert settings.http_allowlist == ["[fd00::1]:8080", "a.internal"]
