"""Market records: Gamma's JSON-encoded strings and string amounts become typed fields;
records that do not fit are skipped and counted."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from cascadian.workflow.market import Market, parse_markets
from tests.polymarket_fixtures import FED_TOKENS, RECORDS

# The fields downstream nodes read today; new fields are added, none renamed.
CONTRACT = {
    "id", "question", "slug", "outcomes", "outcome_prices", "volume", "volume_24h",
    "liquidity", "end_date", "active", "closed", "yes_price",
}  # fmt: skip
TRADING = {
    "condition_id", "clob_token_ids", "best_bid", "best_ask", "spread", "last_trade_price",
    "accepting_orders", "enable_order_book", "neg_risk", "tick_size", "min_order_size",
    "category", "price_source",
}  # fmt: skip


def test_a_gamma_record_is_normalised_to_typed_fields() -> None:
    markets, _ = parse_markets(RECORDS)
    fed = markets[0]
    assert fed == Market(
        id="253591",
        question="Will the Fed cut interest rates at the December 2025 meeting?",
        slug="will-the-fed-cut-interest-rates-at-the-december-2025-meeting",
        outcomes=["Yes", "No"],
        outcome_prices=[0.355, 0.645],
        volume=2730514.338072,
        volume_24h=128441.61,
        liquidity=184302.5521,
        end_date=datetime(2025, 12, 10, 12, tzinfo=UTC),
        active=True,
        closed=False,
        condition_id="0x4a3c9d1e8f2b7a6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c",
        clob_token_ids=FED_TOKENS,
        best_bid=0.35,
        best_ask=0.36,
        spread=0.01,
        last_trade_price=0.355,
        accepting_orders=True,
        enable_order_book=True,
        neg_risk=False,
        tick_size=0.001,
        min_order_size=5,
        category="Economics",
    )
    assert fed.yes_price == 0.355
    assert fed.price_source == "gamma"


def test_the_output_keeps_every_field_downstream_nodes_read_and_adds_the_trading_ones() -> None:
    out = parse_markets(RECORDS)[0][0].to_output()
    assert set(out) == CONTRACT | TRADING
    assert out["end_date"] == "2025-12-10T12:00:00Z"
    assert out["clob_token_ids"] == FED_TOKENS


def test_malformed_and_partial_records_are_skipped_and_counted() -> None:
    markets, skipped = parse_markets(RECORDS)
    assert [m.id for m in markets] == ["253591", "501122", "517740", "530001", "530017", "488203"]
    assert skipped == 2


def test_missing_amounts_are_zero_and_missing_dates_tokens_and_quotes_are_none() -> None:
    markets = {m.id: m for m in parse_markets(RECORDS)[0]}
    assert markets["530001"].volume_24h == 0.0
    assert markets["530017"].end_date is None
    assert markets["517740"].outcomes == ["Democratic", "Republican", "Other"]
    assert markets["517740"].clob_token_ids == []
    assert markets["517740"].best_bid is None and markets["517740"].condition_id is None


@pytest.mark.parametrize(
    "change",
    [
        {"outcomePrices": '["0.5"]'},  # fewer prices than outcomes
        {"outcomePrices": '["1.5", "-0.5"]'},  # not probabilities
        {"outcomes": "Yes, No"},  # not JSON
        {"clobTokenIds": '["1"]'},  # fewer tokens than outcomes
        {"clobTokenIds": "[1, 2"},  # not JSON
        {"bestBid": 1.2},
        {"volume": "lots"},
        {"volume24hr": "NaN"},
        {"endDate": "someday"},
        {"id": None},
    ],
)
def test_records_with_bad_fields_are_skipped(change: dict[str, Any]) -> None:
    assert parse_markets([{**RECORDS[0], **change}]) == ([], 1)


@pytest.mark.parametrize("blank", [None, ""])
def test_a_market_without_an_order_book_has_no_tokens(blank: Any) -> None:
    [market], _ = parse_markets([{**RECORDS[0], "clobTokenIds": blank, "bestBid": ""}])
    assert market.clob_token_ids == [] and market.best_bid is None


def test_a_non_list_is_an_error() -> None:
    with pytest.raises(ValueError, match="expected a list"):
        parse_markets({"error": "nope"})
