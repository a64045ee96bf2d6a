"""Gamma's keyset listing: cursor paging up to the limit, an explicit order, the
server-side filters, and Polymarket's limits (429 with Retry-After, our own rate limit)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import httpx
import pytest
import respx

from cascadian.workflow.market import MarketQuery, PolymarketError
from tests.polymarket_fixtures import KEYSET, ONE_PAGE, PAGE1, PAGE2, market_data, rate_limited

CURSOR = PAGE1["next_cursor"]


@respx.mock
async def test_pages_are_followed_by_cursor_until_the_last_page_has_none() -> None:
    route = respx.get(KEYSET).mock(
        side_effect=[httpx.Response(200, json=PAGE1), httpx.Response(200, json=PAGE2)]
    )
    async with httpx.AsyncClient() as http:
        page = await market_data(http).markets(MarketQuery(), 500)
    first, second = (dict(call.request.url.params) for call in route.calls)
    assert first == {
        "active": "true", "closed": "false", "order": "volume24hr", "ascending": "false",
        "limit": "100",
    }  # fmt: skip
    assert second == first | {"after_cursor": CURSOR}
    assert "offset" not in str(route.calls[1].request.url)
    ids = ["253591", "501122", "517740", "530001", "530017", "488203"]
    assert [m.id for m in page.markets] == ids
    assert (page.skipped, page.pages) == (2, 2)


@respx.mock
async def test_paging_stops_once_the_limit_is_reached() -> None:
    route = respx.get(KEYSET).respond(200, json=PAGE1)
    async with httpx.AsyncClient() as http:
        page = await market_data(http).markets(MarketQuery(), 3)
    assert route.call_count == 1
    assert [m.id for m in page.markets] == ["253591", "501122", "517740"]


@respx.mock
async def test_a_repeated_cursor_or_a_page_of_nothing_new_ends_the_listing() -> None:
    route = respx.get(KEYSET).respond(200, json=PAGE1)  # the same cursor every time
    async with httpx.AsyncClient() as http:
        page = await market_data(http).markets(MarketQuery(), 500)
    assert route.call_count == 2  # the second page repeated the first: stop
    assert len(page.markets) == 4


@respx.mock
async def test_the_configured_page_size_is_what_each_page_asks_for() -> None:
    route = respx.get(KEYSET).respond(200, json=ONE_PAGE)
    async with httpx.AsyncClient() as http:
        await market_data(http, CASCADIAN_GAMMA_PAGE_SIZE=1000).markets(MarketQuery(), 10)
    assert route.calls.last.request.url.params["limit"] == "1000"


@respx.mock
async def test_every_server_side_filter_is_sent_with_gammas_names() -> None:
    route = respx.get(KEYSET).respond(200, json=ONE_PAGE)
    query = MarketQuery(
        archived=False,
        tag_id=2,
        liquidity_min=1000,
        liquidity_max=5e6,
        volume_min=10_000,
        volume_max=1e9,
        end_date_min=datetime(2026, 1, 1, tzinfo=UTC),
        end_date_max=datetime(2026, 6, 30, 12, tzinfo=UTC),
        order="liquidityNum",
        ascending=True,
    )
    async with httpx.AsyncClient() as http:
        await market_data(http).markets(query, 10)
    assert dict(route.calls.last.request.url.params) == {
        "active": "true", "closed": "false", "archived": "false", "tag_id": "2",
        "liquidity_num_min": "1000", "liquidity_num_max": "5000000.0",
        "volume_num_min": "10000", "volume_num_max": "1000000000.0",
        "end_date_min": "2026-01-01T00:00:00Z", "end_date_max": "2026-06-30T12:00:00Z",
        "order": "liquidityNum", "ascending": "true", "limit": "100",
    }  # fmt: skip


@respx.mock
async def test_a_429_is_retried_after_the_wait_it_asks_for() -> None:
    route = respx.get(KEYSET).mock(side_effect=[rate_limited(), httpx.Response(200, json=PAGE2)])
    waits: list[float] = []
    async with httpx.AsyncClient() as http:
        page = await market_data(http, waits).markets(MarketQuery(), 10)
    assert route.call_count == 2
    assert waits == [2.0]  # the fixture's Retry-After
    assert len(page.markets) == 2


@respx.mock
async def test_a_wait_for_the_rate_limit_past_the_deadline_fails_plainly() -> None:
    respx.get(KEYSET).respond(200, json=ONE_PAGE)
    async with httpx.AsyncClient() as http:
        data = market_data(http, CASCADIAN_GAMMA_RATE_LIMIT=1)
        await data.markets(MarketQuery(), 10, deadline=5.0)
        with pytest.raises(PolymarketError) as info:
            await data.markets(MarketQuery(tag_id=1), 10, deadline=5.0)
    assert "was not called: the client-side rate limit (1 requests per 10s)" in str(info.value)
    assert respx.calls.call_count == 1


@respx.mock
async def test_every_retry_counts_against_the_rate_limit() -> None:
    respx.get(KEYSET).mock(side_effect=[httpx.Response(502), httpx.Response(200, json=PAGE2)])
    async with httpx.AsyncClient() as http:
        data = market_data(http, CASCADIAN_GAMMA_RATE_LIMIT=1)
        with pytest.raises(PolymarketError, match="rate limit"):
            await data.markets(MarketQuery(), 10, deadline=5.0)  # the retry has no slot


@pytest.mark.parametrize(
    "answer",
    [ONE_PAGE["markets"], {"data": []}, {"markets": [], "next_cursor": 7}],
    ids=["a bare list", "no markets key", "a cursor that is not a string"],
)
@respx.mock
async def test_an_answer_that_is_not_the_keyset_envelope_is_reported(answer: object) -> None:
    respx.get(KEYSET).respond(200, json=answer)
    async with httpx.AsyncClient() as http:
        with pytest.raises(PolymarketError, match="sent an unexpected reply"):
            await market_data(http).markets(MarketQuery(), 10)


@respx.mock
async def test_a_deprecated_endpoint_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    headers = {
        "Deprecation": "true",
        "Sunset": "Fri, 01 May 2026 00:00:00 GMT",
        "Warning": '299 - "use /markets/keyset"',
    }
    respx.get(KEYSET).respond(200, json=ONE_PAGE, headers=headers)
    async with httpx.AsyncClient() as http:
        data = market_data(http, CASCADIAN_MARKET_CACHE_SECONDS=0)
        with caplog.at_level(logging.WARNING):
            await data.markets(MarketQuery(), 10)
            await data.markets(MarketQuery(), 10)
    [record] = [r for r in caplog.records if "deprecated" in r.getMessage()]
    assert "Sunset: Fri, 01 May 2026 00:00:00 GMT" in record.getMessage()
