"""Supabase access tokens verified locally: the shared secret (HS256) and the
project's published keys (ES256 from a JWKS served by respx), and every way a
token must be refused."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import AsyncIterator

import httpx
import pytest
import respx
from pydantic import SecretStr

from cascadian.auth.jwks import Jwks, JwksUnavailable
from cascadian.auth.tokens import SignedInUser, TokenRefused, TokenVerifier
from tests.auth.tokens import (
    ALICE,
    BOB,
    ISSUER,
    JWKS_URL,
    KID,
    OTHER_EC_KEY,
    PINNED_JWKS,
    SECRET,
    es256,
    hs256,
    hs256_with,
    jwks,
    public_jwk,
    public_pem,
    resolver,
    unsigned,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def verifier(
    http: httpx.AsyncClient,
    clock: Clock | None = None,
    *,
    secret: str | None = SECRET,
    allow_anonymous: bool = False,
    timeout: float = 5.0,
) -> TokenVerifier:
    keys = Jwks(
        JWKS_URL,
        http,
        timeout_seconds=timeout,
        refresh_seconds=30.0,
        cache_seconds=600.0,
        monotonic=clock or Clock(),
        resolver=resolver,
    )
    return TokenVerifier(
        ISSUER,
        secret=SecretStr(secret) if secret else None,
        jwks=keys,
        leeway_seconds=30,
        allow_anonymous=allow_anonymous,
    )


async def refused(v: TokenVerifier, token: str) -> str:
    with pytest.raises(TokenRefused) as caught:
        await v.verify(token)
    return str(caught.value)


async def test_an_hs256_token_signed_with_the_jwt_secret_is_its_user(
    http: httpx.AsyncClient,
) -> None:
    user = await verifier(http).verify(hs256(BOB))
    assert user == SignedInUser(BOB, False, "5f2b1e8e-0000-4000-8000-000000000001")


@respx.mock
async def test_an_es256_token_is_verified_against_the_projects_jwks(
    http: httpx.AsyncClient,
) -> None:
    route = respx.get(PINNED_JWKS).mock(return_value=httpx.Response(200, json=jwks()))
    v = verifier(http)
    assert (await v.verify(es256(ALICE))).id == ALICE
    assert (await v.verify(es256(BOB))).id == BOB
    assert route.call_count == 1  # cached
    assert route.calls[0].request.headers["host"] == "abcdefghijklmnop.supabase.co"


async def test_an_expired_token_is_refused_past_the_leeway_only(http: httpx.AsyncClient) -> None:
    import time

    now = int(time.time())
    v = verifier(http)
    assert (await v.verify(hs256(exp=now - 10))).id == ALICE  # within 30 s of leeway
    assert await refused(v, hs256(exp=now - 120)) == "the token has expired"


async def test_a_token_not_yet_valid_is_refused(http: httpx.AsyncClient) -> None:
    import time

    assert await refused(verifier(http), hs256(nbf=int(time.time()) + 600)) == (
        "the token is not valid yet"
    )


async def test_another_projects_token_is_refused(http: httpx.AsyncClient) -> None:
    other = "https://someoneelse.supabase.co/auth/v1"
    assert await refused(verifier(http), hs256(iss=other)) == (
        "the token was not issued by this project"
    )


async def test_an_anon_key_or_service_role_token_is_refused(http: httpx.AsyncClient) -> None:
    v = verifier(http)
    assert "audience" in await refused(v, hs256(aud="anon", role="anon"))
    assert "role" in await refused(v, hs256(role="service_role"))
    assert "`sub`" in await refused(v, hs256(sub=None))
    assert "`aud`" in await refused(v, hs256(aud=None))


async def test_a_subject_that_is_not_a_uuid_is_refused(http: httpx.AsyncClient) -> None:
    assert await refused(verifier(http), hs256(sub="admin")) == (
        "the token's subject is not a user id"
    )


async def test_alg_none_is_refused(http: httpx.AsyncClient) -> None:
    assert "'none' is not accepted" in await refused(verifier(http), unsigned())


async def test_a_token_signed_with_another_secret_is_refused(http: httpx.AsyncClient) -> None:
    assert await refused(verifier(http), hs256(secret="x" * 40)) == (
        "the token's signature does not verify"
    )


@respx.mock
async def test_an_hs256_token_signed_with_the_public_key_is_refused(
    http: httpx.AsyncClient,
) -> None:
    """Algorithm confusion: the public key (which anyone can read from the JWKS) used
    as an HMAC secret. With no shared secret configured HS256 is not accepted at
    all; with one, the token is checked against the secret, never the public key."""
    respx.get(PINNED_JWKS).mock(return_value=httpx.Response(200, json=jwks()))
    jwk_text = json.dumps(public_jwk()).encode()
    for material in (public_pem(), jwk_text):
        token = hs256_with(material)
        assert "not accepted" in await refused(verifier(http, secret=None), token)
        assert "does not verify" in await refused(verifier(http), token)


@respx.mock
async def test_a_token_signed_by_a_key_the_project_does_not_publish_is_refused(
    http: httpx.AsyncClient,
) -> None:
    respx.get(PINNED_JWKS).mock(return_value=httpx.Response(200, json=jwks()))
    v = verifier(http)
    assert "does not verify" in await refused(v, es256(key=OTHER_EC_KEY))
    assert "names no signing key" in await refused(v, es256(kid=None))


@respx.mock
async def test_an_unknown_kid_refreshes_the_keys_at_most_once_per_refresh_period(
    http: httpx.AsyncClient,
) -> None:
    """A rotated key is picked up at once; a flood of made-up kids costs one fetch."""
    route = respx.get(PINNED_JWKS).mock(return_value=httpx.Response(200, json=jwks()))
    clock = Clock()
    v = verifier(http, clock)
    assert (await v.verify(es256())).id == ALICE
    route.mock(
        return_value=httpx.Response(
            200, json=jwks(public_jwk(), public_jwk(OTHER_EC_KEY, "rotated"))
        )
    )
    clock.now += 31
    assert (await v.verify(es256(key=OTHER_EC_KEY, kid="rotated"))).id == ALICE
    assert route.call_count == 2
    for n in range(20):  # within 30 s of the last fetch: none
        assert "not one of the project's" in await refused(v, es256(kid=f"made-up-{n}"))
    assert route.call_count == 2
    clock.now += 31
    for n in range(20):
        assert "not one of the project's" in await refused(v, es256(kid=f"made-up-{n}"))
    assert route.call_count == 3  # one refresh for the twenty, then none till 30 s pass
    clock.now += 31
    await refused(v, es256(kid="made-up-again"))
    assert route.call_count == 4


@respx.mock
async def test_a_jwks_endpoint_that_hangs_is_given_up_after_the_timeout(
    http: httpx.AsyncClient,
) -> None:
    started = asyncio.Event()

    async def hang(request: httpx.Request) -> httpx.Response:
        started.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    respx.get(PINNED_JWKS).mock(side_effect=hang)
    v = verifier(http, timeout=0.05)
    with pytest.raises(JwksUnavailable, match=r"did not answer within 0\.05 s"):
        await v.verify(es256())
    assert started.is_set()


@respx.mock
async def test_a_jwks_answer_that_is_a_decompression_bomb_is_cut_off(
    http: httpx.AsyncClient,
) -> None:
    bomb = gzip.compress(b'{"keys": [' + b" " * 50_000_000 + b"]}")
    respx.get(PINNED_JWKS).mock(
        return_value=httpx.Response(
            200,
            stream=httpx.ByteStream(bomb),
            headers={"content-encoding": "gzip", "content-type": "application/json"},
        )
    )
    with pytest.raises(JwksUnavailable, match="larger than the 65536-byte limit"):
        await verifier(http).verify(es256())


@respx.mock
async def test_a_failed_refresh_keeps_the_keys_already_held(http: httpx.AsyncClient) -> None:
    route = respx.get(PINNED_JWKS).mock(return_value=httpx.Response(200, json=jwks()))
    clock = Clock()
    v = verifier(http, clock)
    await v.verify(es256())
    route.mock(return_value=httpx.Response(503))
    clock.now += 601  # the cache is stale: a refresh is tried, fails, the old keys serve
    assert (await v.verify(es256(BOB))).id == BOB
    assert route.call_count == 2


async def test_a_jwks_url_on_a_private_address_is_refused_by_the_ssrf_guard(
    http: httpx.AsyncClient,
) -> None:
    async def private(host: str, port: int) -> list[str]:
        return ["10.0.0.5"]

    keys = Jwks(JWKS_URL, http, resolver=private)
    v = TokenVerifier(ISSUER, jwks=keys)
    with pytest.raises(JwksUnavailable, match="private address"):
        await v.verify(es256())


async def test_anonymous_users_get_what_the_settings_say(http: httpx.AsyncClient) -> None:
    token = hs256(is_anonymous=True)
    assert "anonymous users are not accepted" in await refused(verifier(http), token)
    user = await verifier(http, allow_anonymous=True).verify(token)
    assert user.is_anonymous and user.id == ALICE


async def test_garbage_is_not_a_jwt(http: httpx.AsyncClient) -> None:
    assert await refused(verifier(http), "not.a.jwt") == "the token is not a JWT"
    assert KID  # the helpers' key id is the one the JWKS names
