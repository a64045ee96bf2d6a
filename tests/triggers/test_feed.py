"""The market channel's frames read (feed.py), in the shapes Polymarket documents: each
message's prices as decimals, a resolution, PONG, and everything else dropped by
reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

from cascadian.triggers.feed import parse

NOW = datetime(2025, 9, 15, 4, 0, tzinfo=UTC)
TOKEN = "65818619657568813474341868652308942079804919287380422192892211131408793125422"


def prices(frame: object) -> list[tuple[str | None, str | None, Decimal | None]]:
    return [(o.token_id, o.price_kind, o.price) for o in parse(json.dumps(frame), NOW).observations]


def test_a_book_snapshot_gives_every_price_kind_of_its_token() -> None:
    book = {
        "event_type": "book",
        "asset_id": TOKEN,
        "market": "0xbd31",
        "bids": [{"price": ".48", "size": "30"}, {"price": ".49", "size": "20"}],
        "asks": [{"price": ".52", "size": "25"}, {"price": ".53", "size": "60"}],
        "timestamp": "1757908892351",
        "hash": "0x0",
        "last_trade_price": "0.50",
    }
    parsed = parse(json.dumps([book]), NOW)
    assert [(o.price_kind, o.price) for o in parsed.observations] == [
        ("best_bid", Decimal(".49")),
        ("best_ask", Decimal(".52")),
        ("midpoint", Decimal("0.505")),
        ("last_trade", Decimal("0.50")),
    ]
    # The frame's own time (within an hour of ours) is when the prices were seen.
    assert parsed.observations[0].observed_at == datetime(2025, 9, 15, 4, 1, 32, 351000, UTC)
    assert parsed.snapshots == 1


def test_price_changes_best_bid_ask_and_trades_give_their_prices() -> None:
    change = {
        "event_type": "price_change",
        "market": "0x5f65",
        "price_changes": [
            {
                "asset_id": TOKEN,
                "price": "0.5",
                "size": "200",
                "side": "BUY",
                "hash": "h",
                "best_bid": "0.5",
                "best_ask": "1",
            }
        ],
        "timestamp": "1757908892351",
    }
    assert prices(change) == [
        (TOKEN, "best_bid", Decimal("0.5")),
        (TOKEN, "best_ask", Decimal("1")),
        (TOKEN, "midpoint", Decimal("0.75")),
    ]
    quote = {
        "event_type": "best_bid_ask",
        "market": "0x0005",
        "asset_id": TOKEN,
        "best_bid": "0.73",
        "best_ask": "0.77",
        "spread": "0.04",
        "timestamp": "1",
    }
    assert prices(quote)[2] == (TOKEN, "midpoint", Decimal("0.75"))
    trade = {
        "event_type": "last_trade_price",
        "asset_id": TOKEN,
        "market": "0x6a67",
        "price": "0.456",
        "size": "219.217767",
        "fee_rate_bps": "0",
        "side": "BUY",
        "timestamp": "1750428146322",
        "transaction_hash": "0xeee",
    }
    assert prices(trade) == [(TOKEN, "last_trade", Decimal("0.456"))]


def test_a_resolution_names_its_market_and_winner() -> None:
    resolved = {
        "event_type": "market_resolved",
        "id": "1",
        "market": "0xc0",
        "assets_ids": [TOKEN, "2"],
        "winning_asset_id": TOKEN,
        "winning_outcome": "Yes",
        "timestamp": "1",
    }
    [o] = parse(json.dumps(resolved), NOW).observations
    assert (o.kind, o.condition_id, o.winning_token_id, o.winning_outcome) == (
        "resolved",
        "0xc0",
        TOKEN,
        "Yes",
    )


def test_pong_answers_and_bad_frames_are_dropped_by_reason() -> None:
    assert parse("PONG", NOW).pong
    assert parse("{", NOW).dropped == {"malformed": 1}
    assert parse(json.dumps({"event_type": "nope"}), NOW).dropped == {"unknown": 1}
    assert parse(json.dumps({"event_type": "new_market"}), NOW).dropped == {"ignored": 1}
    out_of_range = {"event_type": "last_trade_price", "asset_id": TOKEN, "price": "1.5"}
    assert parse(json.dumps(out_of_range), NOW).dropped == {"malformed": 1}
    assert parse("[" + "1," * 1_000_000 + "1]", NOW).dropped == {"oversized": 1}
