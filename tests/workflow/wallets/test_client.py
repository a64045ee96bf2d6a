"""The Data API client: the leaderboard paged by cursor and capped by config, closed
positions paged by offset, 429 and 5xx retried, each route family within its own
rate limit, and bodies capped."""

from __future__ import annotations

import httpx
import pytest
import respx

from cascadian.workflow.market import PolymarketError
from cascadian.workflow.wallets import UniverseTooLarge
from tests.polymarket_fixtures import rate_limited
from tests.wallet_fixtures import (
    BOARD1,
    BOARD2,
    CLOSED,
    HAND_POSITIONS,
    HAND_WALLET,
    HOLDERS,
    LEADERBOARD,
    TRADES,
    wallet,
    wallet_data,
)

CURSOR = BOARD1["pagination"]["next_cursor"]


@respx.mock
async def test_the_leaderboard_is_followed_by_cursor_alone_until_the_last_page() -> None:
    route = respx.get(LEADERBOARD).mock(
        side_effect=[httpx.Response(200, json=BOARD1), httpx.Response(200, json=BOARD2)]
    )
    async with httpx.AsyncClient() as http:
        universe = await wallet_data(http).universe(50, window="week", category="crypto")
    first, second = (dict(call.request.url.params) for call in route.calls)
    assert first == {"time_period": "week", "category": "crypto", "sort_by": "PNL", "limit": "50"}
    assert second == {"cursor": CURSOR}  # a cursor pins its board: nothing restated
    assert [w.wallet for w in universe.wallets] == [
        wallet(1),
        "0xabcdef0000000000000000000000000000000002",
        wallet(3),
        wallet(4),
        wallet(5),
    ]
    top = universe.wallets[0]
    assert (str(top.pnl), str(top.volume), top.rank) == ("43000.25", "99000.50", 1)
    assert (universe.skipped, universe.pages) == (1, 2)


@respx.mock
async def test_the_leaderboard_stops_paging_once_it_has_the_wallets_asked_for() -> None:
    route = respx.get(LEADERBOARD).respond(200, json=BOARD1)
    async with httpx.AsyncClient() as http:
        universe = await wallet_data(http).universe(2)
    assert route.call_count == 1
    assert route.calls.last.request.url.params["limit"] == "2"
    assert len(universe.wallets) == 2


@respx.mock
async def test_more_wallets_than_the_cap_is_a_clear_error_before_any_request() -> None:
    route = respx.get(LEADERBOARD).respond(200, json=BOARD1)
    async with httpx.AsyncClient() as http:
        data = wallet_data(http, CASCADIAN_WALLET_UNIVERSE_MAX=100)
        with pytest.raises(UniverseTooLarge, match="CASCADIAN_WALLET_UNIVERSE_MAX") as caught:
            await data.universe(101)
    assert "101 wallets is more than" in str(caught.value)
    assert route.call_count == 0


@respx.mock
async def test_a_429_is_retried_after_the_seconds_retry_after_asks_for() -> None:
    route = respx.get(LEADERBOARD).mock(
        side_effect=[rate_limited(), httpx.Response(200, json=BOARD2)]
    )
    waits: list[float] = []
    async with httpx.AsyncClient() as http:
        universe = await wallet_data(http, waits=waits).universe(10)
    assert route.call_count == 2
    assert waits == [2.0]
    assert len(universe.wallets) == 2


@respx.mock
async def test_a_5xx_is_retried_and_a_4xx_is_not() -> None:
    respx.get(HOLDERS).mock(
        side_effect=[
            httpx.Response(502, text="bad gateway"),
            httpx.Response(200, json={"data": []}),
        ]
    )
    bad = respx.get(TRADES).respond(400, json={"error": "invalid user"})
    async with httpx.AsyncClient() as http:
        data = wallet_data(http)
        assert await data.holders("0x" + "1" * 64) == []
        with pytest.raises(PolymarketError, match="rejected the request: HTTP 400"):
            await data.trades("0xnot-a-wallet", 10)
    assert bad.call_count == 1


@respx.mock
async def test_closed_positions_are_paged_by_offset_fifty_at_a_time() -> None:
    full = [dict(HAND_POSITIONS[0], conditionId=f"0x{i:064x}") for i in range(50)]
    route = respx.get(CLOSED).mock(
        side_effect=[httpx.Response(200, json=full), httpx.Response(200, json=HAND_POSITIONS)]
    )
    async with httpx.AsyncClient() as http:
        positions = await wallet_data(http).client.closed_positions(HAND_WALLET, 500)
    offsets = [call.request.url.params["offset"] for call in route.calls]
    assert offsets == ["0", "50"]
    params = route.calls[0].request.url.params
    assert (params["user"], params["sortBy"], params["sortDirection"]) == (
        HAND_WALLET,
        "TIMESTAMP",
        "DESC",
    )
    assert len(positions) == 55


@respx.mock
async def test_each_route_family_has_its_own_rate_limit_below_the_published_one() -> None:
    closed = respx.get(CLOSED).respond(200, json=[])
    board = respx.get(LEADERBOARD).respond(200, json=BOARD2)
    async with httpx.AsyncClient() as http:
        data = wallet_data(
            http, CASCADIAN_DATA_API_POSITIONS_RATE_LIMIT=2, CASCADIAN_DATA_API_RATE_LIMIT=5
        )
        # The deadline is on the retry policy's clock, which stands at 0.
        for _ in range(2):
            await data.client.closed_positions(HAND_WALLET, 50, deadline=5.0)
        with pytest.raises(PolymarketError, match=r"rate limit \(2 requests per 10s\)"):
            await data.client.closed_positions(HAND_WALLET, 50, deadline=5.0)
        await data.universe(2, deadline=5.0)  # the general family still has room
    assert (closed.call_count, board.call_count) == (2, 1)


def test_the_default_limits_are_half_of_the_published_ones() -> None:
    from tests.wallet_fixtures import settings

    s = settings()
    assert (
        s.data_api_rate_limit,
        s.data_api_trades_rate_limit,
        s.data_api_positions_rate_limit,
    ) == (500, 100, 75)


@respx.mock
async def test_a_body_past_the_response_cap_is_refused_unread() -> None:
    huge = [HAND_POSITIONS[0]] * 2000
    respx.get(CLOSED).respond(200, json=huge)
    async with httpx.AsyncClient() as http:
        data = wallet_data(http, CASCADIAN_HTTP_MAX_RESPONSE_BYTES=10_000)
        with pytest.raises(PolymarketError, match="larger than the 10000-byte limit"):
            await data.client.closed_positions(HAND_WALLET, 50)


@respx.mock
async def test_an_answer_that_is_not_the_v2_envelope_says_so() -> None:
    respx.get(LEADERBOARD).respond(200, json=[{"proxy_wallet": wallet(1)}])
    async with httpx.AsyncClient() as http:
        with pytest.raises(PolymarketError, match="unexpected reply"):
            await wallet_data(http).universe(5)
