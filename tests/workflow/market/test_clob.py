"""Live CLOB prices by token id: batched, de-duplicated, shared, read defensively."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx

from cascadian.workflow.market import LiveQuote, PolymarketError, parse_markets
from cascadian.workflow.market.clob import BATCH
from tests.polymarket_fixtures import (
    BTC_TOKENS,
    CLOB,
    FED_TOKENS,
    MIDPOINTS,
    PRICES,
    RECORDS,
    market_data,
)

YES, NO = FED_TOKENS


def body(call: Any) -> Any:
    return json.loads(call.request.content)


@respx.mock
async def test_quotes_are_midpoints_with_buy_as_best_bid_and_sell_as_best_ask() -> None:
    mids = respx.post(f"{CLOB}/midpoints").respond(200, json=MIDPOINTS)
    prices = respx.post(f"{CLOB}/prices").respond(200, json=PRICES)
    async with httpx.AsyncClient() as http:
        quotes = await market_data(http).live_quotes([NO, YES, YES])
    assert quotes == {
        YES: LiveQuote(YES, midpoint=0.385, best_bid=0.38, best_ask=0.39),
        NO: LiveQuote(NO, midpoint=0.615, best_bid=0.61, best_ask=0.62),
    }
    ordered = sorted({YES, NO})
    assert body(mids.calls.last) == [{"token_id": t} for t in ordered]
    assert body(prices.calls.last) == [
        {"token_id": t, "side": s} for t in ordered for s in ("BUY", "SELL")
    ]


@respx.mock
async def test_many_tokens_go_in_batches() -> None:
    mids = respx.post(f"{CLOB}/midpoints").respond(200, json={})
    respx.post(f"{CLOB}/prices").respond(200, json={})
    tokens = [str(10**70 + i) for i in range(BATCH * 2 + 1)]
    async with httpx.AsyncClient() as http:
        assert await market_data(http).live_quotes(tokens) == {}
    assert [len(body(c)) for c in mids.calls] == [BATCH, BATCH, 1]


@respx.mock
async def test_the_same_tokens_asked_twice_within_the_ttl_are_read_once() -> None:
    mids = respx.post(f"{CLOB}/midpoints").respond(200, json=MIDPOINTS)
    respx.post(f"{CLOB}/prices").respond(200, json=PRICES)
    async with httpx.AsyncClient() as http:
        data = market_data(http)
        await data.live_quotes([YES, NO])
        await data.live_quotes([NO, YES])
    assert mids.call_count == 1


@respx.mock
async def test_prices_that_are_not_probabilities_and_tokens_without_a_book_are_left_out() -> None:
    respx.post(f"{CLOB}/midpoints").respond(200, json={YES: "1.7", NO: None})
    respx.post(f"{CLOB}/prices").respond(200, json={YES: {"BUY": "0.3", "SELL": "x"}})
    async with httpx.AsyncClient() as http:
        quotes = await market_data(http).live_quotes([YES, NO, BTC_TOKENS[0]])
    assert quotes == {YES: LiveQuote(YES, midpoint=None, best_bid=0.3, best_ask=None)}


@respx.mock
async def test_a_refused_batch_gives_its_tokens_no_quote() -> None:
    respx.post(f"{CLOB}/midpoints").respond(
        400, json={"error": "No orderbook exists for the requested token id"}
    )
    respx.post(f"{CLOB}/prices").respond(200, json=PRICES)
    async with httpx.AsyncClient() as http:
        assert await market_data(http).live_quotes([YES]) == {}


@respx.mock
async def test_an_unreachable_clob_fails_plainly() -> None:
    respx.post(f"{CLOB}/midpoints").mock(side_effect=httpx.ConnectError("Connection refused"))
    respx.post(f"{CLOB}/prices").respond(200, json=PRICES)
    async with httpx.AsyncClient() as http:
        with pytest.raises(PolymarketError, match=f"The Polymarket CLOB API at {CLOB} could not"):
            await market_data(http).live_quotes([YES])


@respx.mock
async def test_an_answer_that_is_not_a_map_by_token_is_reported() -> None:
    respx.post(f"{CLOB}/midpoints").respond(200, json=[MIDPOINTS])
    respx.post(f"{CLOB}/prices").respond(200, json=PRICES)
    async with httpx.AsyncClient() as http:
        with pytest.raises(PolymarketError, match="unexpected reply: expected an object"):
            await market_data(http).live_quotes([YES])


@respx.mock
async def test_live_prices_replace_gammas_where_every_outcome_has_a_midpoint() -> None:
    respx.post(f"{CLOB}/midpoints").respond(200, json={**MIDPOINTS, BTC_TOKENS[1]: None})
    respx.post(f"{CLOB}/prices").respond(200, json=PRICES)
    fed, btc, house, *_ = parse_markets(RECORDS)[0]
    async with httpx.AsyncClient() as http:
        priced = await market_data(http).with_live_prices([fed, btc, house])
    fed_live, btc_live, house_live = priced
    assert fed_live.outcome_prices == [0.385, 0.615] and fed_live.yes_price == 0.385
    assert (fed_live.best_bid, fed_live.best_ask, fed_live.spread) == (0.38, 0.39, 0.01)
    assert fed_live.price_source == "clob"
    assert btc_live == btc  # the No token has no midpoint: Gamma's prices, all of them
    assert house_live == house  # no tokens at all
