"""The markets of open positions, from Gamma by id (closed and not, at once), and
their tokens' best bids from one POST /books, in Polymarket's real shapes."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx
import pytest
import respx

from cascadian.workflow.market.positions import PositionMarkets, market_state
from cascadian.workflow.market.upstream import PolymarketError
from tests.polymarket_fixtures import CLOB, FED_TOKENS, KEYSET, load, market_data

CLOSED: dict[str, Any] = load("gamma_markets_by_id_closed.json")
OPEN: dict[str, Any] = load("gamma_markets_by_id_open.json")
BOOKS: list[dict[str, Any]] = load("clob_books.json")
YES, NO = FED_TOKENS
D = Decimal


def gamma_routes() -> tuple[respx.Route, respx.Route]:
    closed = respx.get(KEYSET, params={"closed": "true"}).respond(200, json=CLOSED)
    still_open = respx.get(KEYSET, params={"closed": "false"}).respond(200, json=OPEN)
    return closed, still_open


def positions(http: httpx.AsyncClient) -> PositionMarkets:
    return PositionMarkets.of(market_data(http))


@respx.mock
async def test_markets_are_asked_for_by_id_closed_and_not_in_one_request_each() -> None:
    closed, still_open = gamma_routes()
    async with httpx.AsyncClient() as http:
        states = await positions(http).market_states(["600002", "253591", "600001", "600003"])

    by_id = {s.market_id: s for s in states}
    assert by_id["600001"].payouts == (D(1), D(0))
    assert by_id["600002"].payouts == (D("0.5"), D("0.5"))
    assert by_id["600003"].payouts is None  # proposed, not final
    assert by_id["253591"].payouts is None and by_id["253591"].token_ids == (YES, NO)
    assert (closed.call_count, still_open.call_count) == (1, 1)
    sent = closed.calls.last.request.url.params
    assert sent.get_list("id") == ["253591", "600001", "600002", "600003"]
    assert sent["limit"] == "4"


@respx.mock
async def test_ids_gamma_cannot_know_are_not_sent() -> None:
    closed, still_open = gamma_routes()
    async with httpx.AsyncClient() as http:
        assert await positions(http).market_states(["m1", "0xabc"]) == []
    assert closed.call_count == still_open.call_count == 0


@respx.mock
async def test_many_markets_go_in_batches_of_a_hundred() -> None:
    closed, still_open = gamma_routes()
    async with httpx.AsyncClient() as http:
        await positions(http).market_states([str(i) for i in range(1, 251)])
    assert (closed.call_count, still_open.call_count) == (3, 3)


@respx.mock
async def test_a_reply_that_is_not_a_markets_page_is_an_error() -> None:
    respx.get(KEYSET).respond(200, json=[{"id": "1"}])
    async with httpx.AsyncClient() as http:
        with pytest.raises(PolymarketError, match="unexpected reply"):
            await positions(http).market_states(["1"])


@respx.mock
async def test_best_bids_come_from_one_books_request_whatever_the_level_order() -> None:
    books = respx.post(f"{CLOB}/books").respond(200, json=BOOKS)
    async with httpx.AsyncClient() as http:
        bids = await positions(http).best_bids([NO, YES, YES, "no-book"])
    assert bids == {YES: D("0.35"), NO: D("0.64")}
    assert books.call_count == 1
    assert json.loads(books.calls.last.request.content) == [
        {"token_id": t} for t in sorted({YES, NO, "no-book"})
    ]


@respx.mock
async def test_a_book_without_bids_gives_no_mark_and_a_refused_batch_none() -> None:
    empty = [BOOKS[0] | {"bids": []}, BOOKS[1] | {"bids": [{"price": "0.5", "size": "0"}]}]
    respx.post(f"{CLOB}/books").mock(
        side_effect=[httpx.Response(200, json=empty), httpx.Response(400, json={"error": "bad"})]
    )
    async with httpx.AsyncClient() as http:
        assert await positions(http).best_bids([YES, NO]) == {}
        assert await positions(http).best_bids([YES, NO]) == {}


def record(**fields: Any) -> dict[str, Any]:
    return CLOSED["markets"][0] | fields


@pytest.mark.parametrize(
    ("fields", "payouts"),
    [
        ({}, (D(1), D(0))),
        ({"outcomePrices": '["0", "1"]'}, (D(0), D(1))),
        ({"outcomePrices": '["0.5", "0.5"]'}, (D("0.5"), D("0.5"))),
        ({"umaResolutionStatus": None}, (D(1), D(0))),
        ({"umaResolutionStatus": "disputed"}, None),
        ({"umaResolutionStatus": "proposed"}, None),
        ({"closed": False}, None),
        ({"outcomePrices": '["0.999", "0.001"]'}, None),
        ({"outcomePrices": '["1", "1"]'}, None),
        ({"outcomePrices": '["1"]'}, None),
        ({"outcomePrices": "not json"}, None),
    ],
)
def test_a_market_has_resolved_when_closed_final_and_priced_at_its_payouts(
    fields: dict[str, Any], payouts: tuple[Decimal, ...] | None
) -> None:
    state = market_state(record(**fields))
    assert state is not None and state.payouts == payouts


def test_a_record_without_outcomes_or_with_mismatched_tokens_is_unreadable() -> None:
    assert market_state(record(outcomes="[]")) is None
    assert market_state(record(clobTokenIds='["1"]')) is None
    assert market_state(["not", "a", "record"]) is None
