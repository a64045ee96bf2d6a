"""Wallet metrics are kept in the database with a TTL and shared by every strategy
and worker: N strategies over the same wallets cause one upstream read per wallet
per TTL, on both schemas and through both transports."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
import respx

from cascadian.ports import FullStore
from tests.factories import rows
from tests.wallet_fixtures import CLOSED, HAND_POSITIONS, HAND_WALLET, NOW, wallet, wallet_data

WALLETS = [wallet(i) for i in range(1, 51)]


def at(when: datetime) -> Callable[[], datetime]:
    return lambda: when


def data_api() -> tuple[respx.MockRouter, httpx.AsyncClient]:
    """The Data API as respx routes: every wallet has the hand-worked closed positions."""
    router = respx.MockRouter(assert_all_called=False)
    router.get(CLOSED).respond(200, json=HAND_POSITIONS)
    return router, httpx.AsyncClient(transport=httpx.MockTransport(router.handler))


@pytest.mark.both_schemas
async def test_a_hundred_strategies_over_fifty_wallets_read_each_wallet_once_per_ttl(
    schema: str, any_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    router, http = data_api()
    async with http:
        # Two workers on one database, each with its own process-wide WalletData.
        workers = [wallet_data(http, any_store, limit=False) for _ in range(2)]
        first = workers[0]
        await asyncio.gather(*(first.metrics(WALLETS, at(NOW)) for _ in range(50)))
        await asyncio.gather(*(workers[1].metrics(WALLETS, at(NOW)) for _ in range(50)))
        assert router.routes[0].call_count == 50  # not 5,000
        assert sorted(first.fetched) == WALLETS and set(first.fetched.values()) == {1}
        assert workers[1].fetched == {}  # the second worker read them all from the database
        stored = rows(db, "select wallet, fetched_at from cascadian_wallet_metrics")
        assert len(stored) == 50 and {r["fetched_at"] for r in stored} == {NOW}

        within = NOW + timedelta(seconds=3599)
        await asyncio.gather(*(w.metrics(WALLETS, at(within)) for w in workers))
        assert router.routes[0].call_count == 50
        past = NOW + timedelta(seconds=3601)
        await asyncio.gather(*(w.metrics(WALLETS, at(past)) for w in workers for _ in range(50)))
        assert router.routes[0].call_count == 100  # one more read per wallet per TTL


@pytest.mark.both_schemas
async def test_metrics_read_back_from_the_database_are_the_ones_computed(
    schema: str, any_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    router, http = data_api()
    async with http:
        computed = await wallet_data(http, any_store).metrics([HAND_WALLET.upper()], at(NOW))
        read = await wallet_data(http, any_store).metrics([HAND_WALLET], at(NOW))
    assert router.routes[0].call_count == 1
    assert read == computed and list(read) == [HAND_WALLET]
    assert read[HAND_WALLET].to_output()["omega"] == 1.692308


@pytest.mark.both_schemas
async def test_one_reader_claims_a_stale_wallet_and_the_others_wait_for_it(
    schema: str, any_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    first = await any_store.claim_wallet_metrics([HAND_WALLET, WALLETS[0]], 60, 30, NOW)
    assert (first.fresh, first.claimed, first.busy) == ({}, sorted([HAND_WALLET, WALLETS[0]]), [])
    second = await any_store.claim_wallet_metrics([HAND_WALLET.upper()], 60, 30, NOW)
    assert (second.fresh, second.claimed, second.busy) == ({}, [], [HAND_WALLET])
    assert await any_store.put_wallet_metrics({HAND_WALLET: {"pnl_30d": "2"}}, NOW) == 1
    assert await any_store.release_wallet_metrics([WALLETS[0]]) == 1  # its read failed
    third = await any_store.claim_wallet_metrics([HAND_WALLET, WALLETS[0]], 60, 30, NOW)
    assert third.fresh == {HAND_WALLET: {"pnl_30d": "2"}}
    assert (third.claimed, third.busy) == ([WALLETS[0]], [])
    # A claim whose reader died expires with its lease; stale metrics are claimed again.
    later = await any_store.claim_wallet_metrics(
        [HAND_WALLET, WALLETS[0]], 60, 30, NOW + timedelta(seconds=61)
    )
    assert (later.fresh, later.claimed) == ({}, sorted([HAND_WALLET, WALLETS[0]]))


@pytest.mark.both_schemas
async def test_an_older_read_never_replaces_a_newer_one(
    schema: str, any_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    await any_store.put_wallet_metrics({HAND_WALLET: {"pnl_30d": "2"}}, NOW)
    written = await any_store.put_wallet_metrics(
        {HAND_WALLET: {"pnl_30d": "1"}}, NOW - timedelta(minutes=1)
    )
    assert written == 0
    fresh = await any_store.claim_wallet_metrics([HAND_WALLET], 60, 30, NOW)
    assert fresh.fresh == {HAND_WALLET: {"pnl_30d": "2"}}


async def test_a_ttl_of_zero_keeps_nothing_and_reads_every_time(
    store: FullStore, db: psycopg.Connection[Any]
) -> None:
    router, http = data_api()
    async with http:
        data = wallet_data(http, store, CASCADIAN_WALLET_METRICS_TTL_SECONDS=0)
        await data.metrics([HAND_WALLET], at(NOW))
        await data.metrics([HAND_WALLET], at(NOW))
    assert router.routes[0].call_count == 2
    assert rows(db, "select * from cascadian_wallet_metrics") == []
